"""The zoo's rows of this family: the seed's ImageNet classification table (its mobile
series, timed on a Snapdragon 855). The YOLOv3 and DeepLab rows over MobileNets belong
to their heads (pxcore-yolov3, pxcore-deeplab)."""

from pxcore.zoo_tables import IMAGENET_URL, SD855


def _row(name, size_mb, latency_ms, top1, top5, weights):
    return SD855.row(name, size_mb, latency_ms, top1, top5, weights_url=IMAGENET_URL + weights,
                     paddlex={"class": name}, plugins=("pxcore-mobilenet",))


ROWS = [
    _row("MobileNetV1", 17.4, 32.523048, 71.0, 89.7, "MobileNetV1_pretrained.tar"),
    _row("MobileNetV2", 15.0, 23.317699, 72.2, 90.7, "MobileNetV2_pretrained.tar"),
    _row("MobileNetV3_large", 22.8, 19.30835, 75.3, 93.2, "MobileNetV3_large_x1_0_pretrained.tar"),
    _row("MobileNetV3_small", 12.5, 9.2745, 68.2, 88.1, "MobileNetV3_small_x1_0_pretrained.tar"),
    _row("MobileNetV3_large_ssld", 22.8, 19.30835, 79.0, 94.5, "MobileNetV3_large_x1_0_ssld_pretrained.tar"),
    _row("MobileNetV3_small_ssld", 12.5, 6.5463, 71.3, 90.1, "MobileNetV3_small_x1_0_ssld_pretrained.tar"),
]
