"""Paddle 1.x variable names of DeepLabv3+ (PaddleX 1.3 / PaddleSeg legacy static
programs): the backbone keeps its classifier's names (``conv2_1_expand_weights``,
``xception_65/entry_flow/conv1/weights``, ``conv7_depthwise_bn_scale``; no classifier
head); the head's are its name scopes: ``<scope>/weights``, ``<scope>/biases``,
``<scope>/BatchNorm/{gamma,beta,moving_mean,moving_variance}``, with the scope the
module path (``encoder.aspp1.depthwise`` -> ``encoder/aspp1/depthwise``). A backbone's
``deeplab_extras`` are held under their Paddle 1.x scopes (MobileNetV3's ``conv_last``).

A backbone without Paddle 1.x names (no ``weight_aliases``: ResNet, a third party's)
leaves its tensors under their own keys; the head's are named all the same."""

from __future__ import annotations

from paddle import nn

from pxcore.nn.legacy import aliases_by_layer, check_coverage

HEAD_SCOPES = ("encoder", "decoder", "logit")
_CONV = {"weight": "weights", "bias": "biases"}
_BN = {"weight": "BatchNorm/gamma", "bias": "BatchNorm/beta", "_mean": "BatchNorm/moving_mean",
       "_variance": "BatchNorm/moving_variance"}


def head_aliases(net: nn.Layer) -> dict[str, str]:
    from .deeplabv3p import ConvBN, SumDecoder

    aliases: dict[str, str] = {}

    def add(scope: str, layer: nn.Layer, path: str, table: dict) -> None:
        for leaf in layer.state_dict(include_sublayers=False):
            aliases[f"{scope}/{table[leaf]}"] = f"{path}.{leaf}"

    for path, layer in net.named_sublayers():
        if not path.startswith(HEAD_SCOPES):
            continue
        scope = path.replace(".", "/")
        if isinstance(layer, ConvBN):
            add(scope, layer.conv, f"{path}.conv", _CONV)
            if layer.bn is not None:
                add(scope, layer.bn, f"{path}.bn", _BN)
        elif isinstance(layer, SumDecoder):  # its first conv sits in the decoder's scope
            add(scope, layer.conv, f"{path}.conv", _CONV)
    return aliases


def backbone_aliases(net: nn.Layer) -> dict[str, str]:
    """The backbone's Paddle 1.x names under ``backbone.``, less its classifier's, and
    those of the layers it added (``deeplab_extras``, e.g. MobileNetV3's ``conv_last``),
    named after their scopes; empty for a backbone without such names."""
    if not hasattr(net.backbone, "weight_aliases"):
        return {}
    keys = set(net.backbone.state_dict())
    aliases = {name: f"backbone.{key}" for name, key in net.backbone.weight_aliases().items()
               if key in keys}
    aliases.update(aliases_by_layer(net, [(name, name) for name, _, _ in net.encoder_kind.extras]))
    return aliases


def legacy_aliases(net: nn.Layer) -> dict[str, str]:
    """Every tensor of ``net`` once, or ValueError; only the head's when the backbone has
    no Paddle 1.x names."""
    aliases = backbone_aliases(net)
    for name, key in head_aliases(net).items():
        if name in aliases:
            raise ValueError(f"{type(net).__name__}: legacy name {name} given twice")
        aliases[name] = key
    if not hasattr(net.backbone, "weight_aliases"):
        return aliases
    return check_coverage(net, aliases)


# PaddleSeg 2.x's ConvBN / ConvBNReLU leaves -> ours
_LEAVES_2X = (("_conv.weight", "conv.weight"), ("_conv.bias", "conv.bias"),
              ("_batch_norm.weight", "bn.weight"), ("_batch_norm.bias", "bn.bias"),
              ("_batch_norm._mean", "bn._mean"), ("_batch_norm._variance", "bn._variance"))


def paddleseg_aliases(net: nn.Layer) -> dict[str, str]:
    """{PaddleSeg 2.x DeepLabV3P state-dict key: our key} (``paddleseg/models/deeplab.py``:
    ``backbone.*`` by the backbone's ``paddleseg_aliases``, ``head.aspp.aspp_blocks.<i>``
    the 1x1 and dilated branches in order, ``head.aspp.global_avg_pool.1`` the pooled conv,
    ``head.aspp.conv_bn_relu`` the projection, ``head.decoder.conv_bn_relu1..3`` and
    ``head.decoder.conv`` the decoder and logits); every tensor once, or ValueError."""
    if not hasattr(net.backbone, "paddleseg_aliases"):
        raise ValueError(f"{type(net.backbone).__name__} has no PaddleSeg 2.x names "
                         "(paddleseg_aliases); PaddleSeg's DeepLabV3P runs on its ResNet_vd")
    aliases = {f"backbone.{k}": f"backbone.{v}" for k, v in net.backbone.paddleseg_aliases().items()}
    paths = {"head.aspp.aspp_blocks.0": "encoder.aspp0",
             "head.aspp.global_avg_pool.1": "encoder.image_pool",
             "head.aspp.conv_bn_relu": "encoder.concat",
             "head.decoder.conv_bn_relu1": "decoder.concat"}
    for index in range(1, len(net.encoder.dilations) + 1):
        paths[f"head.aspp.aspp_blocks.{index}"] = f"encoder.aspp{index}"
    for index, conv in enumerate(net.decoder.convs, start=2):
        paths[f"head.decoder.conv_bn_relu{index}"] = _path(net, conv)
    for theirs, ours in list(paths.items()):
        if f"{ours}.depthwise.conv.weight" in net.state_dict():
            del paths[theirs]
            paths[f"{theirs}.depthwise_conv"] = f"{ours}.depthwise"
            paths[f"{theirs}.piontwise_conv"] = f"{ours}.pointwise"  # PaddleSeg's spelling
    keys = set(net.state_dict())
    aliases.update({f"{theirs}.{leaf}": f"{ours}.{key}" for theirs, ours in paths.items()
                    for leaf, key in _LEAVES_2X if f"{ours}.{key}" in keys})
    aliases.update({f"head.decoder.conv.{k}": f"logit.conv.{k}" for k in ("weight", "bias")})
    return check_coverage(net, aliases)


def _path(net: nn.Layer, layer: nn.Layer) -> str:
    return next(path for path, sub in net.named_sublayers() if sub is layer)
