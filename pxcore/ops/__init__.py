"""Post-processing of model outputs in numpy, without paddle: it runs after whichever
runtime computed the raw outputs (Paddle Inference, ONNX Runtime, Paddle Lite).

- ``nms``: greedy non-maximum suppression, and ``multiclass_nms`` /
  ``matrix_nms``, Paddle's ``multiclass_nms3`` and ``matrix_nms`` operators on one image.
- ``masks``: instance masks: polygons rasterized (``polygons_to_masks``), Mask R-CNN's
  training targets (``polygons_to_roi_masks``),
  its probabilities pasted into the image (``paste_masks``), and COCO's run-length
  encoding (``mask_to_rle`` / ``rle_to_mask``).
"""

from .masks import mask_to_rle, paste_masks, polygons_to_masks, polygons_to_roi_masks, rle_to_mask
from .nms import matrix_nms, multiclass_nms, nms

__all__ = ["mask_to_rle", "matrix_nms", "multiclass_nms", "nms", "paste_masks",
           "polygons_to_masks", "polygons_to_roi_masks", "rle_to_mask"]
