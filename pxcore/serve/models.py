"""The models a server serves: each an export directory, named, read through
``pxcore.inference.Predictor`` (any runtime), with what one batched call does per task.

``predict_batch`` is what the batcher runs: the images of several requests in one
``Predictor.predict(images, batch_size=max_batch_size)`` call, each request's options
applied to its own part, results encoded for JSON (in the worker thread, off the event
loop). Answers equal what ``Predictor.predict`` gives for each image alone:

- classification: the network's input size is fixed by the export's transforms, so one
  call takes every image; the call asks for the largest ``topk`` of the batch and each
  request keeps its first ``topk`` (top-k is a prefix of top-(k+n), ties included);
- detection and segmentation: a batch of images of different sizes is padded to the
  largest, which changes what a network with global context (pooling, R-CNN's
  proposals) computes at the edges, so images are batched with images of their own
  network input size only (one call per size found in the batch). Where the export's
  transforms stretch every image to one size (``Resize`` without ``keep_ratio``, as
  YOLO's do), that is every image, whatever size it came in; otherwise images of one
  size are batched together."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PxError
from ..inference.deploy_file import read_deploy_info
from .encoding import encode_result

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DETECTION_TASKS = ("detection", "instance_segmentation")


def parse_model_args(args: Sequence[str]) -> dict[str, Path]:
    """``DIR`` or ``NAME=DIR`` each: name -> export directory. A bare directory is named
    after itself (``output/flowers/inference_model`` is ``inference_model``)."""
    models: dict[str, Path] = {}
    for arg in args:
        name, sep, path = arg.partition("=")
        if not sep or not NAME.match(name):
            name, path = Path(arg).resolve().name, arg
        if not NAME.match(name):
            raise PxError(f"model directory {arg!r} gives the name {name!r}, which is no URL-safe "
                          "name (letters, digits, . _ -); name it: NAME=DIR")
        if name in models:
            raise PxError(f"two models are named {name!r} ({models[name]} and {path}); "
                          "name them apart: NAME=DIR")
        read_deploy_info(path)  # an export, or the error saying what it is instead
        models[name] = Path(path)
    if not models:
        raise PxError("no model to serve: give at least one exported model directory")
    return models


class ServedModel:
    def __init__(self, name: str, model_dir: str | os.PathLike, runtime: str = "auto",
                 device: str = "cpu", threads: int | None = None, max_batch_size: int = 8) -> None:
        self.name, self.model_dir = name, Path(model_dir)
        self.info = read_deploy_info(self.model_dir)
        self.task = self.info["task"]
        self.runtime, self.device, self.threads = runtime, device, threads
        self.max_batch_size = max_batch_size
        self.predictor = None
        # every image reaches the network at one size: any images may share a batch
        self.one_input_size = self.task == "classification" or fixed_input_size(self.info["transforms"])

    def load(self) -> Callable:
        """Build the Predictor and warm it up with one image of the export's input size
        (a runtime's first call builds its kernels or engine); returns ``predict_batch``.
        Runs in the batcher's thread, which then owns the runtime session."""
        from ..inference.predictor import Predictor

        self.predictor = Predictor(self.model_dir, runtime=self.runtime, device=self.device,
                                   threads=self.threads)
        if self.predictor.fixed_batch is not None:  # an export for batches of exactly N (R-CNN's 1)
            self.max_batch_size = self.predictor.fixed_batch
        height, width = (self.info.get("input_size") or [64, 64])[:2]
        self.predictor.predict([np.zeros((int(height), int(width), 3), np.uint8)])
        return self.predict_batch

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "task": self.task, "model": self.info.get("model"),
                "labels": self.info.get("labels"), "num_classes": self.info.get("num_classes"),
                "input_size": self.info.get("input_size"), "precision": self.info.get("precision", "fp32"),
                "runtime": self.predictor.runtime if self.predictor is not None else None,
                "max_batch_size": self.max_batch_size}

    def check_options(self, topk: Any = None, threshold: Any = None) -> dict[str, Any]:
        """A request's options, validated (ValueError says what is wrong)."""
        options: dict[str, Any] = {}
        if topk is not None:
            if self.task != "classification":
                raise ValueError(f"topk is for classification; {self.name!r} is {self.task}")
            try:
                options["topk"] = int(topk)
            except (TypeError, ValueError):
                raise ValueError(f"topk must be a whole number, got {topk!r}") from None
            if options["topk"] < 1:
                raise ValueError(f"topk must be at least 1, got {options['topk']}")
        if threshold is not None:
            if self.task not in DETECTION_TASKS:
                raise ValueError(f"threshold is for detection; {self.name!r} is {self.task}")
            try:
                options["threshold"] = float(threshold)
            except (TypeError, ValueError):
                raise ValueError(f"threshold must be a number, got {threshold!r}") from None
            if not 0.0 <= options["threshold"] <= 1.0:
                raise ValueError(f"threshold must be between 0 and 1, got {threshold!r}")
        return options

    def predict_batch(self, requests: Sequence[list[np.ndarray]], options: Sequence[dict[str, Any]],
                      on_call: Callable[[int], None] | None = None) -> list[list[Any]]:
        """Each request's encoded results (one per image), from one Predictor call per
        group of images that may share a batch (see the module's notes)."""
        images = [image for request in requests for image in request]
        owners = [i for i, request in enumerate(requests) for _ in request]
        results: list[Any] = [None] * len(images)
        groups: dict[Any, list[int]] = {}
        for index, image in enumerate(images):
            key = None if self.one_input_size else image.shape
            groups.setdefault(key, []).append(index)
        args: dict[str, Any] = {}
        if self.task == "classification":
            args["topk"] = max(o.get("topk", 1) for o in options)
        for indices in groups.values():
            batch = [images[i] for i in indices]
            if on_call is not None:
                for start in range(0, len(batch), self.max_batch_size):
                    on_call(len(batch[start:start + self.max_batch_size]))
            found = self.predictor.predict(batch, batch_size=self.max_batch_size, **args)
            for i, result in zip(indices, found, strict=True):
                results[i] = self._finish(result, options[owners[i]])
        out: list[list[Any]] = [[] for _ in requests]
        for i, result in enumerate(results):
            out[owners[i]].append(result)
        return out

    def _finish(self, result: Any, options: dict[str, Any]) -> Any:
        if self.task == "classification":
            result = result[:options.get("topk", 1)]
        elif "threshold" in options:
            result = [r for r in result if r["score"] >= options["threshold"]]
        return encode_result(self.task, result)


def fixed_input_size(transforms: Any) -> bool:
    """Whether the export's transforms give every image the same size: a ``Resize``
    that stretches to its target (no ``keep_ratio``), followed only by deterministic
    steps (their output size is then a function of that one size). Pipelines this does
    not recognise count as not fixed (images then batch with their own size only)."""
    from ..inference.fused import GEOMETRIC
    from ..transforms import compose
    from ..transforms.image import Normalize, Resize

    fixed = False
    for step in compose(transforms).transforms:
        if type(step) is Normalize:
            continue
        if type(step) not in GEOMETRIC or getattr(step, "interp", None) == "RANDOM":
            return False
        if type(step) is Resize and not step.keep_ratio:
            fixed = True
    return fixed
