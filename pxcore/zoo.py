"""The zoo catalog: every row of the PaddleX model-zoo tables, as data.

The rows keep the seed's figures (size, latency, the device it was taken on, the
reported metrics and the weights URL). Each row also says which model preset builds it
and which plugin distributions provide that preset, so a zoo name whose plugin is not
installed can say what to pip-install.

Ids are ``<name>.<dataset>`` (``HRNet_W18.imagenet``, ``HRNet_W18.cityscapes``). A name
that appears in several rows resolves to its first row in the seed's order unless
``task=`` or ``dataset=`` picks another.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from .names import normalize

# What each reported metric is called, and the key ``evaluate()`` returns for it.
METRICS = {
    "top1": ("Top-1 accuracy (%)", "acc1"),
    "top5": ("Top-5 accuracy (%)", "acc5"),
    "box_ap": ("box AP (%)", "bbox_mmap"),
    "mask_ap": ("mask AP (%)", "segm_mmap"),
    "miou": ("mIoU (%)", "miou"),
}

# Where plugins live in this repository, by distribution name.
PLUGIN_PATHS = {
    "pxcore-resnet": "plugins/resnet",
    "pxcore-mobilenet": "plugins/mobilenet",
    "pxcore-shufflenet": "plugins/shufflenet",
    "pxcore-darknet": "plugins/darknet",
    "pxcore-xception": "plugins/xception",
    "pxcore-densenet": "plugins/densenet",
    "pxcore-hrnet": "plugins/hrnet",
    "pxcore-alexnet": "plugins/alexnet",
    "pxcore-yolov3": "plugins/yolov3",
    "pxcore-rcnn": "plugins/rcnn",
    "pxcore-deeplab": "plugins/deeplab",
    "pxcore-unet": "plugins/unet",
    "pxcore-fastscnn": "plugins/fastscnn",
}

# A backbone name's prefix -> the plugin that provides that family.
_FAMILY_PLUGIN = (
    ("MobileNet", "pxcore-mobilenet"),
    ("ShuffleNet", "pxcore-shufflenet"),
    ("ResNet", "pxcore-resnet"),
    ("DarkNet", "pxcore-darknet"),
    ("Xception", "pxcore-xception"),
    ("DenseNet", "pxcore-densenet"),
    ("HRNet", "pxcore-hrnet"),
    ("AlexNet", "pxcore-alexnet"),
)


def family_plugin(backbone: str) -> str:
    for prefix, plugin in _FAMILY_PLUGIN:
        if normalize(backbone).startswith(normalize(prefix)):
            return plugin
    raise KeyError(f"no plugin family for backbone {backbone!r}")


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@attrs.frozen(kw_only=True)
class ZooEntry:
    """One row of the zoo."""

    id: str
    name: str  # canonical spelling: DenseNet121, FasterRCNN-HRNet_W18-FPN
    seed_name: str  # as the seed writes it: densenet121, FasterRCNN - HRNet_W18-FPN
    task: str
    dataset: str
    num_classes: int  # classes of the published weights (R-CNN: foreground only)
    size_mb: float | None
    params_m: float | None  # only where the seed gives a parameter count instead of a size
    latency_ms: float | None
    latency_device: str | None
    latency_setting: str | None
    metrics: Mapping[str, float | None] = attrs.field(converter=_frozen, hash=False)
    weights_url: str
    model: str  # the model preset that builds this row
    plugins: tuple[str, ...]  # distributions that must be installed to build it
    paddlex: Mapping[str, Any] = attrs.field(converter=_frozen, hash=False)
    default: bool  # the bare name resolves to this row

    def as_dict(self) -> dict[str, Any]:
        out = attrs.asdict(self, value_serializer=lambda inst, field, v: dict(v)
                           if isinstance(v, Mapping) else v)
        out["plugins"] = list(self.plugins)
        # which key of evaluate()'s result each reported metric corresponds to
        out["evaluate_keys"] = {key: METRICS[key][1] for key in self.metrics}
        return out

    def install_hint(self) -> str:
        paths = " ".join(PLUGIN_PATHS.get(p, p) for p in self.plugins)
        return f"pip install {' '.join(self.plugins)}  (in this repository: pip install {paths})"


# --- the seed's tables ----------------------------------------------------------------
# Each table shares task, data set, class count and where latency was measured; rows
# give (name, size MB, latency ms, metric values..., weights URL).

_IMAGENET = "https://paddle-imagenet-models-name.bj.bcebos.com/"
_DET = "https://paddlemodels.bj.bcebos.com/object_detection/"
_PDX = "https://bj.bcebos.com/paddlex/pretrained_weights/"
_SEG = "https://paddleseg.bj.bcebos.com/models/"

_V100 = ("V100", "640x640, batch 1, Paddle 1.6 Fluid C++ with TensorRT 5.1 FP32, mean of 100 runs after 10 warm-up")

_TABLES: list[dict[str, Any]] = [
    dict(
        task="classification", dataset="ImageNet", num_classes=1000, metrics=("top1", "top5"),
        device=("SD855", "Snapdragon 855, batch 1"),
        rows=[
            ("MobileNetV1", 17.4, 32.523048, 71.0, 89.7, _IMAGENET + "MobileNetV1_pretrained.tar"),
            ("MobileNetV2", 15.0, 23.317699, 72.2, 90.7, _IMAGENET + "MobileNetV2_pretrained.tar"),
            ("MobileNetV3_large", 22.8, 19.30835, 75.3, 93.2, _IMAGENET + "MobileNetV3_large_x1_0_pretrained.tar"),
            ("MobileNetV3_small", 12.5, 9.2745, 68.2, 88.1, _IMAGENET + "MobileNetV3_small_x1_0_pretrained.tar"),
            ("MobileNetV3_large_ssld", 22.8, 19.30835, 79.0, 94.5, _IMAGENET + "MobileNetV3_large_x1_0_ssld_pretrained.tar"),
            ("MobileNetV3_small_ssld", 12.5, 6.5463, 71.3, 90.1, _IMAGENET + "MobileNetV3_small_x1_0_ssld_pretrained.tar"),
            ("ShuffleNetV2", 10.2, 10.941, 68.8, 88.5, _IMAGENET + "ShuffleNetV2_pretrained.tar"),
        ],
    ),
    dict(
        task="classification", dataset="ImageNet", num_classes=1000, metrics=("top1", "top5"),
        device=("T4", "T4, batch 1, FP32 TensorRT, 500 runs after 10 warm-up"),
        rows=[
            ("ResNet18", 46.2, 1.45606, 71.0, 89.9, _IMAGENET + "ResNet18_pretrained.tar"),
            ("ResNet34", 87.9, 2.34957, 74.6, 92.1, _IMAGENET + "ResNet34_pretrained.tar"),
            ("ResNet50", 103.4, 3.47712, 76.5, 93.0, _IMAGENET + "ResNet50_pretrained.tar"),
            ("ResNet101", 180.4, 6.07125, 77.6, 93.6, _IMAGENET + "ResNet101_pretrained.tar"),
            ("ResNet50_vd", 103.5, 3.53131, 79.1, 94.4, _IMAGENET + "ResNet50_vd_pretrained.tar"),
            ("ResNet101_vd", 180.5, 6.11704, 80.2, 95.0, _IMAGENET + "ResNet101_vd_pretrained.tar"),
            ("ResNet50_vd_ssld", 103.5, 3.53131, 82.4, 96.1, _IMAGENET + "ResNet50_vd_ssld_pretrained.tar"),
            ("ResNet101_vd_ssld", 180.5, 6.11704, 83.7, 96.7, _IMAGENET + "ResNet101_vd_ssld_pretrained.tar"),
            ("DarkNet53", 167.4, None, 78.0, 94.1, _IMAGENET + "DarkNet53_ImageNet1k_pretrained.tar"),
            ("Xception41", 109.2, 4.96939, 79.6, 94.4, _IMAGENET + "Xception41_deeplab_pretrained.tar"),
            ("Xception65", 161.6, 7.26158, 80.3, 94.5, _IMAGENET + "Xception65_deeplab_pretrained.tar"),
            ("densenet121", 33.1, 4.40447, 75.7, 92.6, _IMAGENET + "DenseNet121_pretrained.tar"),
            ("densenet161", 118.0, 10.39152, 78.6, 94.1, _IMAGENET + "DenseNet161_pretrained.tar"),
            ("densenet201", 84.1, 8.20652, 77.6, 93.7, _IMAGENET + "DenseNet201_pretrained.tar"),
            # The seed's "21.29MB" for HRNet_W18 is its parameter count in millions.
            ("HRNet_W18", None, 7.40636, 76.9, 93.4, _IMAGENET + "HRNet_W18_C_pretrained.tar"),
            ("AlexNet", 244.4, None, 56.7, 79.2, _IMAGENET + "AlexNet_pretrained.tar"),
        ],
    ),
    dict(
        task="detection", dataset="COCO", num_classes=80, metrics=("box_ap",), device=_V100,
        rows=[
            ("FasterRCNN-ResNet18-FPN", 173.2, None, 32.6, _PDX + "faster_rcnn_r18_fpn_1x.tar"),
            ("FasterRCNN-ResNet50", 136.0, 146.124, 35.2, _DET + "faster_rcnn_r50_1x.tar"),
            ("FasterRCNN-ResNet50_vd", 136.1, 144.767, 36.4, _DET + "faster_rcnn_r50_vd_1x.tar"),
            ("FasterRCNN-ResNet101", 212.5, 150.985, 38.3, _DET + "faster_rcnn_r101_1x.tar"),
            ("FasterRCNN-ResNet50-FPN", 167.7, 24.758, 37.2, _DET + "faster_rcnn_r50_fpn_1x.tar"),
            ("FasterRCNN-ResNet50_vd-FPN", 167.8, 25.292, 38.9, _DET + "faster_rcnn_r50_vd_fpn_2x.tar"),
            ("FasterRCNN-ResNet101-FPN", 244.2, 30.331, 38.7, _DET + "faster_rcnn_r101_fpn_1x.tar"),
            ("FasterRCNN-ResNet101_vd-FPN", 244.3, 29.969, 40.5, _DET + "faster_rcnn_r101_vd_fpn_2x.tar"),
            ("FasterRCNN - HRNet_W18-FPN", 115.5, None, 36.0, _DET + "faster_rcnn_hrnetv2p_w18_1x.tar"),
            ("PPYOLO", 329.1, None, 45.9, _DET + "ppyolo_2x.pdparams"),
            ("YOLOv3-DarkNet53", 249.2, 20.252, 38.9, _DET + "yolov3_darknet.tar"),
            ("YOLOv3-MobileNetV1", 99.2, 11.834, 29.3, _DET + "yolov3_mobilenet_v1.tar"),
            ("YOLOv3-MobileNetV3_large", 100.7, None, 31.6, _DET + "yolov3_mobilenet_v3.pdparams"),
            ("YOLOv3-ResNet34", 170.3, 14.125, 36.2, _DET + "yolov3_r34.tar"),
        ],
    ),
    dict(
        task="instance_segmentation", dataset="COCO", num_classes=80, metrics=("box_ap", "mask_ap"),
        device=_V100,
        rows=[
            ("MaskRCNN-ResNet18-FPN", 189.1, None, 33.6, 30.5, _PDX + "mask_rcnn_r18_fpn_1x.tar"),
            ("MaskRCNN-ResNet50", 143.9, 159.527, 38.2, 38.2, _DET + "mask_rcnn_r50_2x.tar"),
            ("MaskRCNN-ResNet50-FPN", 177.7, 83.567, 38.7, 34.7, _DET + "mask_rcnn_r50_fpn_2x.tar"),
            ("MaskRCNN-ResNet50_vd-FPN", 177.7, 97.929, 39.8, 35.4, _DET + "mask_rcnn_r50_vd_fpn_2x.tar"),
            ("MaskRCNN-ResNet101-FPN", 253.6, 97.929, 39.5, 35.2, _DET + "mask_rcnn_r101_fpn_1x.tar"),
            ("MaskRCNN-ResNet101_vd-FPN", 253.7, 97.647, 41.4, 36.8, _DET + "mask_rcnn_r101_vd_fpn_1x.tar"),
            ("MaskRCNN - HRNet_W18-FPN", 120.7, None, 38.7, 34.7, _PDX + "mask_rcnn_hrnetv2p_w18_2x.tar"),
        ],
    ),
    dict(
        # PaddleSeg's COCO weights: the instance annotations turned into semantic labels,
        # 80 classes plus background.
        task="semantic_segmentation", dataset="COCO", num_classes=81, metrics=("miou",),
        device=(None, None),
        rows=[
            ("DeepLabv3_MobileNetV2_x1.0", 14.7, None, None, "https://bj.bcebos.com/v1/paddleseg/deeplab_mobilenet_x1_0_coco.tgz"),
            ("DeepLabv3_Xception65", 329.3, None, None, _SEG + "xception65_coco.tgz"),
            ("UNet", 107.3, None, None, _SEG + "unet_coco_v3.tgz"),
        ],
    ),
    dict(
        task="semantic_segmentation", dataset="Cityscapes", num_classes=19, metrics=("miou",),
        device=(None, None),
        rows=[
            ("DeepLabv3_MobileNetV3_large_x1_0_ssld", 9.3, None, 73.28, _SEG + "deeplabv3p_mobilenetv3_large_cityscapes.tar.gz"),
            ("DeepLabv3_MobileNetV2_x1.0", 14.7, None, 69.8, _SEG + "mobilenet_cityscapes.tgz"),
            ("DeepLabv3_Xception65", 329.3, None, 79.3, _SEG + "xception65_bn_cityscapes.tgz"),
            ("HRNet_W18", 77.3, None, 79.36, _SEG + "hrnet_w18_bn_cityscapes.tgz"),
            ("Fast-SCNN", 9.8, None, 69.64, _SEG + "fast_scnn_cityscape.tar"),
        ],
    ),
]

# Where a canonical name differs from the seed's spelling.
_CANONICAL = {
    "densenet121": "DenseNet121",
    "densenet161": "DenseNet161",
    "densenet201": "DenseNet201",
    "FasterRCNN - HRNet_W18-FPN": "FasterRCNN-HRNet_W18-FPN",
    "MaskRCNN - HRNet_W18-FPN": "MaskRCNN-HRNet_W18-FPN",
}
# A preset name where one zoo name stands for two different architectures.
_PRESET = {("HRNet_W18", "semantic_segmentation"): "HRNet_W18_seg"}


def _structure(name: str, task: str) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The plugins a row needs and its PaddleX 1.x spelling, read off its name."""
    if task == "classification":
        cls = "HRNet_W18_C" if name == "HRNet_W18" else name
        return (family_plugin(name),), {"class": cls}
    if name == "PPYOLO":
        return ("pxcore-yolov3", "pxcore-resnet"), {"class": "PPYOLO", "backbone": "ResNet50_vd_ssld"}
    if name.startswith("YOLOv3-"):
        backbone = name.split("-", 1)[1]
        return ("pxcore-yolov3", family_plugin(backbone)), {"class": "YOLOv3", "backbone": backbone}
    if name.startswith(("FasterRCNN-", "MaskRCNN-")):
        arch, backbone, *fpn = name.split("-")
        return ("pxcore-rcnn", family_plugin(backbone)), {
            "class": arch, "backbone": backbone, "with_fpn": bool(fpn)}
    if name.startswith("DeepLabv3_"):
        backbone = name.split("_", 1)[1]
        return ("pxcore-deeplab", family_plugin(backbone)), {"class": "DeepLabv3p", "backbone": backbone}
    if name == "UNet":
        return ("pxcore-unet",), {"class": "UNet"}
    if name == "HRNet_W18":
        return ("pxcore-hrnet",), {"class": "HRNet", "width": 18}
    if name == "Fast-SCNN":
        return ("pxcore-fastscnn",), {"class": "FastSCNN"}
    raise ValueError(f"zoo row {name!r} ({task}) has no known structure")


