"""The zoo's rows of this family: the seed's ImageNet classification table (timed on a
T4). The weights are PaddleClas's "deeplab" Xceptions."""

from pxcore.zoo_tables import IMAGENET_URL, T4


def _row(name, size_mb, latency_ms, top1, top5):
    return T4.row(name, size_mb, latency_ms, top1, top5,
                  weights_url=f"{IMAGENET_URL}{name}_deeplab_pretrained.tar",
                  paddlex={"class": name}, plugins=("pxcore-xception",))


ROWS = [
    _row("Xception41", 109.2, 4.96939, 79.6, 94.4),
    _row("Xception65", 161.6, 7.26158, 80.3, 94.5),
]
