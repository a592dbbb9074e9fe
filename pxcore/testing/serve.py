"""Helpers for tests of ``px serve`` (pxcore.serve): an app under uvicorn in a thread with
an httpx client for it, a gate that holds a predictor's calls, seeded PNG images, and the
other pieces the serve, page and fault tests share. Every wait is bounded by ``WAIT_S``.
Nothing is imported until used: uvicorn, httpx and cv2 are pxcore[serve]'s and the test
extra's."""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

WAIT_S = 60  # the most any test waits for a server or an answer


@contextlib.contextmanager
def plain_plugins(*plugins):
    """A registry with entry-point autoloading off (no ONNX conversion on export) and
    only ``plugins`` ((plugin, name or None) pairs) registered; reset after."""
    import pytest

    import pxcore
    from pxcore.plugins import ENV_DISABLE_AUTOLOAD

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV_DISABLE_AUTOLOAD, "1")
        pxcore.plugins.reset()
        for plugin, name in plugins:
            pxcore.register_plugin(plugin, name=name) if name else pxcore.register_plugin(plugin)
        try:
            yield
        finally:
            pxcore.plugins.reset()


def vary(net, seed=0):
    """Seeded noise on the 1-D parameters, so an untrained net's scores depend on the
    image (and a detector finds boxes); as .ci/deploy_only.py does."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for param in net.parameters():
        value = param.numpy()
        if value.ndim == 1 and not param.stop_gradient:
            param.set_value((value + rng.normal(0, 0.5, value.shape)).astype(value.dtype))


def png(seed: int, size=(40, 48)) -> bytes:
    """A seeded PNG (height, width = ``size``): gradients, noise and a disc."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size[0], 0:size[1]]
    image = np.stack([x * 5 + seed * 20, y * 5, (x + y) * 3], -1) % 256
    image = np.clip(image + rng.normal(0, 20, image.shape), 0, 255).astype(np.uint8)
    cv2.circle(image, (size[1] // 2, size[0] // 2), min(size) // 4, (250, 30 * seed % 256, 30), -1)
    ok, data = cv2.imencode(".png", image)
    return data.tobytes()


def rgb(data: bytes):
    """An encoded image's pixels, RGB, as the server decodes them."""
    import cv2
    import numpy as np

    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def serve_options(export, name="cls", **kwargs):
    """ServeOptions serving ``export`` as ``name`` on Paddle Inference, one thread."""
    from pxcore.serve.app import ServeOptions

    return ServeOptions(models=[f"{name}={export}"], runtime="paddle", threads=1, **kwargs)


@contextlib.contextmanager
def serving(app):
    """``app`` under uvicorn in a thread on 127.0.0.1 (a port of its own): an httpx
    client for it. Startup (models loaded and warmed) and shutdown are bounded."""
    import httpx
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=10))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        assert thread.is_alive(), "the server stopped during startup"
        assert time.monotonic() < deadline, "the server did not start in time"
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=WAIT_S) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(WAIT_S)
        sock.close()
        assert not thread.is_alive(), "the server did not shut down"


def concurrently(calls):
    """Each of ``calls`` in a thread of its own, at once; their results in order."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result(timeout=WAIT_S) for f in [pool.submit(c) for c in calls]]


class Gate:
    """Wraps a Predictor's predict so that calls wait until ``open()`` (bounded)."""

    def __init__(self, predictor):
        self.entered, self.released, self._predict = threading.Event(), threading.Event(), predictor.predict

    def __call__(self, *args, **kwargs):
        self.entered.set()
        assert self.released.wait(WAIT_S)
        return self._predict(*args, **kwargs)

    def open(self):
        self.released.set()
