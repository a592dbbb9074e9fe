"""PaddleX 2.x's segmenters as pxcore's PaddleSeg 2.x presets: ``v2_arguments``.

Read from PaddleX 2.1.0's ``paddlex/cv/models/segmenter.py``: each class builds the
PaddleSeg 2.x network of its name (``paddleseg.models.<Name>(num_classes, **params)``).
``BaseSegmenter`` records ``locals()`` before its subclass's arguments reach it, and
``get_model_info`` deletes ``params``, so model.yml's ``_init_params`` holds only
``num_classes`` and ``use_mixed_loss``; PaddleX's ``load_model`` calls the class with
those, i.e. with the class's defaults (``UNet``: ``use_deconv=False``,
``align_corners=False``; ``HRNet``: PaddleSeg's ``FCN`` on ``HRNet_W48``,
``align_corners=False``; ``FastSCNN``: ``align_corners=False``; ``DeepLabV3P``:
``backbone='ResNet50_vd'`` at ``output_stride=8``, ``backbone_indices=(0, 3)``,
``aspp_ratios=(1, 12, 24, 36)``, ``aspp_out_channels=256``, ``align_corners=False``). That is
what is built here (pxcore's ``*_PaddleSeg`` presets), except for the arguments that change
tensor shapes, ``use_deconv``, ``width`` and DeepLabV3P's ``backbone`` (ResNet101_vd has
more C4 blocks): where the directory's tensors are another
variant's, PaddleX's ``set_state_dict`` would skip the tensors that differ and run a
half-initialised network, so the tensors decide, and the log says so. An argument a
hand-edited model.yml states is taken as PaddleX's constructor would take it.

PaddleX 2.x segmenters with no pxcore network are refused by name with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ..errors import PxError
from .model_yml import PaddleXInfo

logger = logging.getLogger("pxcore")

TASK = "semantic_segmentation"

# PaddleX 2.1 segmenters pxcore has no PaddleSeg 2.x network for, and why.
V2_REFUSED = {
    "BiSeNetV2": "PaddleSeg 2.x's BiSeNetV2 (detail and semantic branches with a guided "
                 "aggregation layer), a network pxcore does not have",
}

# PaddleX 2.1's class -> its defaults for the arguments model.yml does not store.
V2_DEFAULTS = {"UNet": {"use_deconv": False, "align_corners": False},
               "HRNet": {"width": 48, "align_corners": False},
               "FastSCNN": {"align_corners": False},
               "DeepLabV3P": {"backbone": "ResNet50_vd", "output_stride": 8,
                              "backbone_indices": (0, 3), "aspp_ratios": (1, 12, 24, 36),
                              "aspp_out_channels": 256, "align_corners": False}}
HRNET_PRESETS = {18: "HRNet_W18_PaddleSeg", 48: "HRNet_W48_PaddleSeg"}  # PaddleX's widths
# PaddleX 2.1's DeepLabV3P backbones -> pxcore's presets
DEEPLAB_PRESETS = {"ResNet50_vd": "DeepLabV3P_ResNet50_vd_PaddleSeg",
                   "ResNet101_vd": "DeepLabV3P_ResNet101_vd_PaddleSeg"}
# PaddleSeg's ASPP rates per output stride (its DeepLabV3P docstring; PaddleX passes them)
DEEPLAB_RATES = {8: (1, 12, 24, 36), 16: (1, 6, 12, 18)}

SUPPORTED_V2 = ("UNet (PaddleSeg 2.x's, biased convs; bilinear or deconv upsampling), HRNet "
                "(PaddleSeg 2.x's FCN, width 18 or 48), FastSCNN (PaddleSeg 2.x's), DeepLabV3P "
                "(PaddleSeg 2.x's, on a dilated ResNet50_vd or ResNet101_vd); refused: "
                + ", ".join(V2_REFUSED))

# Constructor arguments that shape only training.
TRAINING_ONLY = frozenset({"use_mixed_loss"})


def v2_arguments(info: PaddleXInfo, params: dict[str, Any],
                 state: Mapping[str, Any] | None = None) -> tuple[str, str, dict[str, Any]]:
    """(pxcore model name, task, create_model's arguments) for a PaddleX 2.x segmenter
    directory; ``params`` is ``_init_params`` less num_classes, ``state`` its tensors
    (read to settle what model.yml does not store)."""
    where = f"{info.path}: PaddleX {info.version}'s {info.model}"
    if info.model in V2_REFUSED:
        raise PxError(f"{where} is {V2_REFUSED[info.model]}; pxcore has no network for it "
                      f"(PaddleX 2.x segmenters taken: {SUPPORTED_V2})")
    if info.model not in V2_DEFAULTS:
        raise PxError(f"{where} is not one of PaddleX 2.1's segmenters; pxcore takes "
                      f"{SUPPORTED_V2}")
    if info.num_classes is None:
        raise PxError(f"{info.path}: gives no num_classes (in _Attributes or _init_params)")
    defaults = V2_DEFAULTS[info.model]
    given = {k: v for k, v in params.items() if k not in TRAINING_ONLY}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise PxError(f"{where}: {', '.join(f'{k}={given[k]!r}' for k in unknown)} is no argument "
                      f"of PaddleX 2.1's {info.model} that pxcore builds (it takes "
                      f"{', '.join(sorted(defaults))})")
    chosen = {**defaults, **given}
    build = {"UNet": _unet, "HRNet": _hrnet, "FastSCNN": _fastscnn,
             "DeepLabV3P": _deeplab}[info.model]
    name, args = build(chosen, state, where)
    args["num_classes"] = int(info.num_classes)
    return name, TASK, args


def _from_tensors(where: str, name: str, stated: Any, found: Any, named: bool = True) -> Any:
    """What the tensors show (``found``; None: they do not say) where model.yml does not
    keep ``name``: PaddleX 2.1 rebuilds ``stated`` and would skip the tensors that differ,
    so ``found`` is built, with a warning."""
    if found is None or found == stated:
        return stated
    show = (lambda v: f"{name}={v}") if named else str
    logger.warning("%s: model.yml does not store %s (PaddleX 2.1 rebuilds %s and would skip the "
                   "tensors that differ); its tensors are those of %s, which is built",
                   where, name, show(stated), show(found))
    return found


def _unet(chosen: dict[str, Any], state: Mapping[str, Any] | None,
          where: str) -> tuple[str, dict[str, Any]]:
    found = None if state is None else any(
        k.startswith("decode.up_sample_list.") and ".deconv." in k for k in state)
    deconv = _from_tensors(where, "use_deconv", bool(chosen["use_deconv"]), found)
    return "UNet_PaddleSeg", {"upsample_mode": "deconv" if deconv else "bilinear",
                              "align_corners": bool(chosen["align_corners"])}


def _fastscnn(chosen: dict[str, Any], state: Mapping[str, Any] | None,
              where: str) -> tuple[str, dict[str, Any]]:
    # PaddleSeg's auxiliary head (auxlayer.*, training only) is left out on loading
    return "Fast-SCNN_PaddleSeg", {"align_corners": bool(chosen["align_corners"])}


# The first transition's conv: its output channels are the HRNet's width.
_HRNET_WIDTH_KEY = "backbone.tr1.transition_tr1_layer_1._conv.weight"


def _hrnet(chosen: dict[str, Any], state: Mapping[str, Any] | None,
           where: str) -> tuple[str, dict[str, Any]]:
    found = (int(state[_HRNET_WIDTH_KEY].shape[0])
             if state is not None and _HRNET_WIDTH_KEY in state else None)
    width = _from_tensors(where, "width", chosen["width"], found)
    if width not in HRNET_PRESETS:
        raise PxError(f"{where}: width={width!r}; PaddleX 2.1's HRNet takes 18 or 48")
    corners = bool(chosen["align_corners"])  # PaddleSeg's backbone and FCN share it
    return HRNET_PRESETS[width], {
        "align_corners": corners,
        "fuse_upsample": "bilinear_align_corners" if corners else "bilinear_half_pixel"}


# ResNet101_vd's stage 3 has 23 blocks, ResNet50_vd's 6: a tensor of its seventh is 101's.
_RESNET101_KEY = "backbone.bb_2_6.conv0._conv.weight"


def _deeplab(chosen: dict[str, Any], state: Mapping[str, Any] | None,
             where: str) -> tuple[str, dict[str, Any]]:
    found = None
    if state is not None and "backbone.bb_2_0.conv0._conv.weight" in state:
        found = "ResNet101_vd" if _RESNET101_KEY in state else "ResNet50_vd"
    backbone = _from_tensors(where, "backbone", chosen["backbone"], found, named=False)
    if backbone not in DEEPLAB_PRESETS:
        raise PxError(f"{where}: backbone={backbone!r}; PaddleX 2.1's DeepLabV3P takes "
                      f"{' or '.join(DEEPLAB_PRESETS)}")
    stride = chosen["output_stride"]
    if stride not in DEEPLAB_RATES:
        raise PxError(f"{where}: output_stride={stride!r}; PaddleSeg's ResNet_vd takes 8 or 16")
    fixed = {"backbone_indices": (0, 3), "aspp_ratios": DEEPLAB_RATES[stride],
             "aspp_out_channels": 256}  # what pxcore's preset builds at that stride
    other = [f"{k}={chosen[k]!r}" for k, v in fixed.items() if _as_list(chosen[k]) != _as_list(v)]
    if other:
        raise PxError(f"{where}: {', '.join(other)}; pxcore builds PaddleSeg's DeepLabV3P with "
                      f"{', '.join(f'{k}={v!r}' for k, v in fixed.items())} at output_stride "
                      f"{stride} (the low-level C2 and deepest C5 levels, the rates for the stride)")
    return DEEPLAB_PRESETS[backbone], {"output_stride": stride,
                                       "align_corners": bool(chosen["align_corners"])}


def _as_list(value: Any) -> list:
    """A tuple or list argument as a list (yaml keeps tuples as lists); a scalar as one item."""
    return list(value) if isinstance(value, (list, tuple)) else [value]
