"""Paddle 1.x static variable names of UNet (PaddleX 1.x ``cv/nets/segmentation/unet.py``,
PaddleSeg legacy ``models/modeling/unet.py``): name scopes joined with "/".

    encode/block1/conv0/weights                  encode.0.conv0.conv.weight
    encode/block2/down/conv1/BatchNorm/gamma     encode.1.conv1.bn.weight
    decode/decode1/up/weights                    decode.0.deconv.weight  (deconv mode)
    decode/decode1/up/conv0/BatchNorm/moving_mean decode.0.convs.conv0.bn._mean
    logit/weights                                logit.weight

PaddleSeg 2.x's UNet (``paddleseg_names``, a PaddleX 2.x ``model.pdparams``):

    encode.double_conv.0._conv.bias              encode.0.conv0.conv.bias
    encode.down_sample_list.0.2._batch_norm._mean encode.1.conv1.bn._mean
    decode.up_sample_list.0.deconv.weight        decode.0.deconv.weight
    decode.up_sample_list.0.double_conv.1._conv.weight decode.0.convs.conv1.conv.weight
    cls.weight                                   logit.weight
"""

from __future__ import annotations

_BN_2X = ("weight", "bias", "_mean", "_variance")
_BN = {"gamma": "weight", "beta": "bias", "moving_mean": "_mean", "moving_variance": "_variance"}


def _double_conv(scope: str, ours: str) -> dict[str, str]:
    names = {}
    for conv in ("conv0", "conv1"):
        names[f"{scope}/{conv}/weights"] = f"{ours}.{conv}.conv.weight"
        for theirs, key in _BN.items():
            names[f"{scope}/{conv}/BatchNorm/{theirs}"] = f"{ours}.{conv}.bn.{key}"
    return names


def static_names(net) -> dict[str, str]:
    """{static variable name: state-dict key} for every tensor of ``net``."""
    names = {}
    for i in range(len(net.encode)):
        scope = f"encode/block{i + 1}" + ("/down" if i else "")
        names.update(_double_conv(scope, f"encode.{i}"))
    for i, up in enumerate(net.decode):
        scope = f"decode/decode{i + 1}/up"
        if up.mode == "deconv":
            names[f"{scope}/weights"] = f"decode.{i}.deconv.weight"
        names.update(_double_conv(scope, f"decode.{i}.convs"))
    names["logit/weights"] = "logit.weight"
    return names


def _conv_bn_2x(theirs: str, ours: str) -> dict[str, str]:
    """PaddleSeg 2.x's ``layers.ConvBNReLU`` (``_conv``, ``_batch_norm``) -> ours."""
    names = {f"{theirs}._conv.{k}": f"{ours}.conv.{k}" for k in ("weight", "bias")}
    names.update({f"{theirs}._batch_norm.{k}": f"{ours}.bn.{k}" for k in _BN_2X})
    return names


def paddleseg_names(net) -> dict[str, str]:
    """{PaddleSeg 2.x UNet state-dict key: our key} (``net`` built with conv_bias)."""
    names = {}
    for i in range(len(net.encode)):
        scope = "encode.double_conv" if i == 0 else f"encode.down_sample_list.{i - 1}"
        first = 0 if i == 0 else 1  # index 0 of a down-sampling block is its max pool
        for j in (0, 1):
            names.update(_conv_bn_2x(f"{scope}.{first + j}", f"encode.{i}.conv{j}"))
    for i, up in enumerate(net.decode):
        scope = f"decode.up_sample_list.{i}"
        if up.mode == "deconv":
            names.update({f"{scope}.deconv.{k}": f"decode.{i}.deconv.{k}" for k in ("weight", "bias")})
        for j in (0, 1):
            names.update(_conv_bn_2x(f"{scope}.double_conv.{j}", f"decode.{i}.convs.conv{j}"))
    names.update({f"cls.{k}": f"logit.{k}" for k in ("weight", "bias")})
    return names
