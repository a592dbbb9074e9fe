"""The zoo's rows of Faster and Mask R-CNN: the seed's COCO detection and instance
segmentation tables. Each needs this plugin and the one of its backbone; the seed
writes the HRNet rows with spaces ("FasterRCNN - HRNet_W18-FPN")."""

import attrs

from pxcore.zoo_tables import DET_URL, DETECTION, INSTANCE_SEGMENTATION, PDX_URL


def legacy_args(fpn: bool, mask: bool = False) -> dict:
    """What every row's archive needs: PaddleDetection 0.x and PaddleX 1.x (which trained
    them all) computed with +1 pixel boxes, Paddle 1.x's rounded anchors and unaligned
    RoIAlign, sampling 2 points per bin with FPN and adaptively in C4 (PaddleX 1.3's
    faster_rcnn.py lines 150-155; PaddleDetection 0.5's configs alike), and pasted
    masks into the image by Detectron's rule (PaddleX 1.3's
    models/utils/detection_eval.py ``mask2out``)."""
    args = {"box_convention": "pixel", "anchor_convention": "rounded",
            "roi_align_aligned": False, "roi_align_sampling_ratio": 2 if fpn else 0}
    return {**args, "mask_paste": "padded"} if mask else args


def _row(cls, backbone, fpn, size_mb, latency_ms, *metrics, weights_url):
    name = f"{cls}-{backbone}" + ("-FPN" if fpn else "")
    hrnet = backbone.startswith("HRNet")
    table = DETECTION if cls == "FasterRCNN" else INSTANCE_SEGMENTATION
    return table.row(name, size_mb, latency_ms, *metrics, weights_url=weights_url,
                     seed_name=name.replace("-", " - ", 1) if hrnet else name,
                     paddlex={"class": cls, "backbone": backbone, "with_fpn": fpn},
                     plugins=("pxcore-rcnn", "pxcore-hrnet" if hrnet else "pxcore-resnet"),
                     legacy_args=legacy_args(fpn, mask=cls == "MaskRCNN"))


def _faster(backbone, fpn, size_mb, latency_ms, box_ap, weights_url):
    return _row("FasterRCNN", backbone, fpn, size_mb, latency_ms, box_ap, weights_url=weights_url)


def _mask(backbone, fpn, size_mb, latency_ms, box_ap, mask_ap, weights_url):
    return _row("MaskRCNN", backbone, fpn, size_mb, latency_ms, box_ap, mask_ap,
                weights_url=weights_url)


def _hrnet(entry, fuse_upsample: str):
    """An HRNet row whose archive upsampled as Paddle 1.x code did: HRFPN's
    ``resize_bilinear`` to the finest branch with corners aligned (PaddleDetection 0.5's
    and PaddleX 1.3's hrfpn), and the backbone's fusions by ``fuse_upsample``: corners
    aligned in PaddleDetection 0.5's ``resize_nearest(scale=...)`` (its default),
    repetition in PaddleX 1.3's (``align_corners=False``)."""
    return attrs.evolve(entry, legacy_args={
        **entry.legacy_args, "backbone_args": {"fuse_upsample": fuse_upsample},
        "neck_args": {"upsample": "bilinear_align_corners"}})


ROWS = [
    _faster("ResNet18", True, 173.2, None, 32.6, PDX_URL + "faster_rcnn_r18_fpn_1x.tar"),
    _faster("ResNet50", False, 136.0, 146.124, 35.2, DET_URL + "faster_rcnn_r50_1x.tar"),
    _faster("ResNet50_vd", False, 136.1, 144.767, 36.4, DET_URL + "faster_rcnn_r50_vd_1x.tar"),
    _faster("ResNet101", False, 212.5, 150.985, 38.3, DET_URL + "faster_rcnn_r101_1x.tar"),
    _faster("ResNet50", True, 167.7, 24.758, 37.2, DET_URL + "faster_rcnn_r50_fpn_1x.tar"),
    _faster("ResNet50_vd", True, 167.8, 25.292, 38.9, DET_URL + "faster_rcnn_r50_vd_fpn_2x.tar"),
    _faster("ResNet101", True, 244.2, 30.331, 38.7, DET_URL + "faster_rcnn_r101_fpn_1x.tar"),
    _faster("ResNet101_vd", True, 244.3, 29.969, 40.5, DET_URL + "faster_rcnn_r101_vd_fpn_2x.tar"),
    # PaddleDetection 0.5's archive
    _hrnet(_faster("HRNet_W18", True, 115.5, None, 36.0, DET_URL + "faster_rcnn_hrnetv2p_w18_1x.tar"),
           "nearest_align_corners"),
    _mask("ResNet18", True, 189.1, None, 33.6, 30.5, PDX_URL + "mask_rcnn_r18_fpn_1x.tar"),
    _mask("ResNet50", False, 143.9, 159.527, 38.2, 38.2, DET_URL + "mask_rcnn_r50_2x.tar"),
    _mask("ResNet50", True, 177.7, 83.567, 38.7, 34.7, DET_URL + "mask_rcnn_r50_fpn_2x.tar"),
    _mask("ResNet50_vd", True, 177.7, 97.929, 39.8, 35.4, DET_URL + "mask_rcnn_r50_vd_fpn_2x.tar"),
    _mask("ResNet101", True, 253.6, 97.929, 39.5, 35.2, DET_URL + "mask_rcnn_r101_fpn_1x.tar"),
    _mask("ResNet101_vd", True, 253.7, 97.647, 41.4, 36.8, DET_URL + "mask_rcnn_r101_vd_fpn_1x.tar"),
    # PaddleX 1.3's archive
    _hrnet(_mask("HRNet_W18", True, 120.7, None, 38.7, 34.7, PDX_URL + "mask_rcnn_hrnetv2p_w18_2x.tar"),
           "nearest"),
]
