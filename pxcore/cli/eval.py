"""``px eval MODEL_DIR --file-list LIST`` (classification, VOC, segmentation) or
``--ann-file JSON`` (COCO): evaluate a saved model on a data set; or an exported one
(deploy.yml) as deployed, through ``--runtime`` and ``--precision``."""

from __future__ import annotations

import json
from pathlib import Path

DETECTION_TASKS = ("detection", "instance_segmentation")


def add_parser(sub, name):
    p = sub.add_parser(name, help="evaluate a saved model on a file list or COCO annotations")
    p.add_argument("model_dir", help="a model directory (e.g. output/best_model) or an exported one")
    p.add_argument("--file-list", help="ImageNet, VOC or segmentation ('image label.png') file "
                                       "list, e.g. data/val_list.txt")
    p.add_argument("--ann-file", help="COCO annotation JSON (detection, instance segmentation)")
    p.add_argument("--data-dir", help="image root (default: the file list's folder, or the "
                                      "annotation file's parent's parent for COCO)")
    p.add_argument("--label-list", help="labels.txt (default: beside the file list)")
    p.add_argument("--batch-size", type=int,
                   help="default 32 (classification), 1 (detectors and segmenters: images differ "
                        "in size)")
    p.add_argument("--runtime", help="exported models: auto (default), paddle, onnxruntime, openvino, ...")
    p.add_argument("--precision", help="exported models: fp32, bf16, int8 (default: the export's own)")
    return p


def run(args) -> int:
    from ..api import load_model
    from ..errors import PxError
    from ..inference.deploy_file import DEPLOY_FILE

    exported = (Path(args.model_dir) / DEPLOY_FILE).is_file()
    if exported:
        from ..inference.predictor import Predictor

        model = Predictor(args.model_dir, runtime=args.runtime or "auto", precision=args.precision)
    elif args.runtime or args.precision:
        raise PxError(f"--runtime and --precision are for exported models; export {args.model_dir} "
                      f"first (px export {args.model_dir} --save-dir inference_model)")
    else:
        model = load_model(args.model_dir)
    dataset = evaluation_data(model, args.file_list, args.ann_file, args.data_dir, args.label_list)
    batch_size = args.batch_size or (32 if model.task == "classification" else 1)
    if exported:
        from ..deploy.evaluate import evaluate_export

        scores = {**evaluate_export(model, dataset, batch_size=batch_size), "runtime": model.runtime,
                  "precision": model.precision}
    else:
        scores = model.evaluate(dataset, batch_size=batch_size)
    print(json.dumps(scores, indent=2))
    return 0


def _transforms(model):
    """A saved model's evaluation transforms; an export's (a Predictor) are its own."""
    return getattr(model, "eval_transforms", None) or getattr(model, "transforms", None)


def evaluation_data(model, file_list=None, ann_file=None, data_dir=None, label_list=None):
    """The data set a file list (ImageNet, VOC or segmentation, by the model's task) or
    COCO annotations describe, for ``model`` (a saved model or a Predictor)."""
    from ..datasets import CocoDetection, ImageNet, SegDataset, VOCDetection
    from ..errors import PxError

    detector = model.task in DETECTION_TASKS
    if ann_file:
        if not detector:
            name = getattr(model, "name", None) or model.info.get("model")
            raise PxError(f"--ann-file is COCO detection data; {name} is a {model.task} model")
        ann_file = Path(ann_file)
        data_dir = Path(data_dir) if data_dir else ann_file.parent.parent
        dataset = CocoDetection(data_dir, ann_file, transforms=_transforms(model))
    elif file_list:
        file_list = Path(file_list)
        data_dir = Path(data_dir) if data_dir else file_list.parent
        label_list = Path(label_list) if label_list else data_dir / "labels.txt"
        kind = (VOCDetection if detector else SegDataset if model.task == "semantic_segmentation"
                else ImageNet)
        dataset = kind(data_dir, file_list, label_list, transforms=_transforms(model))
    else:
        raise PxError("evaluating needs the data: --file-list LIST (ImageNet, VOC or segmentation) "
                      "or --ann-file JSON (COCO)")
    return dataset
