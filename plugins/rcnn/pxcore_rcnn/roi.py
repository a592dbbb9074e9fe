"""RoIAlign (He et al., 2017) over one feature map (C4) or a pyramid (FPN), where each
RoI reads the level its size calls for: level = 4 + log2(sqrt(area) / 224), clamped
to the levels there are (Lin et al., 2017). Training assigns levels with Paddle's
operator (``__call__``); inference assigns them in numpy and pools each level's RoIs
(``pool_levels``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import paddle
from paddle.vision import ops

from pxcore.nn.features import FeatureInfo


class RoIExtractor:
    """``resolution`` x ``resolution`` features per RoI from the ``levels`` given
    (their strides from ``feature_info``); ``sampling_ratio`` 0 samples adaptively;
    ``aligned`` shifts the RoI by half a pixel (PaddleDetection 2.x; Paddle 1.x did not);
    ``pixel_offset`` measures a RoI as x2 - x1 + 1 wide when picking its level."""

    def __init__(self, feature_info: Sequence[FeatureInfo], resolution: int,
                 sampling_ratio: int = 0, aligned: bool = True, pixel_offset: bool = False) -> None:
        self.strides = [f.stride for f in feature_info]
        self.levels = [int(round(math.log2(s))) for s in self.strides]
        self.resolution = resolution
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned
        self.pixel_offset = pixel_offset

    def _align(self, feature, rois, rois_num, stride):
        return ops.roi_align(feature, rois, rois_num, self.resolution, 1.0 / stride,
                             self.sampling_ratio, self.aligned)

    def pool_levels(self, features, level_rois):
        """RoIAlign of each level's own RoIs ([R_l, 4], one image) on its feature map,
        concatenated in level order (the inference graphs: the levels are assigned in
        numpy, ``pipeline.RoIsByLevel``)."""
        pooled = [self._align(f, r, paddle.shape(r)[0:1].astype("int32"), s)
                  for f, r, s in zip(features, level_rois, self.strides)]  # noqa: B905
        return pooled[0] if len(pooled) == 1 else paddle.concat(pooled)

    def __call__(self, features, rois, rois_num):
        if len(features) == 1:
            return self._align(features[0], rois, rois_num, self.strides[0])
        level_rois, restore, level_nums = ops.distribute_fpn_proposals(
            rois, self.levels[0], self.levels[-1], 4, 224, pixel_offset=self.pixel_offset,
            rois_num=rois_num)
        pooled = [self._align(f, r, n, s) for f, r, n, s in
                  zip(features, level_rois, level_nums, self.strides)]  # noqa: B905
        return paddle.gather(paddle.concat(pooled), restore.reshape([-1]))
