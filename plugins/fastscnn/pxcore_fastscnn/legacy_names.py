"""Paddle 1.x static variable names of Fast-SCNN (PaddleX 1.x
``cv/nets/segmentation/fast_scnn.py``, PaddleSeg legacy ``models/modeling/fast_scnn.py``).

Two conventions meet there: ``model_utils.libs``' scoped names
(``learning_to_downsample/dsconv1/depthwise/BatchNorm/gamma``) and the inverted
residuals' ``conv_bn_layer`` names, which ignore the scopes
(``inverted_block_2_3_dwise_weights``, ``..._bn_scale`` / ``_offset`` / ``_mean`` /
``_variance``).
"""

from __future__ import annotations

_BN = {"gamma": "weight", "beta": "bias", "moving_mean": "_mean", "moving_variance": "_variance"}
_BN_FLAT = {"scale": "weight", "offset": "bias", "mean": "_mean", "variance": "_variance"}


def _conv_bn(scope: str, ours: str, bias: bool = False) -> dict[str, str]:
    names = {f"{scope}/weights": f"{ours}.conv.weight"}
    if bias:
        names[f"{scope}/biases"] = f"{ours}.conv.bias"
    names.update({f"{scope}/BatchNorm/{theirs}": f"{ours}.bn.{key}" for theirs, key in _BN.items()})
    return names


def _separable(scope: str, ours: str) -> dict[str, str]:
    return {**_conv_bn(f"{scope}/depthwise", f"{ours}.depthwise"),
            **_conv_bn(f"{scope}/pointwise", f"{ours}.pointwise")}


def _aux(scope: str, ours: str) -> dict[str, str]:
    return {**_conv_bn(scope, f"{ours}.conv"), f"{scope}/logit/weights": f"{ours}.logit.weight",
            f"{scope}/logit/biases": f"{ours}.logit.bias"}


def static_names(net) -> dict[str, str]:
    """{static variable name: state-dict key} for every tensor of ``net``."""
    names = {**_conv_bn("learning_to_downsample", "downsample"),
             **_separable("learning_to_downsample/dsconv1", "dsconv1"),
             **_separable("learning_to_downsample/dsconv2", "dsconv2")}
    for s, stage in enumerate(net.bottlenecks):
        for b in range(len(stage)):
            for part in ("expand", "dwise", "linear"):
                theirs, ours = f"inverted_block_{s + 1}_{b + 1}_{part}", f"bottlenecks.{s}.{b}.{part}"
                names[f"{theirs}_weights"] = f"{ours}.conv.weight"
                names.update({f"{theirs}_bn_{k}": f"{ours}.bn.{v}" for k, v in _BN_FLAT.items()})
    for i, cells in enumerate(net.psp.bins):
        names.update(_conv_bn(f"global_feature_extractor/psp{cells}", f"psp.stages.{i}"))
    names.update(_conv_bn("global_feature_extractor/out", "psp_out"))
    names.update(_conv_bn("feature_fusion/dwconv", "fusion_lower"))
    names.update(_conv_bn("feature_fusion/conv_lower_res", "fusion_lower_linear", bias=True))
    names.update(_conv_bn("feature_fusion/conv_higher_res", "fusion_higher", bias=True))
    names.update(_separable("classifier/dsconv1", "classifier.dsconv1"))
    names.update(_separable("classifier/dsconv2", "classifier.dsconv2"))
    names.update({"classifier/weights": "classifier.logit.weight",
                  "classifier/biases": "classifier.logit.bias"})
    if hasattr(net, "aux_higher"):
        names.update(_aux("aux_layer_higher", "aux_higher"))
    if hasattr(net, "aux_lower"):
        names.update(_aux("aux_layer_lower", "aux_lower"))
    return names
