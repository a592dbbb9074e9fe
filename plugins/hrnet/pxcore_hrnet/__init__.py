"""pxcore-hrnet: HRNet backbones reporting their four high-resolution branches, and the
HRNet-C classifiers with PaddleClas's tensor names, taking the zoo's .pdparams and
Paddle 1.x .tar weights."""

__version__ = "0.1.0"
