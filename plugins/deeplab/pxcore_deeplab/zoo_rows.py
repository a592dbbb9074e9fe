"""The zoo's rows of DeepLabv3+: the seed's semantic segmentation tables on COCO (no
mIoU reported) and Cityscapes. Each needs this plugin and the one of its backbone."""

from pxcore.zoo_tables import SEG_URL, SEGMENTATION_CITYSCAPES, SEGMENTATION_COCO

from .plugin import paddlex_description

# backbone -> the distribution that provides it
_BACKBONE_PLUGIN = {"MobileNetV2_x1.0": "pxcore-mobilenet", "Xception65": "pxcore-xception",
                    "MobileNetV3_large_x1_0_ssld": "pxcore-mobilenet"}


def _row(table, backbone, size_mb, miou, weights_url):
    return table.row(f"DeepLabv3_{backbone}", size_mb, None, miou, weights_url=weights_url,
                     paddlex=paddlex_description(backbone),
                     plugins=("pxcore-deeplab", _BACKBONE_PLUGIN[backbone]))


ROWS = [
    _row(SEGMENTATION_COCO, "MobileNetV2_x1.0", 14.7, None,
         "https://bj.bcebos.com/v1/paddleseg/deeplab_mobilenet_x1_0_coco.tgz"),
    _row(SEGMENTATION_COCO, "Xception65", 329.3, None, SEG_URL + "xception65_coco.tgz"),
    _row(SEGMENTATION_CITYSCAPES, "MobileNetV3_large_x1_0_ssld", 9.3, 73.28,
         SEG_URL + "deeplabv3p_mobilenetv3_large_cityscapes.tar.gz"),
    _row(SEGMENTATION_CITYSCAPES, "MobileNetV2_x1.0", 14.7, 69.8, SEG_URL + "mobilenet_cityscapes.tgz"),
    _row(SEGMENTATION_CITYSCAPES, "Xception65", 329.3, 79.3, SEG_URL + "xception65_bn_cityscapes.tgz"),
]
