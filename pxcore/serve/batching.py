"""Dynamic batching, one ``Batcher`` per served model: requests queue; one worker thread
(off the event loop, which stays free to read and answer requests) takes whole requests
first come first served until it has ``max_batch_size`` images or ``max_wait_s`` has
passed since the oldest arrived, makes one ``run`` call for them all and hands each
request its part.

The queue is bounded in images: a request that would overflow it is refused at once
(``QueueFull``, the app's 503 with Retry-After) instead of waiting behind work the
server cannot finish in time. A request that times out or whose client leaves is taken
off the queue. A ``run`` that raises for a batch of several requests is retried one
request at a time, so one bad request fails alone and the others get their answers;
the worker never dies of a request. ``close`` stops taking requests and finishes (drains)
the queue before the thread ends."""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger("pxcore.serve")

# run(images of each request, options of each request) -> results of each request
RunBatch = Callable[[Sequence[list[Any]], Sequence[dict[str, Any]]], list[list[Any]]]


class QueueFull(Exception):
    """The model's queue has no room for the request's images."""


class ShuttingDown(Exception):
    """The server is draining and takes no new requests."""


class _Job:
    __slots__ = ("images", "options", "loop", "future", "arrived")

    def __init__(self, images, options, loop, future) -> None:
        self.images, self.options, self.loop, self.future = images, options, loop, future
        self.arrived = time.monotonic()


class Batcher:
    """``load`` runs first in the worker thread and returns the ``run`` function (so a
    model's runtime session belongs to the thread that uses it); ``ready`` is set once
    it has returned (``error`` holds what it raised, if it did)."""

    def __init__(self, name: str, load: Callable[[], RunBatch], max_batch_size: int = 8,
                 max_wait_s: float = 0.005, queue_size: int = 64) -> None:
        if max_batch_size < 1 or queue_size < 1 or max_wait_s < 0:
            raise ValueError("max_batch_size and queue_size must be at least 1, max_wait_s not negative")
        self.name, self._load = name, load
        self.max_batch_size, self.max_wait_s, self.queue_size = max_batch_size, max_wait_s, queue_size
        self._queue: collections.deque[_Job] = collections.deque()
        self._queued = 0  # images in _queue
        self._cond = threading.Condition()
        self._closing = False
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name=f"pxcore-serve-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def depth(self) -> int:
        """Images waiting for a batch."""
        return self._queued

    @property
    def serving(self) -> bool:
        return self.ready.is_set() and self.error is None and not self._closing \
            and self._thread.is_alive()

    async def predict(self, images: list[Any], options: dict[str, Any], timeout: float | None = None):
        """Queue one request and wait for its results (one per image). Raises
        QueueFull, ShuttingDown, TimeoutError, or what ``run`` raised for this request."""
        loop = asyncio.get_running_loop()
        job = _Job(images, options, loop, loop.create_future())
        with self._cond:
            if self._closing or not self._thread.is_alive():
                raise ShuttingDown(f"model {self.name!r} is shutting down")
            if self._queued + len(images) > self.queue_size:
                raise QueueFull(f"model {self.name!r}'s queue is full ({self._queued} of "
                                f"{self.queue_size} images waiting)")
            self._queue.append(job)
            self._queued += len(images)
            self._cond.notify()
        try:
            return await asyncio.wait_for(job.future, timeout)
        except BaseException:  # timed out, or the client went away (cancelled)
            self._withdraw(job)
            raise

    def _withdraw(self, job: _Job) -> None:
        with self._cond:
            try:
                self._queue.remove(job)
            except ValueError:
                return  # already taken into a batch; its answer will be dropped
            self._queued -= len(job.images)

    def close(self, timeout: float | None = None) -> bool:
        """Take no more requests, answer those queued, stop the thread. True when it
        stopped within ``timeout``."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the worker thread --------------------------------------------------------------

    def _work(self) -> None:
        try:
            run = self._load()
        except BaseException as exc:  # reported by the app, not raised here
            log.error("model %r failed to load: %s", self.name, exc)
            self.error = exc
            self.ready.set()
            return
        self.ready.set()
        while True:
            jobs = self._take()
            if jobs is None:
                return
            self._run(run, jobs)

    def _take(self) -> list[_Job] | None:
        """The next batch: whole requests in order, up to max_batch_size images (a
        request with more is a batch of its own), once the batch is full or the oldest
        has waited max_wait_s. None when closing with nothing left."""
        with self._cond:
            while not self._queue:
                if self._closing:
                    return None
                self._cond.wait()
            deadline = self._queue[0].arrived + self.max_wait_s
            while self._queue and self._queued < self.max_batch_size and not self._closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            jobs, count = [], 0
            while self._queue:
                job = self._queue[0]
                if jobs and count + len(job.images) > self.max_batch_size:
                    break
                self._queue.popleft()
                self._queued -= len(job.images)
                jobs.append(job)
                count += len(job.images)
            return jobs

    def _run(self, run: RunBatch, jobs: list[_Job]) -> None:
        jobs = [job for job in jobs if not job.future.done()]  # cancelled since taken
        if not jobs:
            return
        try:
            results = run([job.images for job in jobs], [job.options for job in jobs])
        except BaseException as exc:  # handed to the requests: never kills the worker
            if not isinstance(exc, Exception):  # e.g. SystemExit from a runtime's code:
                # asyncio futures re-raise these in the event loop, so they travel wrapped
                exc = RuntimeError(f"the runtime raised {type(exc).__name__}: {exc}")
            if len(jobs) > 1:  # find the request that fails; the others get their answers
                for job in jobs:
                    self._run(run, [job])
                return
            log.warning("model %r: a request failed: %s: %s", self.name, type(exc).__name__, exc)
            _hand(jobs[0], exc)
            return
        for job, result in zip(jobs, results, strict=True):
            _hand(job, result)


def _hand(job: _Job, outcome: Any) -> None:
    """Give a waiting request its result (or exception) on its event loop's thread."""
    def settle() -> None:
        if job.future.done():  # timed out or cancelled meanwhile
            return
        if isinstance(outcome, BaseException):
            job.future.set_exception(outcome)
        else:
            job.future.set_result(outcome)
    try:
        job.loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop is closed: nobody is waiting any more
        pass
