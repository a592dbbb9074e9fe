"""Models PaddleX wrote, taken over by pxcore.

- ``model_yml``: reading a PaddleX model.yml (2.x and 1.x) into plain data;
- ``transforms``: PaddleX's evaluation transforms as pxcore's;
- ``models``: a PaddleX 2.x or 1.x model directory (model.yml and its weights) as a
  pxcore model (``pxcore.load_model`` calls it; ``px convert-model`` saves the result);
- ``export``: a PaddleX 2.x inference export as a Predictor's deploy description.

Only ``models`` imports paddle.
"""

from .model_yml import PaddleXInfo, is_paddlex_dir, read_paddlex_info

__all__ = ["PaddleXInfo", "is_paddlex_dir", "read_paddlex_info"]
