"""Prometheus text exposition (format 0.0.4) of the server's counters, kept in-process:
requests by route and status, predict latency and batch-size histograms, queue depth.

Each uvicorn worker process keeps its own numbers (the server shares no state between
processes); scrape each worker, or run one worker per replica. Small on purpose, so
that serving needs no metrics library: counters and histograms behind one lock."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence

# Seconds: a small classifier's batch on a CPU up to a detector's under load.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Images per batched call: powers of two up to the largest --max-batch-size anyone runs.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    def escape(value: str) -> str:
        return str(value).replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return "{" + ",".join(f'{n}="{escape(v)}"' for n, v in zip(names, values, strict=True)) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


class Counter:
    def __init__(self, name: str, help: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.label_names = name, help, tuple(labels)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        with self._lock:
            return self._values.get(labels, 0.0)

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        with self._lock:
            for labels, value in sorted(self._values.items()):
                yield f"{self.name}{_labels(self.label_names, labels)} {_number(value)}"


class Histogram:
    def __init__(self, name: str, help: str, buckets: Sequence[float], labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.label_names = name, help, tuple(labels)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[tuple[str, ...], list] = {}  # labels -> [bucket counts, sum, count]
        self._lock = threading.Lock()

    def observe(self, value: float, *labels: str) -> None:
        with self._lock:
            counts, total, count = self._series.get(labels) or [[0] * len(self.buckets), 0.0, 0]
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    counts[i] += 1
            self._series[labels] = [counts, total + value, count + 1]

    def count(self, *labels: str) -> int:
        with self._lock:
            return self._series.get(labels, [None, 0.0, 0])[2]

    def max_observed_bound(self, *labels: str) -> float:
        """The smallest bucket bound that holds every observation (0 with none): a
        test's way to ask "was any batch larger than 1?" without keeping samples."""
        with self._lock:
            counts, _, count = self._series.get(labels, [[0] * len(self.buckets), 0.0, 0])
        for bound, below in zip(self.buckets, counts, strict=True):
            if below == count:
                return bound if count else 0.0
        return math.inf

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        names = (*self.label_names, "le")
        with self._lock:
            for labels, (counts, total, count) in sorted(self._series.items()):
                for bound, below in zip(self.buckets, counts, strict=True):
                    yield f"{self.name}_bucket{_labels(names, (*labels, _number(bound)))} {below}"
                yield f"{self.name}_bucket{_labels(names, (*labels, '+Inf'))} {count}"
                yield f"{self.name}_sum{_labels(self.label_names, labels)} {_number(total)}"
                yield f"{self.name}_count{_labels(self.label_names, labels)} {count}"


class Gauge:
    """Read when scraped: ``read()`` gives ``{labels: value}``."""

    def __init__(self, name: str, help: str, labels: Sequence[str],
                 read: Callable[[], dict[tuple[str, ...], float]]) -> None:
        self.name, self.help, self.label_names, self.read = name, help, tuple(labels), read

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} gauge"
        for labels, value in sorted(self.read().items()):
            yield f"{self.name}{_labels(self.label_names, labels)} {_number(value)}"


class Metrics:
    """The server's metrics. ``queue_depth`` is filled in by the app: model name ->
    images waiting (read at scrape time)."""

    def __init__(self, queue_depth: Callable[[], dict[str, int]] = dict) -> None:
        self.requests = Counter("pxcore_http_requests_total",
                                "HTTP requests answered, by route template and status code",
                                ("route", "status"))
        self.latency = Histogram("pxcore_predict_latency_seconds",
                                 "Time from a predict request's arrival to its answer, by model",
                                 LATENCY_BUCKETS, ("model",))
        self.batch_size = Histogram("pxcore_batch_size_images",
                                    "Images in each batched Predictor call, by model",
                                    BATCH_BUCKETS, ("model",))
        self.images = Counter("pxcore_predicted_images_total", "Images predicted, by model", ("model",))
        self.queue_depth = Gauge("pxcore_queue_depth_images", "Images waiting for a batch, by model",
                                 ("model",), lambda: {(k,): v for k, v in queue_depth().items()})

    def render(self) -> str:
        lines = [line for metric in (self.requests, self.latency, self.batch_size, self.images,
                                     self.queue_depth) for line in metric.render()]
        return "\n".join(lines) + "\n"
