"""Network building blocks shared by plugins (these modules import paddle).

- ``features``: FeatureInfo, what a backbone reports about each output level.
- ``backbone``: the Backbone base class (multi-level features, ``out_indices``).
- ``heads``: generic heads built from the feature shapes they are given.
- ``classifier``: ImageClassifier, any registered backbone under any classification head.
- ``resize``: upsampling and bilinear resizing in ops every runtime runs.
- ``norm``: BatchNorm across a network (its layers, their momentum).
- ``seg_losses``: semantic segmentation losses (cross-entropy, Lovasz, Dice).
"""
