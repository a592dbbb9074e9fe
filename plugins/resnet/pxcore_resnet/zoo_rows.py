"""The zoo's rows of this family: the seed's ImageNet classification table (timed on a
T4). The detection rows over ResNets belong to their heads (pxcore-yolov3, pxcore-rcnn)."""

from pxcore.zoo_tables import IMAGENET_URL, T4


def _row(name, size_mb, latency_ms, top1, top5):
    return T4.row(name, size_mb, latency_ms, top1, top5,
                  weights_url=f"{IMAGENET_URL}{name}_pretrained.tar",
                  paddlex={"class": name}, plugins=("pxcore-resnet",))


ROWS = [
    _row("ResNet18", 46.2, 1.45606, 71.0, 89.9),
    _row("ResNet34", 87.9, 2.34957, 74.6, 92.1),
    _row("ResNet50", 103.4, 3.47712, 76.5, 93.0),
    _row("ResNet101", 180.4, 6.07125, 77.6, 93.6),
    _row("ResNet50_vd", 103.5, 3.53131, 79.1, 94.4),
    _row("ResNet101_vd", 180.5, 6.11704, 80.2, 95.0),
    _row("ResNet50_vd_ssld", 103.5, 3.53131, 82.4, 96.1),
    _row("ResNet101_vd_ssld", 180.5, 6.11704, 83.7, 96.7),
]
