"""The zoo's row of this family: the seed's ImageNet classification table (timed on a
T4; the seed gives no time for AlexNet)."""

from pxcore.zoo_tables import IMAGENET_URL, T4

ROWS = [
    T4.row("AlexNet", 244.4, None, 56.7, 79.2, weights_url=IMAGENET_URL + "AlexNet_pretrained.tar",
           paddlex={"class": "AlexNet"}, plugins=("pxcore-alexnet",)),
]
