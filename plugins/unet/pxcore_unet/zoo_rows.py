"""The zoo's row of UNet: the seed's semantic segmentation table on COCO (no mIoU
reported)."""

from pxcore.zoo_tables import SEG_URL, SEGMENTATION_COCO

ROWS = [
    SEGMENTATION_COCO.row("UNet", 107.3, None, None, weights_url=SEG_URL + "unet_coco_v3.tgz",
                          paddlex={"class": "UNet"}, plugins=("pxcore-unet",)),
]
