"""``Predictor(model_dir, runtime=...)``: an exported model, its pre- and
post-processing read from deploy.yml, run by any runtime; ``predict`` returns exactly
what ``model.predict`` does (both run this package's ``predict_images``)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..contract import declared
from ..data.images import check_batch_size
from ..errors import PxError, SpecError
from ..migrate.export import (
    is_paddlex_export,
    paddlex_deploy_info,
    paddlex_load_refusal,
    paddlex_runtime,
    to_pxcore_outputs,
)
from ..transforms import compose
from .classification import predict_images as predict_classes
from .deploy_file import read_deploy_info
from .detection import build_postprocess
from .detection import predict_images as predict_detections
from .final_boxes import TYPE as FINAL_BOXES
from .final_boxes import FinalBoxes, feed_order
from .final_boxes import predict_images as predict_final_boxes
from .runtime_choice import select_runtime
from .segmentation import predict_images as predict_segments

DETECTION_TASKS = ("detection", "instance_segmentation")


class Predictor:
    """Thread-safe: each thread gets its own runtime session (a clone sharing the
    weights) unless the runtime is thread-safe itself.

    ``device``: "cpu", "gpu" or "gpu:N" (the N-th GPU). ``runtime_options``: keyword
    arguments for the named runtime, e.g. ``{"trt_shape_range": {"min": [1, 3, 224, 224],
    "opt": ..., "max": ...}}`` for Paddle Inference's TensorRT (device="gpu", fp16).
    ``precision``: "fp32", "fp16" (GPU), "bf16" (CPUs that have it) or "int8" (an export
    ``px quantize`` wrote); by default the export's own (deploy.yml's ``precision``, else fp32)."""

    def __init__(self, model_dir: str | os.PathLike, runtime: str = "auto", device: str = "cpu",
                 precision: str | None = None, threads: int | None = None, batch_size: int = 8,
                 runtime_options: dict[str, Any] | None = None) -> None:
        self.model_dir = Path(model_dir)
        # A PaddleX 2.x inference export: described from its model.yml, run by Paddle Inference
        self._paddlex = is_paddlex_export(self.model_dir)
        if self._paddlex:
            self.info = paddlex_deploy_info(self.model_dir)
            runtime = paddlex_runtime(self.info, runtime)
        else:
            self.info = read_deploy_info(self.model_dir)
        self.task = self.info["task"]
        if self.task not in ("classification", *DETECTION_TASKS, "semantic_segmentation"):
            raise PxError(f"the Predictor runs classification, detection and segmentation "
                          f"models; {self.model_dir} is {self.task}")
        self.transforms = compose(self.info["transforms"])
        self._postprocess = None
        # A graph with its own decoding and NMS (PaddleX 2.x's detectors) gives final boxes
        self._final = None
        if self.task in DETECTION_TASKS and self.info["postprocess"].get("type") == FINAL_BOXES:
            self._final = FinalBoxes(self.info["postprocess"].get("score_threshold", 0.0))
        elif self.task in DETECTION_TASKS:
            self._postprocess = build_postprocess(self.info["postprocess"])
        self.labels = self.info.get("labels")
        self.num_classes = int(self.info["num_classes"])
        # A graph exported for a fixed batch (R-CNN's 1) takes exactly that many.
        fixed = self.info["inputs"][0]["shape"][0]
        self.fixed_batch = fixed if isinstance(fixed, int) and fixed > 0 else None
        self.batch_size = self._check_batch_size(batch_size if self.fixed_batch is None
                                                 else self.fixed_batch)
        # The export's own precision unless told (an int8 export: its quantized model)
        self.precision = precision or self.info.get("precision", "fp32")
        if self.precision == "int8":
            runtime = self._int8_runtime(runtime)
        try:
            self._runtime = select_runtime(self.model_dir, self.info, runtime, device=device,
                                           precision=self.precision, threads=threads,
                                           runtime_options=runtime_options)
        except SpecError as exc:  # the runtime failed to build: for PaddleX's graph, say so
            if not self._paddlex:
                raise
            raise paddlex_load_refusal(self.model_dir, exc) from None
        self._owner = threading.get_ident()
        self._local = threading.local()
        self._clone_lock = threading.Lock()
        self._feed = self._input_names(self._runtime)
        if self._final is not None:  # refused here, not at the first image
            self._feed = feed_order(self._feed, str(self.model_dir))

    def _input_names(self, session) -> list[str]:
        """The order the runtime takes inputs in (Paddle Inference: the program's)."""
        return list(getattr(session, "input_names", [s["name"] for s in self.info["inputs"]]))

    @property
    def runtime(self) -> str:
        """The runtime's name (what "auto" chose)."""
        return self._runtime.name

    def _session(self):
        if self._runtime.thread_safe or threading.get_ident() == self._owner:
            return self._runtime
        session = getattr(self._local, "session", None)
        if session is None:
            with self._clone_lock:
                session = self._local.session = self._runtime.clone()
        return session

    def _int8_runtime(self, runtime: str) -> str:
        """An int8 model belongs to the runtime it was quantized for: "auto" is that one."""
        entry = self.info.get("files", {}).get("int8")
        if not entry:
            raise PxError(f"{self.model_dir} has no int8 model; make one with px quantize "
                          f"{self.model_dir} --calib-list LIST --save-dir DIR, or use precision='fp32'")
        if runtime not in ("auto", entry["runtime"]):
            raise PxError(f"{self.model_dir}'s int8 model was quantized for the {entry['runtime']} "
                          f"runtime, so runtime={runtime!r} cannot run it; use runtime='auto' or "
                          f"{entry['runtime']!r}, or precision='fp32' for the float model")
        return entry["runtime"]

    def _check_batch_size(self, batch_size: Any) -> int:
        batch_size = check_batch_size(batch_size)
        if self.fixed_batch is not None and batch_size != self.fixed_batch:
            raise PxError(f"{self.model_dir} was exported for batches of exactly {self.fixed_batch}, "
                          f"so batch_size={batch_size} cannot run; leave batch_size out, or export "
                          "again without batch_size= for a dynamic batch")
        return batch_size

    def run(self, batch: np.ndarray, im_info: np.ndarray | None = None) -> list[np.ndarray]:
        """The bare runtime call: a pre-processed NCHW float32 batch in, outputs out. A
        graph exported for a fixed batch gets a short last batch padded with zeros, and
        its outputs cut back to the images given. ``im_info`` [B, 3] (resized height,
        width, scale) goes to a pipeline of graphs whose decoder takes it (R-CNN's)."""
        if self._final is not None:
            raise PxError(f"{self.model_dir}'s graph takes image, im_shape and scale_factor; "
                          "call run_graph({name: array}) for it, or predict(images)")
        batch = np.asarray(batch, np.float32)
        count, fixed = batch.shape[0], self.fixed_batch
        if im_info is not None:
            if not declared(self._postprocess, "takes_im_info", False) or fixed not in (None, count):
                raise PxError(f"{self.model_dir}'s network takes no im_info (only R-CNN's pipeline "
                              "of graphs does, one full batch at a time); leave it out")
            outputs = self._session().run([batch, np.asarray(im_info, np.float32)])
        elif fixed is None or count == fixed:
            outputs = self._session().run([batch])
        elif count > fixed:
            raise PxError(f"{self.model_dir} was exported for batches of {fixed}; got {count} images")
        else:
            padded = np.concatenate([batch, np.zeros((fixed - count, *batch.shape[1:]), np.float32)])
            outputs = [out[:count] if out.ndim and out.shape[0] == fixed else out
                       for out in self._session().run([padded])]
        return to_pxcore_outputs(self.task, outputs) if self._paddlex else outputs

    @property
    def takes_final_boxes_feed(self) -> bool:
        """Whether the graph takes ``image``, ``im_shape`` and ``scale_factor`` (and does
        its own NMS, as PaddleX 2.x's detector exports do): call ``run_graph`` for it."""
        return self._final is not None

    def run_graph(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The bare runtime call for a graph of several named inputs (one with its own
        NMS: ``image``, ``im_shape``, ``scale_factor``), outputs in the program's order."""
        return self._session().run([np.asarray(feed[name]) for name in self._feed])

    def predict(self, images: Any, topk: int = 1, mask_format: str = "array", tile_size: Any = None,
                overlap: Any = (64, 64), batch_size: int | None = None, score_map: bool = False):
        """What ``model.predict`` gives for one image (path or RGB array) or a list of
        them: top-k classes, detections (with masks for instance segmentation), or
        label maps (``score_map=True``: with the class probabilities; ``tile_size``/
        ``overlap``: sliding windows). A list runs through the network ``batch_size``
        images at a time (default: the Predictor's)."""
        size = self.batch_size if batch_size is None else self._check_batch_size(batch_size)
        if self.task == "semantic_segmentation":
            divisor = int(self.info["postprocess"].get("size_divisor", 32))
            return predict_segments(images, self.transforms, self.run, size, divisor,
                                    tile_size, overlap, with_scores=score_map)
        if self._final is not None:
            return predict_final_boxes(images, self.transforms, self.run_graph, self._final,
                                       self.labels, mask_format, where=str(self.model_dir))
        if self.task in DETECTION_TASKS:
            return predict_detections(images, self.transforms, self.run, self._postprocess,
                                      self.labels, size, mask_format)
        return predict_classes(images, self.transforms, self.run, self.labels, self.num_classes,
                               topk, size)

    def __repr__(self) -> str:
        return f"<pxcore.Predictor {self.info.get('model')} on {self.runtime} from {self.model_dir}>"
