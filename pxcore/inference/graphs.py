"""Exports of several graphs with numpy between them: one runtime per graph.

Where a converter cannot pass an operator (R-CNN's proposals and NMS), a model is
exported as several graphs, and the steps between them run in numpy, the code the
Python model runs. deploy.yml then says so:

    inputs, outputs        the whole model's, as for one graph (the Predictor's view)
    graphs:                one entry per graph, in the order they first run
      NAME: {program, params, inputs, outputs[, onnx_opset]}
    pipeline: {runner: "module:Class", args: {...}}

``runner(**args)`` is called as ``runner(run, *inputs)``, where ``run(name, arrays)``
runs the named graph, and returns the model's outputs. The graphs' files sit beside
deploy.yml; ``onnx_opset`` is the lowest ONNX opset that expresses the graph (the
ONNX plugin converts at that opset or its own, whichever is higher).

``GraphPipeline`` is a Runtime like any other (``run``, ``clone``, ``name``), which
``build_runtime`` (what ``select_runtime`` and ``export`` build runtimes with) makes
whenever deploy.yml has ``graphs``: it builds the runtime the spec names once per graph,
each over its own program and weights (``graph_info``), so every runtime (Paddle
Inference too) runs the same split graphs and agrees with the others.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PxError
from .runtime import Runtime

GRAPH_KEYS = ("program", "params", "inputs", "outputs")


def graph_info(info: dict[str, Any], name: str) -> dict[str, Any]:
    """The deploy info one graph's runtime reads: the model's, with the graph's files,
    inputs and outputs in place of the whole model's (and no ``graphs``)."""
    graph = info["graphs"][name]
    missing = [k for k in GRAPH_KEYS if k not in graph]
    if missing:
        raise PxError(f"deploy.yml: graph {name!r} lacks {', '.join(missing)}")
    single = {k: v for k, v in info.items() if k not in ("graphs", "pipeline", "files")}
    single.update(graph=name, inputs=graph["inputs"], outputs=graph["outputs"],
                  files={"program": graph["program"], "params": graph["params"]})
    if "onnx_opset" in graph:
        single["onnx_opset"] = int(graph["onnx_opset"])
    return single


def graph_files(info: dict[str, Any], kinds: tuple[str, ...] = ("program", "params")) -> list[str]:
    """Every program and/or weight file (``kinds``) of an export, one graph or several."""
    if info.get("graphs"):
        return [g[k] for g in info["graphs"].values() for k in kinds]
    files = info.get("files") or {}
    return [files[k] for k in kinds if files.get(k)]


def load_pipeline(config: dict[str, Any]):
    """The runner deploy.yml's ``pipeline`` names, built with its arguments."""
    reference = str((config or {}).get("runner", ""))
    module, _, name = reference.partition(":")
    try:
        factory = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise PxError(f"the exported model's pipeline {reference!r} cannot be imported ({exc}); "
                      "install the plugin that exported it") from None
    return factory(**config.get("args", {}))


def build_runtime(spec, **kwargs: Any) -> Runtime:
    """``spec.build(model_dir=..., info=..., ...)`` for an export: one runtime, or for an
    export of several graphs a GraphPipeline of one per graph."""
    info = kwargs.get("info")
    if isinstance(info, dict) and info.get("graphs"):
        return GraphPipeline(spec, **kwargs)
    return spec.build(**kwargs)


class GraphPipeline(Runtime):
    """One runtime (``spec``'s) per graph of the export, and the pipeline between them.
    Thread-safe when every graph's runtime is; ``clone`` clones each."""

    def __init__(self, spec, model_dir: Path, info: dict[str, Any], *, device: str = "cpu",
                 precision: str = "fp32", threads: int | None = None,
                 _graphs: dict[str, Runtime] | None = None, **options: Any) -> None:
        super().__init__(model_dir, info, device=device, precision=precision, threads=threads)
        self.spec, self.options = spec, options
        self.pipeline = load_pipeline(info.get("pipeline"))
        if _graphs is None:
            _graphs = {}
            for name in info["graphs"]:
                _graphs[name] = spec.build(model_dir=model_dir, info=graph_info(info, name),
                                           device=device, precision=precision, threads=threads,
                                           **options)
        self.graphs = _graphs
        first = next(iter(self.graphs.values()))
        self.name = first.name
        self.thread_safe = all(g.thread_safe for g in self.graphs.values())

    def run_graph(self, name: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return self.graphs[name].run(inputs)

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return self.pipeline(self.run_graph, *inputs)

    def clone(self) -> GraphPipeline:
        if self.thread_safe:
            return self
        return GraphPipeline(self.spec, self.model_dir, self.info, device=self.device,
                             precision=self.precision, threads=self.threads,
                             _graphs={n: g.clone() for n, g in self.graphs.items()}, **self.options)

    def __repr__(self) -> str:
        return f"<GraphPipeline {self.name}: {', '.join(self.graphs)}>"
