"""The zoo's row of this family: the seed's ImageNet classification table (timed on a
T4; the seed gives no time for DarkNet53)."""

from pxcore.zoo_tables import IMAGENET_URL, T4

ROWS = [
    T4.row("DarkNet53", 167.4, None, 78.0, 94.1,
           weights_url=IMAGENET_URL + "DarkNet53_ImageNet1k_pretrained.tar",
           paddlex={"class": "DarkNet53"}, plugins=("pxcore-darknet",)),
]
