"""The zoo's row of this family: the seed's ImageNet classification table (its mobile
series, timed on a Snapdragon 855)."""

from pxcore.zoo_tables import IMAGENET_URL, SD855

ROWS = [
    SD855.row("ShuffleNetV2", 10.2, 10.941, 68.8, 88.5,
              weights_url=IMAGENET_URL + "ShuffleNetV2_pretrained.tar",
              paddlex={"class": "ShuffleNetV2"}, plugins=("pxcore-shufflenet",)),
]
