"""pxcore-resnet: ResNet18/34/50/101 and ResNet50/101_vd (and their SSLD weights) for pxcore."""

__version__ = "0.1.0"
