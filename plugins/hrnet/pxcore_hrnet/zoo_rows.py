"""The zoo's rows of this family. "HRNet_W18" names two rows, two architectures: the
ImageNet classifier (PaddleX's HRNet_W18_C) and the Cityscapes segmenter, which the
preset "HRNet_W18_seg" builds. The R-CNN rows over HRNet belong to pxcore-rcnn."""

from pxcore.zoo_tables import IMAGENET_URL, SEG_URL, SEGMENTATION_CITYSCAPES, T4

_NEEDS = ("pxcore-hrnet",)

ROWS = [
    # The seed's "21.29MB" for HRNet_W18 is its parameter count in millions.
    T4.row("HRNet_W18", None, 7.40636, 76.9, 93.4, params_m=21.29,
           weights_url=IMAGENET_URL + "HRNet_W18_C_pretrained.tar",
           paddlex={"class": "HRNet_W18_C"}, plugins=_NEEDS),
    # PaddleSeg's legacy HRNet trained this archive with corner-aligned fusions; the
    # preset's default is PaddleX 1.x's (plugins/hrnet/tests/layouts/HRNet_W18_seg.json).
    SEGMENTATION_CITYSCAPES.row("HRNet_W18", 77.3, None, 79.36, model="HRNet_W18_seg",
                                weights_url=SEG_URL + "hrnet_w18_bn_cityscapes.tgz",
                                paddlex={"class": "HRNet", "width": 18}, plugins=_NEEDS,
                                legacy_args={"fuse_upsample": "bilinear_align_corners"}),
]
