"""The zoo's rows of this family: the seed's ImageNet classification table (timed on a
T4), which spells the names in lower case (densenet121)."""

from pxcore.zoo_tables import IMAGENET_URL, T4


def _row(name, size_mb, latency_ms, top1, top5):
    return T4.row(name, size_mb, latency_ms, top1, top5, seed_name=name.lower(),
                  weights_url=f"{IMAGENET_URL}{name}_pretrained.tar",
                  paddlex={"class": name}, plugins=("pxcore-densenet",))


ROWS = [
    _row("DenseNet121", 33.1, 4.40447, 75.7, 92.6),
    _row("DenseNet161", 118.0, 10.39152, 78.6, 94.1),
    _row("DenseNet201", 84.1, 8.20652, 77.6, 93.7),
]
