"""Conventions chosen from the weights' origin (pxcore.conventions, pxcore.weights.read_weights):
which layout a weight file is, and which build arguments a Paddle 1.x archive of a zoo row
picks. The networks' own options are tested in their plugins (HRNet's fusions, R-CNN's
box, anchor and RoIAlign conventions)."""

from __future__ import annotations

import tarfile
from types import SimpleNamespace

import numpy as np
import pytest

from pxcore import conventions
from pxcore.weights import PADDLE1, PDPARAMS, read_weights, write_legacy_tensor
from pxcore.zoo import ZooEntry


def _row(**legacy):
    return ZooEntry(name="ConvNet", task="classification", dataset="ImageNet", num_classes=10,
                    metrics={"top1": None}, legacy_args=legacy)


SPEC = SimpleNamespace(name="ConvNet", defaults={"width": 8, "mode": "new"})


def test_read_weights_names_the_layout(tmp_path):
    import paddle

    value = np.arange(6, dtype="float32").reshape(2, 3)
    folder = tmp_path / "legacy"
    folder.mkdir()
    write_legacy_tensor(folder / "conv1_weights", value)
    with tarfile.open(tmp_path / "legacy.tar", "w") as archive:
        archive.add(folder, arcname="legacy")
    paddle.save({"conv1.weight": paddle.to_tensor(value)}, str(tmp_path / "w.pdparams"))
    saved = tmp_path / "saved"
    saved.mkdir()
    paddle.save({"conv1.weight": paddle.to_tensor(value)}, str(saved / "model.pdparams"))
    for path, layout in ((folder, PADDLE1), (tmp_path / "legacy.tar", PADDLE1),
                         (tmp_path / "w.pdparams", PDPARAMS), (saved, PDPARAMS)):
        state, found = read_weights(path)
        assert found == layout, path
        np.testing.assert_array_equal(next(iter(state.values())), value)


def test_a_paddle1_archive_picks_the_rows_legacy_args_and_named_ones_win():
    row = _row(mode="old", align=True)
    assert conventions.choose(row, SPEC, PADDLE1, {}) == {"mode": "old", "align": True}
    assert conventions.choose(row, SPEC, PADDLE1, {"mode": "new"}) == {"align": True}
    assert conventions.choose(row, SPEC, PDPARAMS, {}) == {}
    assert conventions.choose(_row(), SPEC, PADDLE1, {}) == {}


def test_a_presets_own_name_takes_what_its_rows_agree_on(monkeypatch):
    from pxcore import zoo

    rows = [SimpleNamespace(model="ConvNet", legacy_args={"mode": "old"}),
            SimpleNamespace(model="Other", legacy_args={"mode": "older"})]
    monkeypatch.setattr(zoo, "catalog", lambda: rows)
    assert conventions.legacy_args(None, SPEC) == {"mode": "old"}
    rows.append(SimpleNamespace(model="ConvNet", legacy_args={"mode": "oldest"}))
    assert conventions.legacy_args(None, SPEC) == {}  # they differ: none is guessed


@pytest.mark.parametrize(("built", "expected"), [
    ({"mode": "new"}, {"mode": ("new", "old")}),
    ({"mode": "old"}, {}),
    ({}, {"mode": ("new", "old")}),  # the preset's default
])
def test_mismatches_name_what_an_already_built_network_lacks(built, expected):
    assert conventions.mismatches(_row(mode="old"), SPEC, PADDLE1, built) == expected
    assert conventions.mismatches(_row(mode="old"), SPEC, PDPARAMS, built) == {}
