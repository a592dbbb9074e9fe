"""``px quantize MODEL_DIR --calib-list LIST --save-dir DIR [--eval-list LIST]``: an
export made int8 after training (see pxcore.deploy.quantize); with an evaluation list,
fp32 and int8 scored side by side on the task's metric."""

from __future__ import annotations

import json


def add_parser(sub, name):
    p = sub.add_parser(name, help="quantize an exported model to int8, calibrated on your images")
    p.add_argument("model_dir", help="an exported model (deploy.yml), fp32")
    p.add_argument("--calib-list", required=True,
                   help="file list whose lines start with calibration images (train_list.txt works)")
    p.add_argument("--data-dir", help="the folder the lists' paths are relative to (default: each list's)")
    p.add_argument("--num-images", type=int, default=300, help="calibration images used (300)")
    p.add_argument("--save-dir", required=True, help="where the int8 export goes")
    p.add_argument("--runtime", help="the runtime to quantize for (default: the one installed "
                                     "that can: openvino)")
    p.add_argument("--eval-list", help="also score fp32 against int8 on this file list")
    p.add_argument("--ann-file", help="or on these COCO annotations (detection)")
    p.add_argument("--label-list", help="labels.txt for the evaluation list (default: beside it)")
    return p


def run(args) -> int:
    from ..deploy.quantize import quantize_export, read_image_list

    images = read_image_list(args.calib_list, args.data_dir)
    out = quantize_export(args.model_dir, images, args.save_dir, num_images=args.num_images,
                          runtime=args.runtime, calibration_list=args.calib_list)
    print(f"quantized {args.model_dir} to int8 in {out} "
          f"({min(len(images), args.num_images)} calibration images)")
    if args.eval_list or args.ann_file:
        from ..deploy.evaluate import evaluate_export
        from ..inference.predictor import Predictor
        from .eval import evaluation_data

        fp32 = Predictor(args.model_dir, precision="fp32")
        int8 = Predictor(out)
        dataset = evaluation_data(fp32, args.eval_list, args.ann_file, args.data_dir, args.label_list)
        rows = {}
        for predictor in (fp32, int8):
            rows[predictor.precision] = {"runtime": predictor.runtime,
                                         **evaluate_export(predictor, dataset)}
        print(json.dumps(rows, indent=2))
    return 0
