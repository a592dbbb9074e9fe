"""PaddleX's evaluation transforms (model.yml's ``Transforms``) as pxcore transform configs.

Read from PaddleX's source, per major version:

- 2.x, ``paddlex/cv/transforms/operators.py``: sizes are (height, width) (``Resize``
  and ``Padding`` keep ``target_size`` so, and resize to ``target_size[::-1]``);
  ``Normalize`` always computes ``((x - min_val) / (max_val - min_val) - mean) / std``
  (its ``is_scale`` is stored but not used by ``apply_im``); ``Padding`` pads to
  ``target_size`` or to a multiple of ``size_divisor``.
- 1.x, ``paddlex/cv/transforms/{cls,det,seg}_transforms.py``: sizes are [width,
  height] (``ops.resize``); ``Normalize`` is the same min-max formula (``ops.normalize``);
  resizes are bilinear unless ``interp`` says otherwise; the detector's ``Padding``
  fills with zeros (after ``Normalize``), the segmenter's with ``im_padding_value``.

pxcore's sizes are [width, height] and its ``Normalize`` is ``(x / 255 - mean) / std``
(``is_scale``) or ``(x - mean) / std``; a min-max range other than 0..255 becomes the
second form with the range folded into mean and std. 2.x pads on a float canvas, so a
``Padding`` with a fractional value (127.5) right before ``Normalize`` becomes a
``Padding`` after it with the value normalised. A transform without a pxcore equivalent
here is refused, naming it and the ones that are taken.

tests/test_migrate_paddlex_reference.py runs PaddleX 1.3.11's and 2.1.0's own ops
against these mappings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import PxError

Config = dict[str, Any]


def _hw_to_wh(size: Any) -> Any:
    """PaddleX 2.x's (height, width) (or an int) as pxcore's [width, height]."""
    if isinstance(size, int | float) or size is None:
        return size
    height, width = size
    return [width, height]


def _normalize(args: dict[str, Any]) -> Config:
    mean = [float(v) for v in args.get("mean", (0.485, 0.456, 0.406))]
    std = [float(v) for v in args.get("std", (0.229, 0.224, 0.225))]
    low = [float(v) for v in args.get("min_val", (0, 0, 0))]
    high = [float(v) for v in args.get("max_val", (255.0, 255.0, 255.0))]
    span = [h - lo for h, lo in zip(high, low, strict=True)]
    if all(v == 0 for v in low) and all(s == 255 for s in span):
        return {"type": "Normalize", "mean": mean, "std": std, "is_scale": True}
    # ((x - lo) / span - mean) / std  ==  (x - (lo + mean * span)) / (std * span)
    return {"type": "Normalize", "is_scale": False,
            "mean": [lo + m * s for lo, m, s in zip(low, mean, span, strict=True)],
            "std": [d * s for d, s in zip(std, span, strict=True)]}


def _v2_padding(args: dict[str, Any]) -> Config:
    if args.get("pad_mode", 0) == -1:
        raise PxError("PaddleX's Padding with pad_mode=-1 (explicit offsets) has no pxcore "
                      "equivalent; pxcore pads right and bottom (0), around the centre (1) or "
                      "left and top (2)")
    return {"type": "Padding", "coarsest_stride": int(args.get("size_divisor", 32)),
            "target_size": _hw_to_wh(args.get("target_size")),
            "pad_mode": int(args.get("pad_mode", 0)),
            "im_padding_value": list(args.get("im_padding_value", (127.5, 127.5, 127.5))),
            "label_padding_value": int(args.get("label_padding_value", 255))}


def _v1_padding(model_type: str, args: dict[str, Any]) -> Config | None:
    if model_type == "detector":  # det_transforms.Padding: zeros, stride or [w, h]
        stride, target = int(args.get("coarsest_stride", 1)), args.get("target_size")
        if stride <= 1 and target is None:
            return None  # PaddleX returns the image as it is
        return {"type": "Padding", "coarsest_stride": max(stride, 1), "target_size": target,
                "im_padding_value": [0.0, 0.0, 0.0]}
    return {"type": "Padding", "target_size": args["target_size"],
            "im_padding_value": list(args.get("im_padding_value", (127.5, 127.5, 127.5))),
            "label_padding_value": int(args.get("label_padding_value", 255))}


def _fixed(value: Any, name: str, key: str) -> Any:
    if isinstance(value, list | tuple) and key in ("short_size",):
        raise PxError(f"PaddleX's {name} with a list of {key}s picks one at random; an "
                      "evaluation pipeline needs one size")
    return value


# name -> (keys PaddleX stores, mapping) per major version
_V2: dict[str, tuple[set[str], Callable[[dict[str, Any]], Config | None]]] = {
    "ResizeByShort": ({"short_size", "max_size", "interp"}, lambda a: {
        "type": "ResizeByShort", "short_size": a.get("short_size", 256),
        "max_size": a.get("max_size", -1), "interp": a.get("interp", "LINEAR")}),
    "ResizeByLong": ({"long_size", "interp"}, lambda a: {
        "type": "ResizeByLong", "long_size": a.get("long_size", 256),
        "interp": a.get("interp", "LINEAR")}),
    "Resize": ({"target_size", "interp", "keep_ratio"}, lambda a: {
        "type": "Resize", "target_size": _hw_to_wh(a["target_size"]),
        "interp": a.get("interp", "LINEAR"), "keep_ratio": bool(a.get("keep_ratio", False))}),
    "CenterCrop": ({"crop_size"}, lambda a: {"type": "CenterCrop", "crop_size": a.get("crop_size", 224)}),
    "Normalize": ({"mean", "std", "min_val", "max_val", "is_scale"}, _normalize),
    "Padding": ({"target_size", "size_divisor", "pad_mode", "offsets", "im_padding_value",
                 "label_padding_value"}, _v2_padding),
}


def _v1(model_type: str) -> dict[str, tuple[set[str], Callable[[dict[str, Any]], Config | None]]]:
    return {
        "ResizeByShort": ({"short_size", "max_size"}, lambda a: {
            "type": "ResizeByShort", "short_size": _fixed(a.get("short_size", 256), "ResizeByShort", "short_size"),
            "max_size": int(a.get("max_size", -1))}),
        "ResizeByLong": ({"long_size"}, lambda a: {"type": "ResizeByLong", "long_size": a["long_size"]}),
        "Resize": ({"target_size", "interp"}, lambda a: {
            "type": "Resize", "target_size": a.get("target_size", 608), "interp": a.get("interp", "LINEAR")}),
        "CenterCrop": ({"crop_size"}, lambda a: {"type": "CenterCrop", "crop_size": a.get("crop_size", 224)}),
        "Normalize": ({"mean", "std", "min_val", "max_val"}, _normalize),
        "Padding": ({"coarsest_stride", "target_size", "im_padding_value", "label_padding_value"},
                    lambda a: _v1_padding(model_type, a)),
    }


def _pad_after_normalize(configs: list[Config]) -> list[Config]:
    """PaddleX 2.x pads on a float canvas (127.5 stays 127.5); pxcore pads in the image's
    type, uint8 before ``Normalize``. A ``Padding`` right before a ``Normalize`` is moved
    after it with the padding value normalised (normalising per pixel, the two orders give
    the same image), so a fractional padding value is kept."""
    from ..transforms.image import Normalize

    out = list(configs)
    for i in range(len(out) - 1):
        pad, norm = out[i], out[i + 1]
        values = pad.get("im_padding_value", ()) if pad["type"] == "Padding" else ()
        if norm["type"] != "Normalize" or all(float(v).is_integer() for v in values):
            continue
        scale, shift = Normalize(**{k: v for k, v in norm.items() if k != "type"}).coefficients()
        normalised = np.multiply(np.asarray(values, np.float32), scale, dtype=np.float32) - shift
        out[i], out[i + 1] = norm, {**pad, "im_padding_value": [float(v) for v in normalised]}
    return out


def map_transforms(transforms: list[dict[str, Any]] | None, *, major: int, model_type: str,
                   where: str) -> list[Config]:
    """PaddleX's ``Transforms`` list as pxcore transform configs (``{"type": ...}``)."""
    table = _V2 if major >= 2 else _v1(model_type)
    out = []
    for item in transforms or []:
        (name, args), = item.items()
        args = dict(args or {})
        if name not in table:
            raise PxError(f"{where}: the transform {name!r} has no pxcore equivalent for a "
                          f"PaddleX {major}.x model; the ones taken are {', '.join(sorted(table))}. "
                          "Remove it from 'Transforms' if it does not change evaluation, or "
                          "set model.eval_transforms after loading")
        keys, convert = table[name]
        unknown = sorted(set(args) - keys)
        if unknown:
            raise PxError(f"{where}: PaddleX {major}.x's {name} has no argument "
                          f"{', '.join(unknown)} (it stores {', '.join(sorted(keys))})")
        try:
            config = convert(args)
        except (KeyError, TypeError, ValueError) as exc:
            raise PxError(f"{where}: {name} {args} cannot be read ({exc!r})") from None
        if config is not None:
            out.append(config)
    return _pad_after_normalize(out) if major >= 2 else out
