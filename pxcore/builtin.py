"""The core's own plugin: generic parts every family can compose with.

It is registered through the same hooks as any plugin, so the core has no back door.
"""

from __future__ import annotations

from .hookspecs import hookimpl


@hookimpl
def px_register_heads(registry):
    registry.add(
        name="LinearClsHead",
        factory="pxcore.nn.heads:LinearClsHead",
        task="classification",
        summary="global average pool, dropout, fully connected layer",
    )


@hookimpl
def px_register_models(registry):
    registry.add(
        name="ImageClassifier",
        factory="pxcore.nn.classifier:ImageClassifier",
        task="classification",
        summary="compose a classifier: ImageClassifier(backbone=<any backbone>, head=...)",
        metadata={"composer": True, "requires": ["backbone"]},
    )


@hookimpl
def px_register_datasets(registry):
    registry.add(name="ImageNet", factory="pxcore.datasets.imagenet:ImageNet", task="classification",
                 summary="file list of 'path class_id' lines plus labels.txt (PaddleX's format)")
    registry.add(name="ImageFolder", factory="pxcore.datasets.imagenet:ImageFolder",
                 task="classification", summary="one sub-folder per class")
    registry.add(name="VOCDetection", factory="pxcore.datasets.detection:VOCDetection",
                 task="detection", summary="Pascal VOC: 'image xml' file list plus labels.txt")
    registry.add(name="CocoDetection", factory="pxcore.datasets.detection:CocoDetection",
                 task="detection", summary="COCO: an image folder plus one annotation JSON")
    registry.add(name="SegDataset", factory="pxcore.datasets.segmentation:SegDataset",
                 task="semantic_segmentation",
                 summary="'image label.png' file list plus labels.txt (PaddleX's format)")
    registry.add(name="Cityscapes", factory="pxcore.datasets.segmentation:Cityscapes",
                 task="semantic_segmentation", summary="Cityscapes' leftImg8bit / gtFine trainId folders")


_TRANSFORMS = {
    "base": ("Compose",),
    "image": ("ResizeByShort", "ResizeByLong", "Resize", "RandomCrop", "CenterCrop",
              "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotate", "RandomDistort",
              "Normalize", "Padding"),
    "detection": ("RandomExpand", "MixupImage", "BatchRandomResize", "PadBox"),
    "segmentation": ("ResizeStepScaling", "RandomPaddingCrop", "RandomBlur"),
}


@hookimpl
def px_register_transforms(registry):
    for module, names in _TRANSFORMS.items():
        for name in names:
            registry.add(name=name, factory=f"pxcore.transforms.{module}:{name}")


@hookimpl
def px_register_metrics(registry):
    registry.add(name="TopKAccuracy", factory="pxcore.metrics.classification:TopKAccuracy",
                 task="classification", summary="acc1 and acc5 (k capped by the class count)")
    registry.add(name="CocoDetectionMetric", factory="pxcore.metrics.detection:CocoDetectionMetric",
                 task="detection", summary="COCO mAP@[.5:.95] and mAP@.5 through pycocotools")
    registry.add(name="VOCMetric", factory="pxcore.metrics.detection:VOCMetric",
                 task="detection", summary="Pascal VOC mAP@0.5 (area or 11-point)")
    registry.add(name="ConfusionMatrix", factory="pxcore.metrics.segmentation:ConfusionMatrix",
                 task="semantic_segmentation", summary="mIoU, IoU and precision per class, pixel "
                                                       "accuracy, kappa (as PaddleSeg)")


@hookimpl
def px_register_runtimes(registry):
    registry.add(
        name="paddle",
        factory="pxcore.deploy.paddle_inference:PaddleInferenceRuntime",
        probe="pxcore.deploy.paddle_inference:probe",
        # "libraries": what its speed depends on beyond pxcore (runtime="auto" measures
        # again when their versions change)
        metadata={"devices": ["cpu", "gpu"], "priority": {"cpu": 10, "gpu": 10},
                  "precisions": ["fp32", "fp16"],  # fp16: GPU, through Paddle-TensorRT
                  "libraries": ["paddlepaddle", "paddlepaddle-gpu"]},
        summary="Paddle Inference: oneDNN on CPU; CUDA and Paddle-TensorRT in paddlepaddle-gpu",
    )
