"""The DeepLabv3+ rows take the zoo's weight layouts: the manifests that
tools/make_layouts.py wrote by running PaddleX 1.3's static program (every persistable
variable's name and shape, and equal logits with the same weights) against pxcore."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest

import pxcore
from pxcore.testing.layouts import check_weight_layouts, load_manifest, manifest_parameter_count
from pxcore.weights import write_legacy_tensor
from pxcore_deeplab.plugin import PADDLEX_SUFFIX, presets

LAYOUTS = Path(__file__).parent / "layouts"
ROWS = {("DeepLabv3_MobileNetV2_x1.0", "COCO"): 81, ("DeepLabv3_MobileNetV2_x1.0", "Cityscapes"): 19,
        ("DeepLabv3_Xception65", "COCO"): 81, ("DeepLabv3_Xception65", "Cityscapes"): 19,
        ("DeepLabv3_MobileNetV3_large_x1_0_ssld", "Cityscapes"): 19}
# Every row's names and shapes are checked fast (test_legacy_names_match_the_checked_snapshot);
# the file round trips of one row per architecture are, the others (Xception65's files are
# 165 MB a layout; the COCO rows differ only in the class count) are slow.
FAST_ROUND_TRIPS = [("DeepLabv3_MobileNetV2_x1.0", "Cityscapes"),
                    ("DeepLabv3_MobileNetV3_large_x1_0_ssld", "Cityscapes")]
SLOW_ROUND_TRIPS = [row for row in ROWS if row not in FAST_ROUND_TRIPS]


def _manifest(name: str, dataset: str) -> dict:
    return load_manifest(LAYOUTS / f"{name}-{dataset}.json")


def _build(name: str, classes: int):
    return pxcore.get_registry().get("model", name).build(num_classes=classes)


def test_every_row_has_a_manifest():
    """One per zoo row, and one per preset of PaddleX's own network (test_deeplab_paddlex)."""
    paddlex = [f"{name}.json" for name, *_ in presets() if name.endswith(PADDLEX_SUFFIX)]
    assert sorted(p.name for p in LAYOUTS.glob("*.json")) == sorted(
        [*(f"{n}-{d}.json" for n, d in ROWS), *paddlex])


@pytest.mark.parametrize(("name", "dataset"), list(ROWS))
def test_legacy_names_match_the_checked_snapshot(name, dataset):
    """A snapshot test: weight_aliases() and the state dict's shapes equal the manifest's.

    The manifest's "legacy" map was written from weight_aliases() itself by
    tools/make_layouts.py, which first required its names to be exactly the persistable
    variables of PaddleX 1.3.11's static DeepLabv3p program, at the shapes of the tensors
    they map to, and the same logits with the same weights (the manifest's "source").
    PaddleX cannot run here, so this test does not compare with the program: it fails
    when the names or shapes change from what was checked then, on purpose or not. A
    deliberate change needs make_layouts.py rerun against PaddleX, not the manifest
    edited to match."""
    manifest = _manifest(name, dataset)
    assert manifest["num_classes"] == ROWS[name, dataset]
    net = _build(name, ROWS[name, dataset])
    shapes = {k: list(v.shape) for k, v in net.state_dict().items()}
    assert shapes == manifest["pdparams"]
    assert net.weight_aliases() == manifest["legacy"]
    assert manifest_parameter_count(manifest) == sum(int(np.prod(s)) for s in shapes.values())
    assert any("PaddleSeg 2.x" in note for note in manifest["notes"])  # 2.x names: not supported


@pytest.mark.parametrize(("name", "dataset"), FAST_ROUND_TRIPS)
def test_takes_the_official_weight_layouts(name, dataset, tmp_path):
    check_weight_layouts(_manifest(name, dataset), tmp_path, task="semantic_segmentation",
                         dataset=dataset)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "dataset"), SLOW_ROUND_TRIPS)
def test_takes_the_official_weight_layouts_of_the_other_rows(name, dataset, tmp_path):
    check_weight_layouts(_manifest(name, dataset), tmp_path, task="semantic_segmentation",
                         dataset=dataset)


def _legacy_archive(manifest: dict, folder: Path, extra: dict | None = None, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    state = {k: rng.standard_normal(s).astype("float32") for k, s in manifest["pdparams"].items()}
    folder.mkdir(parents=True)
    for legacy, key in manifest["legacy"].items():
        write_legacy_tensor(folder / legacy, state[key])
    for legacy, value in (extra or {}).items():
        write_legacy_tensor(folder / legacy, value)
    return state


def test_archive_with_optimizer_state_loads(tmp_path):
    """The zoo's archives keep momentum velocities and the learning-rate counter
    (Xception65's 329.3 MB); loading skips them."""
    manifest = _manifest("DeepLabv3_MobileNetV3_large_x1_0_ssld", "Cityscapes")
    extra = {f"{legacy}_velocity_0": np.zeros([2], "float32") for legacy in list(manifest["legacy"])[:5]}
    extra["@LR_DECAY_COUNTER@"] = np.zeros([1], "float32")
    folder = tmp_path / "deeplabv3p_mobilenetv3_large_cityscapes"
    state = _legacy_archive(manifest, folder, extra)
    archive = tmp_path / "deeplabv3p_mobilenetv3_large_cityscapes.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    model = pxcore.create_model("DeepLabv3_MobileNetV3_large_x1_0_ssld", pretrained=archive,
                                task="semantic_segmentation", dataset="Cityscapes")
    loaded = model.net.state_dict()
    for key, value in state.items():
        assert np.array_equal(loaded[key].numpy(), value), key


@pytest.mark.parametrize("name", ["DeepLabv3_MobileNetV2_x1.0", "DeepLabv3_MobileNetV3_large_x1_0_ssld"])
def test_other_class_count_reinitialises_only_the_head(name, tmp_path):
    """COCO (81-class) weights for a 5-class model: everything but the class layers
    (logit, or the sum-merge decoder's convs) loads."""
    dataset = "COCO" if (name, "COCO") in ROWS else "Cityscapes"
    manifest = _manifest(name, dataset)
    state = _legacy_archive(manifest, tmp_path / "weights")
    model = pxcore.create_model(name, num_classes=5, pretrained=tmp_path / "weights",
                                task="semantic_segmentation", dataset=dataset)
    loaded = model.net.state_dict()
    head = model.net.head_prefixes
    for key, value in state.items():
        if key.startswith(head):
            assert loaded[key].shape[0] == 5, key
        else:
            assert np.array_equal(loaded[key].numpy(), value), key
