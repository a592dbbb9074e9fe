"""Post-processing of model outputs in numpy, without paddle: it runs after whichever
runtime computed the raw outputs (Paddle Inference, ONNX Runtime, Paddle Lite).

- ``nms``: greedy non-maximum suppression, and ``multiclass_nms`` /
  ``matrix_nms``, Paddle's ``multiclass_nms3`` and ``matrix_nms`` operators on one image.
"""

from .nms import matrix_nms, multiclass_nms, nms

__all__ = ["matrix_nms", "multiclass_nms", "nms"]
