"""pxcore-darknet: the DarkNet53 backbone (YOLOv3's) and classifier with PaddleClas's
tensor names, taking the zoo's .pdparams and Paddle 1.x .tar weights."""

__version__ = "0.1.0"
