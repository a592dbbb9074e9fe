"""pxcore.datasets.anchors: IoU of centred boxes, k-means anchors under 1 - IoU, and
anchors fitted to a data set's boxes at the input size."""

import numpy as np
import pytest

from pxcore.datasets import anchors as anchors_module
from pxcore.datasets.anchors import cluster_anchors, dataset_anchors, wh_iou


def test_wh_iou_of_centred_boxes():
    iou = wh_iou(np.array([[2.0, 2.0], [4.0, 1.0]]), np.array([[2.0, 2.0], [1.0, 4.0]]))
    np.testing.assert_allclose(iou, [[1.0, 2 / 6], [2 / 6, 1 / 7]])


def test_cluster_anchors_finds_the_sizes_smallest_first():
    rng = np.random.default_rng(0)
    centres = np.array([[100, 40], [10, 12], [30, 60]], np.float32)
    sizes = np.concatenate([c * rng.uniform(0.95, 1.05, (50, 2)) for c in centres])
    sizes = np.concatenate([sizes, [[0, 5], [7, 0]]])  # degenerate boxes are left out
    # k-means from random boxes: seed 4 starts one centre in each group
    found = cluster_anchors(sizes, count=3, seed=4)
    np.testing.assert_allclose(found, [[10, 12], [30, 60], [100, 40]], atol=2)
    assert cluster_anchors(sizes, count=3, seed=4) == found


def test_cluster_anchors_refuses_fewer_boxes_than_anchors():
    with pytest.raises(ValueError, match="2 boxes cannot make 3 anchors"):
        cluster_anchors(np.array([[1, 1], [2, 2], [0, 3]]), count=3)


class _Boxes:
    """The part of a detection data set dataset_anchors reads: its COCO dict."""

    def to_coco(self):
        images = [{"id": 1, "height": 100, "width": 200}, {"id": 2, "height": 50, "width": 50}]
        annotations = [{"image_id": 1, "bbox": [0, 0, 100, 50]}] * 3 + \
                      [{"image_id": 2, "bbox": [5, 5, 10, 20]}] * 3
        return {"images": images, "annotations": annotations}


def test_dataset_anchors_scales_each_box_from_its_image_to_the_input_size():
    # image 1's boxes are 0.5 x 0.5 of it, image 2's 0.2 x 0.4
    assert dataset_anchors(_Boxes(), 100, count=2) == [[20, 40], [50, 50]]
    assert dataset_anchors(_Boxes(), (100, 200), count=2) == [[40, 40], [100, 50]]


def test_anchor_fitting_is_numpy_only():
    assert "paddle" not in anchors_module.__dict__
