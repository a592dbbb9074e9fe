"""Paddle 1.x static variable names of Fast-SCNN (PaddleX 1.x
``cv/nets/segmentation/fast_scnn.py``, PaddleSeg legacy ``models/modeling/fast_scnn.py``).

Two conventions meet there: ``model_utils.libs``' scoped names
(``learning_to_downsample/dsconv1/depthwise/BatchNorm/gamma``) and the inverted
residuals' ``conv_bn_layer`` names, which ignore the scopes
(``inverted_block_2_3_dwise_weights``, ``..._bn_scale`` / ``_offset`` / ``_mean`` /
``_variance``).

PaddleSeg 2.x's FastSCNN (``paddleseg_names``) keeps module paths: ``learning_to_downsample.
dsconv_bn_relu1.depthwise_conv._conv.weight``, ``global_feature_extractor.bottleneck2.0.
block.1._batch_norm._mean``, ``feature_fusion.dwconv``, ``classifier.conv.bias``.
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


_LEAVES_2X = (("_conv.weight", "conv.weight"), ("_conv.bias", "conv.bias"),
              ("_batch_norm.weight", "bn.weight"), ("_batch_norm.bias", "bn.bias"),
              ("_batch_norm._mean", "bn._mean"), ("_batch_norm._variance", "bn._variance"))


def paddleseg_names(net) -> dict[str, str]:
    """{PaddleSeg 2.x FastSCNN state-dict key: our key} (``net`` of variant "paddleseg");
    a leaf our layer lacks (a bias-free conv) is left out."""
    paths = {"learning_to_downsample.conv_bn_relu": "downsample",
             "global_feature_extractor.ppm.conv_bn_relu2": "psp_out",
             "feature_fusion.dwconv": "fusion_lower",
             "feature_fusion.conv_low_res": "fusion_lower_linear",
             "feature_fusion.conv_high_res": "fusion_higher"}
    for theirs, ours in (("learning_to_downsample.dsconv_bn_relu1", "dsconv1"),
                         ("learning_to_downsample.dsconv_bn_relu2", "dsconv2"),
                         ("classifier.dsconv1", "classifier.dsconv1"),
                         ("classifier.dsconv2", "classifier.dsconv2")):
        paths[f"{theirs}.depthwise_conv"] = f"{ours}.depthwise"
        paths[f"{theirs}.piontwise_conv"] = f"{ours}.pointwise"  # PaddleSeg's spelling
    for k, stage in enumerate(net.bottlenecks):
        for i in range(len(stage)):
            for j, ours in enumerate(("expand", "dwise", "linear")):
                paths[f"global_feature_extractor.bottleneck{k + 1}.{i}.block.{j}"] = f"bottlenecks.{k}.{i}.{ours}"
    for s in range(len(net.psp.stages)):
        paths[f"global_feature_extractor.ppm.stages.{s}.1"] = f"psp.stages.{s}"
    keys = set(net.state_dict())
    names = {f"{theirs}.{leaf}": f"{ours}.{key}" for theirs, ours in paths.items()
             for leaf, key in _LEAVES_2X if f"{ours}.{key}" in keys}
    names.update({f"classifier.conv.{k}": f"classifier.logit.{k}" for k in ("weight", "bias")})
    return names
