"""A PaddleX 2.x detector's inference export run by the Predictor
(``pxcore.migrate.export`` maps it, ``pxcore.inference.final_boxes`` runs it).

How PaddleX 2.1.0 writes one (``paddlex/cv/models/base.py`` ``_export_inference_model``,
``paddlex/cv/models/detector.py``): for a detector ``_build_inference_net`` returns the
PaddleDetection network itself, ``paddle.jit.save(paddle.jit.to_static(net, input_spec=
[{"image": InputSpec(image_shape), "im_shape": InputSpec([N, 2]), "scale_factor":
InputSpec([N, 2])}]), "model")`` (``BaseDetector._define_input_spec``); a YOLOv3 export
without ``fixed_input_shape`` takes ``[None, 3] + Resize.target_size``
(``YOLOv3._get_test_inputs``). The network's eval forward returns ``{"bbox": [K, 6],
"bbox_num": [N]}`` with PaddleDetection's ``BBoxPostProcess`` (``YOLOBox`` then
``MultiClassNMS``, the ``yolo_box`` and ``multiclass_nms3`` ops) inside. model.yml is
``yaml.dump(get_model_info())`` with ``status: Infer``.

PaddleX's own export does not run under Paddle 3.3 (PaddleX 2.1 imports paddleslim; its
bundled ppdet imports ``paddle.fluid``), so the graph here is a small network of that form:
two convolutions as a two-level YOLO head, decoded and suppressed inside by the same ops
PaddleDetection uses, saved with ``paddle.jit.save`` under FLAGS_enable_pir_api=0 (the
``model.pdmodel`` program format Paddle 2.x wrote). The reference test builds the post-
process from PaddleDetection 2.6's own ``BBoxPostProcess``, ``YOLOBox`` and ``MultiClassNMS``.
The Predictor's results are compared with the same graph run directly by paddle.inference
on an input computed here independently.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from pxcore.errors import PxError

paddle = pytest.importorskip("paddle")
cv2 = pytest.importorskip("cv2")

ROOT = Path(__file__).resolve().parents[1]
LABELS = ["cat", "dog", "bird"]
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

_EXPORT = textwrap.dedent('''
    import sys
    import paddle
    from paddle.base.layer_helper import LayerHelper
    from paddle.static import InputSpec

    NUM_CLASSES = 3
    ANCHORS = [[10, 13], [16, 30], [33, 23], [30, 61], [62, 45], [59, 119]]
    MASKS = [[3, 4, 5], [0, 1, 2]]  # the coarsest level first, as PaddleDetection's YOLOv3


    def multiclass_nms3(boxes, scores):
        """The multiclass_nms3 op as PaddleDetection 2.x's ops.multiclass_nms appends it
        (YOLOv3's defaults in PaddleX: score 0.01, top 1000, keep 100, IoU 0.45)."""
        helper = LayerHelper("multiclass_nms3")
        out = helper.create_variable_for_type_inference(dtype=boxes.dtype)
        index = helper.create_variable_for_type_inference(dtype="int32")
        num = helper.create_variable_for_type_inference(dtype="int32")
        helper.append_op(type="multiclass_nms3", inputs={"BBoxes": boxes, "Scores": scores},
                         outputs={"Out": out, "Index": index, "NmsRoisNum": num},
                         attrs={"background_label": -1, "score_threshold": 0.01, "nms_top_k": 1000,
                                "nms_threshold": 0.45, "keep_top_k": 100, "nms_eta": 1.0,
                                "normalized": False})
        return out, num


    def own_post_process(outs, anchors, im_shape, scale_factor):
        origin = paddle.cast(im_shape / scale_factor, "int32")  # ppdet's YOLOBox
        boxes, scores = [], []
        for i, out in enumerate(outs):
            b, s = paddle.vision.ops.yolo_box(out, origin, anchors[i], NUM_CLASSES, 0.005,
                                              32 // 2 ** i, True, scale_x_y=1.0)
            boxes.append(b)
            scores.append(paddle.transpose(s, perm=[0, 2, 1]))
        return multiclass_nms3(paddle.concat(boxes, 1), paddle.concat(scores, 2))


    def ppdet_post_process(root):
        """PaddleDetection 2.6's own BBoxPostProcess(YOLOBox, MultiClassNMS)."""
        import importlib, types
        sys.path.insert(0, root)
        from reference.loader import import_module
        six = types.ModuleType("six")  # layers.py's one use
        six.moves = types.SimpleNamespace(range=range)
        sys.modules.setdefault("six", six)
        layers = import_module("paddledet", "ppdet.modeling.layers")
        def detr_only(*args):  # post_process.py imports it for DETR; YOLO never calls it
            raise NotImplementedError
        sys.modules["ppdet.modeling.transformers"].bbox_cxcywh_to_xyxy = detr_only
        post = importlib.import_module("ppdet.modeling.post_process")
        process = post.BBoxPostProcess(
            NUM_CLASSES, decode=layers.YOLOBox(NUM_CLASSES, downsample_ratio=32),
            nms=layers.MultiClassNMS(score_threshold=0.01, nms_top_k=1000, keep_top_k=100,
                                     nms_threshold=0.45))
        return lambda *args: process(*args)[:2]


    class TinyYOLOv3(paddle.nn.Layer):
        def __init__(self, post_process):
            super().__init__()
            channels = len(MASKS[0]) * (5 + NUM_CLASSES)
            self.stem = paddle.nn.Conv2D(3, 8, 3, stride=16, padding=1)
            self.down = paddle.nn.Conv2D(8, 8, 3, stride=2, padding=1)
            self.heads = paddle.nn.LayerList([paddle.nn.Conv2D(8, channels, 1) for _ in MASKS])
            self.anchors = [sum((ANCHORS[i] for i in m), []) for m in MASKS]
            self.post_process = post_process
            self.with_mask = False

        def forward(self, inputs):  # ppdet's YOLOv3._forward at eval, as exported
            c4 = paddle.nn.functional.relu(self.stem(inputs["image"]))
            outs = [head(f) for head, f in zip(self.heads, [self.down(c4), c4])]
            bbox, bbox_num = self.post_process(outs, self.anchors, inputs["im_shape"],
                                               inputs["scale_factor"])
            if not self.with_mask:
                return {"bbox": bbox, "bbox_num": bbox_num}
            return {"bbox": bbox, "bbox_num": bbox_num,
                    "mask": box_masks(bbox, inputs["im_shape"], inputs["scale_factor"])}


    def box_masks(bbox, im_shape, scale_factor):
        """Mask R-CNN's output form: int32 [K, H, W] in the original image, whose size the
        graph takes as ppdet's MaskPostProcess does (floor(im_shape / scale_factor + 0.5),
        as a cast: paddle.floor does not trace into the pre-PIR program format);
        each mask here is its box's pixels (centres inside it)."""
        origin = paddle.cast(im_shape / scale_factor + 0.5, "int32")  # floor: positive sizes
        ys = paddle.cast(paddle.arange(0, origin[0, 0]), "float32").reshape([1, -1, 1]) + 0.5
        xs = paddle.cast(paddle.arange(0, origin[0, 1]), "float32").reshape([1, 1, -1]) + 0.5
        x1, y1, x2, y2 = (bbox[:, i].reshape([-1, 1, 1]) for i in range(2, 6))
        # a product of 0/1 planes: paddle.logical_and does not trace into that format either
        inside = [paddle.cast(c, "float32") for c in (xs >= x1, xs < x2, ys >= y1, ys < y2)]
        return paddle.cast(inside[0] * inside[1] * inside[2] * inside[3], "int32")


    if __name__ == "__main__":
        out, mode, root, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
        paddle.seed(3)
        net = TinyYOLOv3(ppdet_post_process(root) if mode == "ppdet" else own_post_process)
        net.with_mask = mode == "mask"
        net.eval()
        spec = [{"image": InputSpec([None, 3, size, size], "float32", "image"),
                 "im_shape": InputSpec([None, 2], "float32", "im_shape"),
                 "scale_factor": InputSpec([None, 2], "float32", "scale_factor")}]
        paddle.jit.save(paddle.jit.to_static(net, input_spec=spec), out)
''')


def paddlex_yolov3_export(folder: Path, mode: str = "own", size: int = 64) -> Path:
    """The export directory: the graph (see the module's notes) and model.yml as PaddleX
    2.1.0's ``_export_inference_model`` writes it for ``YOLOv3(num_classes=3)`` with
    ``Resize(target_size=size, interp='CUBIC')`` and ``Normalize()`` as eval transforms.
    ``mode`` "mask": the graph also gives masks and model.yml names MaskRCNN (the
    Predictor reads the class for the task, the graph for the rest)."""
    folder.mkdir(parents=True)
    script = folder.parent / "export_yolo.py"  # a file: to_static reads the forward's source
    script.write_text(_EXPORT)
    env = {**os.environ, "FLAGS_enable_pir_api": "0", "GLOG_minloglevel": "2"}
    result = subprocess.run([sys.executable, str(script), str(folder / "model"), mode, str(ROOT), str(size)],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    # get_model_info: init_params is YOLOv3.__init__'s locals() less self, __class__,
    # model_name and params; Resize stores an int target_size as a (h, w) tuple, which
    # PyYAML's default dumper writes as !!python/tuple.
    info = {"version": "2.1.0", "Model": "YOLOv3",
            "_Attributes": {"model_type": "detector", "num_classes": 3, "labels": LABELS,
                            "fixed_input_shape": [None, 3, size, size],
                            "eval_metrics": {"bbox_map": 12.5}},
            "_init_params": {"num_classes": 3, "backbone": "MobileNetV1",
                             "anchors": [[10, 13], [16, 30], [33, 23], [30, 61], [62, 45],
                                         [59, 119], [116, 90], [156, 198], [373, 326]],
                             "anchor_masks": [[6, 7, 8], [3, 4, 5], [0, 1, 2]],
                             "ignore_threshold": 0.7, "nms_score_threshold": 0.01,
                             "nms_topk": 1000, "nms_keep_topk": 100, "nms_iou_threshold": 0.45,
                             "label_smooth": False},
            "Transforms": [{"Resize": {"target_size": (size, size), "interp": "CUBIC", "keep_ratio": False}},
                           {"Normalize": {"mean": MEAN, "std": STD, "min_val": [0, 0, 0],
                                          "max_val": [255.0, 255.0, 255.0], "is_scale": True}}],
            "completed_epochs": 0, "status": "Infer"}
    if mode == "mask":
        info["Model"] = "MaskRCNN"
    with open(folder / "model.yml", "w", encoding="utf-8") as f:
        yaml.dump(info, f)
    (folder / ".success").touch()
    return folder


def direct_run(folder: Path, image: np.ndarray, size: int) -> list[np.ndarray]:
    """The graph run by paddle.inference on PaddleX 2.1's pre-processing of ``image``,
    computed here: Resize to size x size (cubic; the image's sides are multiples of size,
    so cv2's scale and size forms agree), Normalize ((x / 255 - mean) / std), im_shape the
    resized size, scale_factor (size / h, size / w)."""
    from paddle import inference

    config = inference.Config(str(folder / "model.pdmodel"), str(folder / "model.pdiparams"))
    config.disable_gpu()
    config.disable_glog_info()
    predictor = inference.create_predictor(config)
    height, width = image.shape[:2]
    resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    chw = ((resized / 255 - np.float32(MEAN)) / np.float32(STD)).transpose(2, 0, 1)[None]
    feed = {"image": np.ascontiguousarray(chw, np.float32),
            "im_shape": np.array([[size, size]], np.float32),
            "scale_factor": np.array([[size / height, size / width]], np.float32)}
    for name in predictor.get_input_names():
        handle = predictor.get_input_handle(name)
        handle.reshape(feed[name].shape)
        handle.copy_from_cpu(feed[name])
    predictor.run()
    return {name: predictor.get_output_handle(name).copy_to_cpu() for name in predictor.get_output_names()}


def as_results(outputs: dict[str, np.ndarray]) -> list[dict]:
    """The direct run's boxes in pxcore's result form, written out here: rows of a real
    class (PaddleDetection marks dropped ones -1), best first, bbox as x, y, w, h, and
    the masks (where the graph gives them) as uint8."""
    rows = next(v for v in outputs.values() if v.ndim == 2)
    masks = next((v for v in outputs.values() if v.ndim == 3), None)
    keep = np.flatnonzero(rows[:, 0] >= 0)
    keep = keep[np.argsort(-rows[keep, 1], kind="stable")]
    results = []
    for k in keep:
        c, s, x1, y1, x2, y2 = rows[k]
        results.append({"category_id": int(c), "category": LABELS[int(c)], "score": float(s),
                        "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]})
        if masks is not None:
            results[-1]["mask"] = masks[k].astype(np.uint8)
    return results


def _image(seed: int, height: int, width: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def check_same(got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want) > 0
    assert [g["category"] for g in got] == [w["category"] for w in want]
    assert [g["category_id"] for g in got] == [w["category_id"] for w in want]
    # The same graph on the same runtime; the inputs differ only in how the normalisation
    # is rounded (pxcore's lookup table against float32 arithmetic here, 1 ulp), which
    # moves a box by well under 1e-3 px and a score by under 1e-5.
    np.testing.assert_allclose([g["score"] for g in got], [w["score"] for w in want], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose([g["bbox"] for g in got], [w["bbox"] for w in want], rtol=0, atol=1e-3)


@pytest.fixture(scope="module")
def yolov3_export(tmp_path_factory):
    return paddlex_yolov3_export(tmp_path_factory.mktemp("paddlex") / "inference_model")


def test_paddlex2_yolov3_export_runs_in_the_predictor(yolov3_export):
    from pxcore.inference import Predictor

    predictor = Predictor(yolov3_export)
    assert predictor.runtime == "paddle" and predictor.task == "detection"
    assert predictor.labels == LABELS
    # Not square, sides multiples of 64: scale_factor (0.5, 0.25) and (0.25, 0.5)
    images = [_image(1, 128, 256), _image(2, 256, 128)]
    got = predictor.predict(images)
    for image, rows in zip(images, got, strict=True):
        want = as_results(direct_run(yolov3_export, image, 64))
        check_same(rows, want)
        height, width = image.shape[:2]  # the graph's boxes are in the original image's pixels
        boxes = np.array([r["bbox"] for r in rows])
        assert boxes[:, 0].min() >= 0 and (boxes[:, 0] + boxes[:, 2]).max() <= width
        assert boxes[:, 1].min() >= 0 and (boxes[:, 1] + boxes[:, 3]).max() <= height
        assert (boxes[:, 0] + boxes[:, 2]).max() > 128 or (boxes[:, 1] + boxes[:, 3]).max() > 128
    single = predictor.predict(images[0])
    assert [r["score"] for r in single] == [r["score"] for r in got[0]]
    with pytest.raises(PxError, match="run_graph"):
        predictor.run(np.zeros((1, 3, 64, 64), np.float32))


def test_paddlex2_detector_export_refusals(yolov3_export, tmp_path):
    import shutil

    from pxcore.inference import Predictor

    def variant(name, edit):
        folder = tmp_path / name
        shutil.copytree(yolov3_export, folder)
        text = (folder / "model.yml").read_text()
        (folder / "model.yml").write_text(edit(text))
        return folder

    with pytest.raises(PxError, match="'SSD' is not one PaddleX 2.1 exports"):
        Predictor(variant("ssd", lambda t: t.replace("Model: YOLOv3", "Model: SSD")))
    with pytest.raises(PxError, match="runs on Paddle Inference"):
        Predictor(yolov3_export, runtime="onnxruntime")
    # an op this paddle does not register: Paddle Inference's own words, and the way round
    renamed = variant("unknown_op", lambda t: t)
    program = (renamed / "model.pdmodel").read_bytes()
    assert b"multiclass_nms3" in program
    (renamed / "model.pdmodel").write_bytes(program.replace(b"multiclass_nms3", b"multiclass_nmsX"))
    with pytest.raises(PxError, match=r"cannot load PaddleX's export(.|\n)*multiclass_nmsX(.|\n)*px convert-model"):
        Predictor(renamed)
    # a detector's graph with other inputs (a classifier's program under a detector's yml)
    with pytest.raises(PxError, match="not image, im_shape, scale_factor"):
        from pxcore.inference.final_boxes import feed_order
        feed_order(["x"], "the export")


def test_final_boxes_decoder_reads_paddledetection_outputs():
    """Rows PaddleDetection marks -1 (the placeholder row of an image without boxes, a
    box clipped to nothing) are dropped, the threshold applies, best first, masks follow
    their boxes and are cut to the original image."""
    from pxcore.inference.detection import to_dicts
    from pxcore.inference.final_boxes import FinalBoxes, split_outputs

    bbox = np.array([[1, 0.3, 0, 0, 5, 5], [-1, 0.9, 1, 1, 1, 1], [0, 0.8, 2, 3, 6, 9],
                     [2, 0.05, 1, 1, 2, 2]], np.float32)
    num = np.array([4], np.int32)
    masks = np.zeros((4, 12, 10), np.int32)
    masks[0, :2], masks[2, 3:9, 2:6] = 1, 1
    rows, kept = FinalBoxes(0.1)([masks, num, bbox], (10, 8))  # order of outputs: the program's
    np.testing.assert_array_equal(rows[:, 0], [0, 1])
    np.testing.assert_array_equal(rows[:, 1], np.float32([0.8, 0.3]))
    assert kept.shape == (2, 10, 8) and kept.dtype == np.uint8
    assert kept[0].sum() == 6 * 4 and kept[1].sum() == 2 * 8
    result = to_dicts(rows, ["a", "b", "c"], kept)
    assert result[0]["bbox"] == [2.0, 3.0, 4.0, 6.0] and result[0]["category"] == "a"
    # no boxes: PaddleDetection's one placeholder row
    rows, _ = FinalBoxes()([np.array([[-1, 0, 0, 0, 0, 0]], np.float32), np.array([1], np.int32)], (4, 4))
    assert rows.shape == (0, 6)
    with pytest.raises(PxError, match="not final boxes"):
        split_outputs([np.zeros((2, 3), np.float32)], "x")
    with pytest.raises(PxError, match="do not belong together"):
        split_outputs([bbox, np.array([3], np.int32)], "x")


def test_paddlex2_mask_export_gives_masks_in_the_original_image(tmp_path):
    from pxcore.inference import Predictor

    export = paddlex_yolov3_export(tmp_path / "inference_model", mode="mask")
    predictor = Predictor(export)
    assert predictor.task == "instance_segmentation"
    image = _image(6, 128, 256)
    got = predictor.predict(image)
    want = as_results(direct_run(export, image, 64))
    check_same(got, want)
    for g, w in zip(got, want, strict=True):
        assert g["mask"].shape == (128, 256) and g["mask"].dtype == np.uint8
        # a box edge within 1.5e-4 px of a pixel centre may take that line either way
        # (see check_same): at most one row and one column of the mask
        assert (g["mask"] != w["mask"]).sum() <= 128 + 256
    agree = np.mean([(g["mask"] == w["mask"]).mean() for g, w in zip(got, want, strict=True)])
    assert agree > 0.999, agree
    assert sum(int(g["mask"].sum()) for g in got) > 0
    rle = predictor.predict(image, mask_format="rle")
    assert rle[0]["mask"]["size"] == [128, 256]


@pytest.mark.reference
def test_paddlex2_yolov3_export_with_paddledetections_post_process(tmp_path):
    """The graph's decoding and NMS from PaddleDetection 2.6's own BBoxPostProcess."""
    from pxcore.inference import Predictor
    from reference import require

    require("paddledet")
    export = paddlex_yolov3_export(tmp_path / "inference_model", mode="ppdet")
    image = _image(5, 128, 256)
    check_same(Predictor(export).predict(image), as_results(direct_run(export, image, 64)))


def test_px_bench_times_a_paddlex2_detector_export(yolov3_export, tmp_path):
    """``px bench`` and ``--path-overhead`` time such a graph through ``run_graph`` (its
    three inputs; ``run`` refuses it), and the bare call they time is the graph's own
    output for that feed."""
    import cv2

    from pxcore.deploy.bench import bare_call, measure, network_input, path_overhead
    from pxcore.inference import Predictor

    predictor = Predictor(yolov3_export)
    assert predictor.takes_final_boxes_feed
    image = _image(3, 64, 64)
    call = bare_call(predictor, network_input(predictor, image))
    want = direct_run(yolov3_export, image, 64)  # scale_factor 1 at 64x64, as bare_call feeds
    got = call()
    rows = next(v for v in got if v.ndim == 2)
    np.testing.assert_allclose(rows, next(v for v in want.values() if v.ndim == 2), rtol=1e-5, atol=1e-3)

    timed = measure(yolov3_export, "paddle", batch_size=1, threads=1, warmup=1, repeats=2)
    assert timed["runtime"] == "paddle" and timed["ms_per_image"] > 0
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), image[:, :, ::-1])
    overhead = path_overhead(yolov3_export, photo, "paddle", threads=1, warmup=1, repeats=3, budget_s=5)
    assert overhead["task"] == "detection" and overhead["image"] == "64x64"
