"""The names PaddleDetection gave YOLOv3's and PP-YOLO's tensors, made from the network.

Two layouts besides pxcore's own state dict:

**Static** (PaddleDetection 0.x on Paddle 1.x: the zoo's per-variable ``.tar`` archives,
and the static-era ``.pdparams`` that ``fluid.save`` wrote, a dict keyed by variable
name). ``anchor_heads/yolo_head.py`` names every conv + batch norm ``<stem>`` as
``<stem>.conv.weights``, ``<stem>.bn.scale``, ``.bn.offset``, ``.bn.mean``, ``.bn.var``:

- detection block ``i`` is ``yolo_block.<i>``: its first 1x1/3x3 pair ``.0.0`` and
  ``.0.1``, the second ``.1.0`` and ``.1.1``, PP-YOLO's SPP conv (after ``.1.0``)
  ``.1.spp.conv``, the route ``.2`` and the tip ``.tip``. A CoordConv adds two input
  channels, not names; DropBlock has no tensors.
- the transition after block ``i`` is ``yolo_transition.<i>``; output conv ``i`` is
  ``yolo_output.<i>.conv.weights`` and ``.conv.bias``.
- the backbone's names are those of the ImageNet archives it was initialised from
  (``backbone.weight_aliases()``, the classifier's own left out); a deformable conv's
  offset conv (PP-YOLO's ResNet, ``ppdet/modeling/backbones/resnet.py``) is
  ``<conv>_conv_offset.w_0`` / ``.b_0`` beside the kernel ``<conv>_weights``.

**Dygraph** (PaddleDetection 2.x ``.pdparams``, the common case for a user's own
checkpoint): the architecture holds ``backbone``, ``neck`` and ``yolo_head``. The neck's
keys are pxcore's (``neck.yolo_block.0.conv_module.conv0.conv.weight``...), the outputs
are ``yolo_head.yolo_output.<i>.weight`` / ``.bias``, and the backbone's keys follow
PaddleDetection's own backbones, translated here from the static names per family
(``DYGRAPH_BACKBONES``).

``tools/make_layouts.py`` checks both against the reference code, by running it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from paddle import nn

from pxcore.nn.legacy import BN_LEAVES, merge_aliases, ppdet_resnet_key

from .layers import ConvBNLayer

# ConvBNLayer tensor -> the static suffix of its conv + batch norm stem.
STATIC_CONV_BN = {"conv.weight": ".conv.weights", "batch_norm.weight": ".bn.scale",
                  "batch_norm.bias": ".bn.offset", "batch_norm._mean": ".bn.mean",
                  "batch_norm._variance": ".bn.var"}
# A detection block's layers (pxcore / PaddleDetection 2.x name) -> the static stem's tail.
STATIC_BLOCK_LAYERS = {"conv0": "0.0", "conv1": "0.1", "conv2": "1.0", "spp": "1.spp.conv",
                       "conv3": "1.1", "route": "2"}


def _conv_bn_path(path: str, layer: nn.Layer) -> str:
    """The ConvBNLayer a neck layer holds: itself, or a CoordConv's or SPP's ``conv``."""
    while not isinstance(layer, ConvBNLayer):
        layer, path = layer.conv, f"{path}.conv"
    return path


def _neck_stems(neck: nn.Layer) -> Iterator[tuple[str, str]]:
    """(our ConvBNLayer path under the network, static stem) for the FPN."""
    for i, block in enumerate(neck._blocks):
        for name, layer in block.conv_module.named_children():
            if name in STATIC_BLOCK_LAYERS:
                yield (_conv_bn_path(f"neck.yolo_block.{i}.conv_module.{name}", layer),
                       f"yolo_block.{i}.{STATIC_BLOCK_LAYERS[name]}")
            elif list(layer.parameters()):
                raise ValueError(f"detection block layer {name!r} has no PaddleDetection name")
        yield _conv_bn_path(f"neck.yolo_block.{i}.tip", block.tip), f"yolo_block.{i}.tip"
    for i, transition in enumerate(neck._transitions):
        yield _conv_bn_path(f"neck.yolo_transition.{i}", transition), f"yolo_transition.{i}"


def _backbone_static(backbone: nn.Layer) -> dict[str, str]:
    """The backbone's static names (keys without the ``backbone.`` prefix)."""
    if not hasattr(backbone, "weight_aliases"):
        return {}
    ours = backbone.state_dict()
    names = {legacy: key for legacy, key in backbone.weight_aliases().items() if key in ours}
    kernels = {key: legacy for legacy, key in names.items()}
    for path, layer in backbone.named_sublayers():
        offset = getattr(layer, "conv_offset", None)
        kernel = kernels.get(f"{path}.conv.weight", "")
        if isinstance(offset, nn.Conv2D) and kernel.endswith("_weights"):
            stem = kernel.removesuffix("_weights") + "_conv_offset"
            names[f"{stem}.w_0"] = f"{path}.conv_offset.weight"
            names[f"{stem}.b_0"] = f"{path}.conv_offset.bias"
    return names


def static_names(net: nn.Layer) -> dict[str, str]:
    """``{PaddleDetection 0.x variable name: our key}`` for a YOLOv3 ``net``; the backbone
    is named only if it names its own tensors (``weight_aliases``)."""
    names = {legacy: f"backbone.{key}" for legacy, key in _backbone_static(net.backbone).items()}
    for path, stem in _neck_stems(net.neck):
        for leaf, suffix in STATIC_CONV_BN.items():
            names[stem + suffix] = f"{path}.{leaf}"
    for i in range(len(net._heads)):
        names[f"yolo_output.{i}.conv.weights"] = f"yolo_output.{i}.weight"
        names[f"yolo_output.{i}.conv.bias"] = f"yolo_output.{i}.bias"
    return names


