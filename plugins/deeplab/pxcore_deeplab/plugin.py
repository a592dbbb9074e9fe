"""The hooks pxcore calls: the zoo's DeepLabv3+ rows, each a preset of one class
(``pxcore_deeplab.deeplabv3p:DeepLabV3P``) generated from the tables below, and where a
row's network is not the one PaddleX's ``DeepLabv3p`` builds for its backbone (the
MobileNetV2 rows, see ``ZOO_WEIGHT_OPTIONS``), a second preset that is
(``<row>-paddlex``), which ``pxcore.seg.DeepLabv3p`` builds; and PaddleX 2.x's
DeepLabV3P (PaddleSeg 2.x's network, ``variant="paddleseg"``) as
``DeepLabV3P_<backbone>_PaddleSeg``."""

from __future__ import annotations

import pxcore

_FACTORY = "pxcore_deeplab.deeplabv3p:DeepLabV3P"

# What PaddleX 1.3's paddlex.cv.models.DeepLabv3p picks for every backbone
# (its __init__ defaults and _get_backbone): output stride 16, separable convs in ASPP and
# decoder, ASPP with image pooling and a projection, the concat decoder, a logit conv.
PADDLEX_DEFAULTS = {"output_stride": 16, "aspp_with_sep_conv": True, "decoder_use_sep_conv": True,
                    "encoder_with_aspp": True, "enable_decoder": True, "aspp_channels": 256,
                    "aspp_with_concat_projection": True, "add_image_level_feature": True,
                    "aspp_with_se": False, "se_use_qsigmoid": False, "pooling_crop_size": None,
                    "pooling_stride": [1, 1], "decoder": "concat", "decoder_channels": 256,
                    "output_is_logits": False}
# ... and what it changes for MobileNetV3 (LR-ASPP: stride 32, one 1x1 branch gated by a
# quick-sigmoid image pooling, a sum-merge decoder that gives the classes itself).
# PaddleX's pooling_crop_size defaults to None (the mean); PaddleSeg's legacy Cityscapes
# config, which trained the zoo's weights, pooled 769x769 crops (pooling_crop_size
# [769, 769], stride (4, 5)) -- pass it for that row's full-resolution evaluation.
MOBILENETV3_OPTIONS = {"output_stride": 32, "pooling_stride": [4, 5], "aspp_with_se": True,
                       "se_use_qsigmoid": True, "aspp_channels": 128,
                       "aspp_with_concat_projection": False, "add_image_level_feature": False,
                       "decoder": "sum", "output_is_logits": True}

# What the zoo's weights are beyond PaddleX's choices. The MobileNetV2 rows' archives
# (PaddleSeg legacy deeplabv3p_mobilenetv2-1-0_bn_coco / _cityscapes, converted from
# TensorFlow DeepLab's MobileNetV2 checkpoints) were trained without ASPP and decoder
# (MODEL.DEEPLAB.ENCODER_WITH_ASPP / ENABLE_DECODER False): the backbone and a logit conv
# on its 320 channels. Their tensors, with one momentum velocity per trainable tensor,
# are the zoo's 14.7 MB. PaddleX's DeepLabv3p(backbone="MobileNetV2_x1.0") adds ASPP and
# decoder and initialises only the backbone from them: that network is the preset
# "DeepLabv3_MobileNetV2_x1.0-paddlex" (pxcore.seg.DeepLabv3p builds it), which loads such
# an archive with partial=True. Every key here is an argument of PaddleX's DeepLabv3p
# constructor, so the rows' PaddleX spelling states them (paddlex_description).
ZOO_WEIGHT_OPTIONS = {"MobileNetV2": {"encoder_with_aspp": False, "enable_decoder": False}}
PADDLEX_SUFFIX = "-paddlex"  # the preset of PaddleX's own network, where a row differs

# Zoo name -> (PaddleX backbone, the training crop of its zoo weights).
PRESETS = {
    "DeepLabv3_MobileNetV2_x1.0": ("MobileNetV2_x1.0", 512),
    "DeepLabv3_Xception65": ("Xception65", 512),
    "DeepLabv3_MobileNetV3_large_x1_0_ssld": ("MobileNetV3_large_x1_0_ssld", 769),
}
DEFAULT_NUM_CLASSES = 19  # Cityscapes; create_model passes the zoo row's count