def _build_catalog() -> tuple[ZooEntry, ...]:
    entries: list[ZooEntry] = []
    seen: set[str] = set()
    for table in _TABLES:
        device, setting = table["device"]
        keys = table["metrics"]
        for seed_name, size, latency, *values, url in table["rows"]:
            name = _CANONICAL.get(seed_name, seed_name)
            task = table["task"]
            plugins, paddlex = _structure(name, task)
            params_m = 21.29 if (name, task) == ("HRNet_W18", "classification") else None
            entries.append(ZooEntry(
                id=f"{name}.{table['dataset'].lower()}",
                name=name,
                seed_name=seed_name,
                task=task,
                dataset=table["dataset"],
                num_classes=table["num_classes"],
                size_mb=size,
                params_m=params_m,
                latency_ms=latency,
                latency_device=device,
                latency_setting=setting,
                metrics=dict(zip(keys, values, strict=True)),
                weights_url=url,
                model=_PRESET.get((name, task), name),
                plugins=plugins,
                paddlex=paddlex,
                default=name not in seen,
            ))
            seen.add(name)
    return tuple(entries)


CATALOG: tuple[ZooEntry, ...] = _build_catalog()


def entries(task: str | None = None, dataset: str | None = None) -> list[ZooEntry]:
    return [
        e for e in CATALOG
        if (task is None or e.task == task)
        and (dataset is None or normalize(e.dataset) == normalize(dataset))
    ]


def lookup(name: str, task: str | None = None, dataset: str | None = None) -> list[ZooEntry]:
    """Rows whose id, name or seed spelling is ``name`` (case and spaces ignored), filtered
    by task and data set; the default row first."""
    wanted = normalize(name)
    rows = [
        e for e in entries(task, dataset)
        if wanted in (normalize(e.id), normalize(e.name), normalize(e.seed_name), normalize(e.model))
    ]
    return sorted(rows, key=lambda e: not e.default)


def all_names() -> list[str]:
    """Every spelling that resolves to a row: names, ids, seed spellings."""
    names: dict[str, None] = {}
    for e in CATALOG:
        for n in (e.name, e.id, e.seed_name, e.model):
            names.setdefault(n, None)
    return list(names)
