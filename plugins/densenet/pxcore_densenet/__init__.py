"""pxcore-densenet: DenseNet121/161/201 (and the family's other depths) for pxcore."""

__version__ = "0.1.0"