# PaddleX 1.x / PaddleSeg legacy normalisation: (x / 255 - 0.5) / 0.5.
_MEAN, _STD = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]


def options(backbone: str, zoo_weights: bool = True) -> dict:
    """The DeepLabV3P arguments PaddleX 1.3 builds for ``backbone``; with
    ``zoo_weights``, as the zoo's weights for it were trained."""
    args = dict(PADDLEX_DEFAULTS)
    if "MobileNetV3" in backbone:
        args.update(MOBILENETV3_OPTIONS)
    if zoo_weights:
        for family, changes in ZOO_WEIGHT_OPTIONS.items():
            if backbone.startswith(family + "_"):
                args.update(changes)
    return {"backbone": backbone, **args}


def paddlex_description(backbone: str, zoo_weights: bool = True) -> dict:
    """How PaddleX 1.3 spells the network ``options(backbone, zoo_weights)`` builds: its
    class, the backbone, and the arguments in which it differs from what PaddleX's
    class builds for that backbone (``ZOO_WEIGHT_OPTIONS``)."""
    own, built = options(backbone, zoo_weights=False), options(backbone, zoo_weights)
    return {"class": "DeepLabv3p", "backbone": backbone,
            **{k: v for k, v in built.items() if own[k] != v}}


def presets():
    """(name, DeepLabV3P arguments, metadata, PaddleX description) for every preset: the
    zoo rows', then PaddleX's own network for each backbone where a row's differs."""
    for zoo_weights in (True, False):
        for name, (backbone, crop) in PRESETS.items():
            args = options(backbone, zoo_weights)
            if not zoo_weights:
                if args == options(backbone):
                    continue  # the row's network is PaddleX's
                name += PADDLEX_SUFFIX
            metadata = {"input_size": crop, "mean": _MEAN, "std": _STD, "test_input_size": 64,
                        "size_divisor": 32, "backbone": backbone}
            yield (name, {"num_classes": DEFAULT_NUM_CLASSES, **args}, metadata,
                   paddlex_description(backbone, zoo_weights))


# PaddleSeg 2.x's DeepLabV3P as PaddleX 2.1's DeepLabV3P builds it (paddlex/cv/models/
# segmenter.py: ResNet50_vd or ResNet101_vd at output stride 8, backbone_indices (0, 3),
# aspp_ratios (1, 12, 24, 36), aspp_out_channels 256, align_corners False; its Decoder
# fixes 256 channels): the same class, variant "paddleseg".
PADDLESEG_PRESETS = {"DeepLabV3P_ResNet50_vd_PaddleSeg": "ResNet50_vd",
                     "DeepLabV3P_ResNet101_vd_PaddleSeg": "ResNet101_vd"}
PADDLESEG_OPTIONS = {"num_classes": 2, "output_stride": 8, "variant": "paddleseg",
                     "align_corners": False, "aspp_channels": 256, "decoder_channels": 256}


@pxcore.hookimpl
def px_register_models(registry):
    for name, args, metadata, paddlex in presets():
        backbone = args["backbone"]
        head = ("LR-ASPP encoder, sum-merge decoder" if args["decoder"] == "sum"
                else "ASPP encoder, decoder" if args["encoder_with_aspp"]
                else "no ASPP, no decoder, as its zoo weights")
        if name.endswith(PADDLEX_SUFFIX):
            head += "; PaddleX's DeepLabv3p: a zoo archive sets only its backbone (partial=True)"
        registry.add(name=name, factory=_FACTORY, defaults=args, task="semantic_segmentation",
                     paddlex=paddlex, metadata=metadata,
                     summary=f"DeepLabv3+ on {backbone} (output stride {args['output_stride']}; {head})")
    for name, backbone in PADDLESEG_PRESETS.items():
        registry.add(name=name, factory=_FACTORY, defaults={"backbone": backbone, **PADDLESEG_OPTIONS},
                     task="semantic_segmentation",
                     metadata={"input_size": 512, "mean": _MEAN, "std": _STD, "test_input_size": 64,
                               "size_divisor": 32, "backbone": backbone},
                     summary=f"DeepLabv3+ on a dilated {backbone} (output stride 8) as PaddleSeg "
                             "2.x / PaddleX 2.x build it: biased convs, half-pixel resizes")


@pxcore.hookimpl
def px_register_zoo(registry):
    from .zoo_rows import ROWS  # the zoo rows this plugin owns

    for row in ROWS:
        registry.add(row)
