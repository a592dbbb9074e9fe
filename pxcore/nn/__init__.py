"""Network building blocks shared by plugins (these modules import paddle).

- ``features``: FeatureInfo, what a backbone reports about each output level.
- ``backbone``: the Backbone base class (multi-level features, ``out_indices``).
- ``heads``: generic heads built from the feature shapes they are given.
- ``classifier``: ImageClassifier, any registered backbone under any classification head.
"""