# --- PaddleDetection 2.x's backbone keys, from the static names ----------------------

def _darknet(name: str, backbone: nn.Layer) -> str:
    # ppdet/modeling/backbones/darknet.py: conv0, downsample0.conv_bn_layer, stage.<s>
    # (Blocks: basicblock0, then "stage.<s>.<b>"), stage.<s>.downsample.conv_bn_layer;
    # a block's two convs conv1 and conv2; ConvBNLayer's conv and batch_norm.
    stem, part, leaf = re.fullmatch(r"(.+)\.(conv|bn)\.(weights|scale|offset|mean|var)", name).groups()
    tensor = {"weights": "conv.weight", "scale": "batch_norm.weight", "offset": "batch_norm.bias",
              "mean": "batch_norm._mean", "var": "batch_norm._variance"}[leaf]
    if stem == "yolo_input":
        return f"conv0.{tensor}"
    if stem == "yolo_input.downsample":
        return f"downsample0.conv_bn_layer.{tensor}"
    if match := re.fullmatch(r"stage\.(\d+)\.downsample", stem):
        return f"stage.{match[1]}.downsample.conv_bn_layer.{tensor}"
    stage, block, conv = re.fullmatch(r"stage\.(\d+)\.(\d+)\.([01])", stem).groups()
    unit = "basicblock0" if block == "0" else f"stage.{stage}.{block}"
    return f"stage.{stage}.{unit}.conv{int(conv) + 1}.{tensor}"


def _mobilenet_v1(name: str, backbone: nn.Layer) -> str:
    # ppdet/modeling/backbones/mobilenet_v1.py: conv1, conv<i>_<j> (DepthwiseSeparable:
    # _depthwise_conv, _pointwise_conv); ConvBNLayer's _conv and _batch_norm.
    unit, half, bn, leaf = re.fullmatch(
        r"(conv\d+(?:_\d+)?)(?:_(dw|sep))?(_bn)?_(weights|scale|offset|mean|variance)", name).groups()
    layer = unit + {None: "", "dw": "._depthwise_conv", "sep": "._pointwise_conv"}[half]
    return f"{layer}._batch_norm.{BN_LEAVES[leaf]}" if bn else f"{layer}._conv.weight"


def _mobilenet_v3(name: str, backbone: nn.Layer) -> str:
    # ppdet/modeling/backbones/mobilenet_v3.py: conv1, conv<i> (ResidualUnit: expand_conv,
    # bottleneck_conv, mid_se with conv1 and conv2, linear_conv); ConvBNLayer's conv, bn.
    if match := re.fullmatch(r"(conv\d+)_se_([12])_(weights|offset)", name):
        unit, conv, leaf = match.groups()
        return f"{unit}.mid_se.conv{conv}.{'weight' if leaf == 'weights' else 'bias'}"
    unit, part, bn, leaf = re.fullmatch(
        r"(conv\d+)(?:_(expand|depthwise|linear))?(_bn)?_(weights|scale|offset|mean|variance)",
        name).groups()
    layer = unit + {None: "", "expand": ".expand_conv", "depthwise": ".bottleneck_conv",
                    "linear": ".linear_conv"}[part]
    return f"{layer}.bn.{BN_LEAVES[leaf]}" if bn else f"{layer}.conv.weight"


def _resnet(name: str, backbone: nn.Layer) -> str:
    # PaddleDetection 2.x's ResNet (pxcore.nn.legacy.ppdet_resnet_key), with the
    # deformable convs' conv_offset.
    if match := re.fullmatch(r"(res(\d)\w+?)_branch(\w+?)_conv_offset\.([wb])_0", name):
        block, stage, branch, leaf = match.groups()
        return f"res{stage}.{block}.branch{branch}.conv_offset.{'weight' if leaf == 'w' else 'bias'}"
    return ppdet_resnet_key(name, backbone.variant)[1]


# Backbone class name -> the translation of its static names to PaddleDetection 2.x keys.
DYGRAPH_BACKBONES: dict[str, Callable[[str, nn.Layer], str]] = {
    "DarkNet": _darknet,
    "MobileNetV1": _mobilenet_v1,
    "MobileNetV3": _mobilenet_v3,
    "ResNet": _resnet,
}


def dygraph_names(net: nn.Layer) -> dict[str, str]:
    """``{PaddleDetection 2.x state-dict key: our key}`` for a YOLOv3 ``net``, every tensor
    (the neck's keys are the same); the backbone only if its family is in
    ``DYGRAPH_BACKBONES``."""
    names = {}
    translate = DYGRAPH_BACKBONES.get(type(net.backbone).__name__)
    if translate is not None:
        for legacy, key in _backbone_static(net.backbone).items():
            names[f"backbone.{translate(legacy, net.backbone)}"] = f"backbone.{key}"
    names.update({key: key for key in net.state_dict() if key.startswith("neck.")})
    for i in range(len(net._heads)):
        for leaf in ("weight", "bias"):
            names[f"yolo_head.yolo_output.{i}.{leaf}"] = f"yolo_output.{i}.{leaf}"
    return names


def weight_aliases(net: nn.Layer) -> dict[str, str]:
    """Both layouts' names that differ from ours, for ``pxcore.weights.fit_state``."""
    return merge_aliases(static_names(net), dygraph_names(net))
