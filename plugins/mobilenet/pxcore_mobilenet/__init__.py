"""pxcore-mobilenet: MobileNetV1, V2 and V3 (large, small) backbones and classifiers with
PaddleClas's tensor names, taking the zoo's .pdparams and Paddle 1.x .tar weights."""

__version__ = "0.1.0"
