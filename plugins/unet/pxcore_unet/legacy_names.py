"""Paddle 1.x static variable names of UNet (PaddleX 1.x ``cv/nets/segmentation/unet.py``,
PaddleSeg legacy ``models/modeling/unet.py``): name scopes joined with "/".

    encode/block1/conv0/weights                  encode.0.conv0.conv.weight
    encode/block2/down/conv1/BatchNorm/gamma     encode.1.conv1.bn.weight
    decode/decode1/up/weights                    decode.0.deconv.weight  (deconv mode)
    decode/decode1/up/conv0/BatchNorm/moving_mean decode.0.convs.conv0.bn._mean
    logit/weights                                logit.weight
"""

from __future__ import annotations

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
