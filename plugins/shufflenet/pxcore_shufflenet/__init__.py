"""pxcore-shufflenet: the ShuffleNetV2 backbone and classifier with PaddleClas's tensor
names, taking the zoo's .pdparams and Paddle 1.x .tar weights."""

__version__ = "0.1.0"
