"""The network contract (pxcore.contract): declared attributes are read through their
Protocols, a mistyped one is reported by the conformance kit, absent ones give the
documented defaults, and the module itself needs no paddle."""

from __future__ import annotations

import subprocess
import sys

import paddle
import pytest
from paddle import nn

from pxcore.contract import (
    DEFAULT_LOSS_FIELDS,
    FORMS,
    Detector,
    FixesExportBatch,
    HasHead,
    NamesWeights,
    check_network,
    declared,
)


class Plain(nn.Layer):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)


class Declaring(Plain):
    head_prefixes = ("fc.",)
    unused_prefixes = ("old_head.",)
    loss_fields = ("gt_bbox", "gt_class", "gt_score", "gt_mask")
    export_batch_size = 1

    def weight_aliases(self):
        return {"fc_weights": "fc.weight", "fc_offset": "fc.bias", "old_head_w": "old_head.w"}


def test_declared_attributes_are_read_and_absent_ones_give_the_default():
    net, plain = Declaring(), Plain()
    assert isinstance(net, HasHead) and isinstance(net, NamesWeights)
    assert isinstance(net, FixesExportBatch) and not isinstance(plain, FixesExportBatch)
    assert declared(net, "loss_fields", DEFAULT_LOSS_FIELDS)[-1] == "gt_mask"
    assert declared(plain, "loss_fields", DEFAULT_LOSS_FIELDS) == DEFAULT_LOSS_FIELDS
    assert declared(plain, "export_batch_size") is None
    assert not isinstance(plain, Detector)
    assert check_network(net, "Declaring") == []
    with pytest.raises(KeyError):
        declared(net, "head_prefix")  # a misspelt name inside pxcore fails at once


@pytest.mark.parametrize(("name", "value"), [
    ("head_prefixes", "fc."),            # a string, not a tuple: would match any "f"/"c"/"." prefix
    ("unused_prefixes", ["fc.", 3]),
    ("loss_fields", "gt_bbox"),
    ("loss_weights", ()),
    ("loss_weights", (1.0, -0.4)),
    ("export_batch_size", 0),
    ("export_batch_size", True),
    ("output_names", [""]),
    ("deploy_ops", "multiclass_nms3"),
    ("legacy_export_refusal", "  "),
])
def test_a_declared_attribute_in_the_wrong_form_is_reported_by_name(name, value):
    net = Plain()
    setattr(net, name, value)
    problems = check_network(net, "Plain")
    assert len(problems) == 1 and problems[0].startswith(f"Plain: {name} must be {FORMS[name][1]}")


def test_prefixes_and_aliases_must_name_the_networks_own_tensors():
    net = Declaring()
    net.head_prefixes = ("classifier.",)
    net.weight_aliases = lambda: {"fc_weights": "fc.weight", "x": "fc.wieght"}
    problems = check_network(net, "Declaring")
    assert len(problems) == 2
    assert "head_prefixes ('classifier.',) match none" in problems[0]
    assert "weight_aliases() maps onto 1 names the network does not have, e.g. ['fc.wieght']" in problems[1]


def test_the_conformance_kit_fails_a_model_whose_contract_is_mistyped(good_plugin, monkeypatch):
    import pxcore.api
    from pxcore.plugins import get_registry
    from pxcore.testing import check_spec

    spec = get_registry().get("model", "FixtureNet_cls")
    check_spec(spec)  # as the fixture plugin declares it: passes
    built = pxcore.api.create_model

    def mistyped(*args, **kwargs):
        model = built(*args, **kwargs)
        model.net.head_prefixes = "head."
        return model

    monkeypatch.setattr(pxcore.api, "create_model", mistyped)
    with pytest.raises(AssertionError, match="head_prefixes must be a tuple of state-dict prefixes"):
        check_spec(spec)


def test_the_contract_module_imports_without_paddle():
    code = ("import sys; import pxcore.contract; "
            "assert 'paddle' not in sys.modules, 'paddle was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_weights_load_through_the_declared_aliases_and_head(tmp_path):
    from pxcore.weights import load_weights

    paddle.seed(0)
    net = Declaring()
    path = tmp_path / "w.pdparams"
    paddle.save({"fc_weights": paddle.ones([4, 3]), "fc_offset": paddle.zeros([3])}, str(path))
    load_weights(net, path)
    assert float(net.fc.weight.sum()) == 12.0
