"""The zoo's row of Fast-SCNN: the seed's semantic segmentation table on Cityscapes."""

from pxcore.zoo_tables import SEG_URL, SEGMENTATION_CITYSCAPES

ROWS = [
    SEGMENTATION_CITYSCAPES.row("Fast-SCNN", 9.8, None, 69.64,
                                weights_url=SEG_URL + "fast_scnn_cityscape.tar",
                                paddlex={"class": "FastSCNN"}, plugins=("pxcore-fastscnn",)),
]
