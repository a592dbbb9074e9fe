"""pxcore-xception: the DeepLab variant of Xception (Xception41, Xception65) for pxcore."""

__version__ = "0.1.0"
