"""The ASGI app (FastAPI): routes, limits, the API key, and the models' batchers.

    GET  /                           a page to try each model in a browser (page.html; open)
    POST /v1/models/{name}/predict   images as multipart files or JSON {"images": [base64]}
    GET  /v1/models                  what is served: names, tasks, labels, input sizes
    GET  /v1/models/{name}           one of them
    GET  /health                     alive (always open)
    GET  /ready                      every model loaded and warmed, not draining (open)
    GET  /metrics                    Prometheus text
    GET  /docs, /openapi.json        the API (open)

``create_app(options)`` builds it; the models load and warm up during startup (uvicorn
takes connections once they have), and shutdown drains each model's queue. The server
keeps nothing between requests, so any number of processes or replicas serve alike.
``app_from_env`` is the factory each ``--workers`` process calls (options as JSON in
PXCORE_SERVE_OPTIONS, never the API key itself: only the name of its variable).

The routes sit on paths of their own under /v1 so that a page can be served at ``/``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import os
import signal
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from ..data.images import ImageError
from ..errors import PxError
from .batching import Batcher, QueueFull, ShuttingDown
from .images import BadImage, ImageLimits, decode_base64, decode_upload
from .metrics import Metrics
from .models import ServedModel, parse_model_args

log = logging.getLogger("pxcore.serve")

OPTIONS_ENV = "PXCORE_SERVE_OPTIONS"
# The page holds no secret (it asks for the key and sends it with each request).
OPEN_PATHS = ("/", "/health", "/ready", "/docs", "/docs/oauth2-redirect", "/openapi.json")


@dataclass
class ServeOptions:
    """What ``px serve`` takes (its --help says each)."""

    models: list[str] = field(default_factory=list)  # DIR or NAME=DIR
    runtime: str = "auto"
    device: str = "cpu"
    threads: int | None = None
    max_batch_size: int = 8
    max_wait_ms: float = 5.0
    queue_size: int = 64
    timeout_s: float = 30.0
    max_body_mb: float = 20.0
    max_image_pixels: int = ImageLimits.max_pixels
    max_aspect_ratio: float = ImageLimits.max_aspect_ratio
    api_key_env: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeOptions:
        return cls(**json.loads(text))

    def api_key(self) -> str | None:
        """The key from the variable --api-key-env names (None without the option)."""
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env, "")
        if not key:
            raise PxError(f"--api-key-env names {self.api_key_env}, which is unset or empty here; "
                          f"export {self.api_key_env}=<key> first (or leave --api-key-env out)")
        return key

    def image_limits(self) -> ImageLimits:
        return ImageLimits(self.max_image_pixels, self.max_aspect_ratio)


def app_from_env() -> FastAPI:
    """The uvicorn factory of ``px serve``: the options from PXCORE_SERVE_OPTIONS."""
    return create_app(ServeOptions.from_json(os.environ[OPTIONS_ENV]))


# The page at /: one self-contained file; the browser lets it reach this server only.
PAGE_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                               "img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'",
    "cache-control": "no-cache",
}

# OpenAPI: the predict route reads its body itself (files or JSON), so it says which.
_PREDICT_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "images": {"type": "array", "items": {"type": "string", "format": "binary"},
                   "description": "image files (any field name; in order)"},
        "topk": {"type": "integer"}, "threshold": {"type": "number"}}}},
    "application/json": {"schema": {"type": "object", "required": ["images"], "properties": {
        "images": {"type": "array", "items": {"type": "string", "format": "byte"},
                   "description": "image files as base64 (or data: URIs); URLs are refused"},
        "topk": {"type": "integer", "description": "classification: classes per image (1)"},
        "threshold": {"type": "number", "description": "detection: keep boxes scoring at least this"}}}},
}}}


def create_app(options: ServeOptions, models: dict[str, ServedModel] | None = None) -> FastAPI:
    """The server for ``options.models`` (or ``models`` already made, for tests)."""
    api_key = options.api_key()
    limits = options.image_limits()
    if models is None:
        models = {name: ServedModel(name, path, options.runtime, options.device, options.threads,
                                    options.max_batch_size)
                  for name, path in parse_model_args(options.models).items()}
    batchers: dict[str, Batcher] = {}
    metrics = Metrics(lambda: {name: b.depth for name, b in batchers.items()})
    draining = False

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        nonlocal draining
        for name, model in models.items():
            batchers[name] = Batcher(name, partial(_loader, model, metrics), options.max_batch_size,
                                     options.max_wait_ms / 1000.0, options.queue_size)
            batchers[name].start()
        for name, batcher in batchers.items():
            await asyncio.get_running_loop().run_in_executor(None, batcher.ready.wait)
            if batcher.error is not None:
                for other in batchers.values():
                    other.close(timeout=5)
                raise RuntimeError(f"model {name!r} ({models[name].model_dir}) failed to load: "
                                   f"{batcher.error}")
            log.info("serving %s (%s, %s) from %s", name, models[name].task,
                     models[name].predictor.runtime, models[name].model_dir)
        _restore_signal_handlers()
        yield
        draining = True  # uvicorn has answered the requests in flight; finish the queues
        for batcher in batchers.values():
            await asyncio.get_running_loop().run_in_executor(
                None, partial(batcher.close, timeout=options.timeout_s))

    app = FastAPI(title="pxcore serve", version="1", lifespan=lifespan,
                  description="Exported pxcore models behind HTTP, with dynamic batching.")
    app.state.models, app.state.batchers, app.state.metrics = models, batchers, metrics

    def served(name: str) -> ServedModel:
        if name not in models:
            raise HTTPException(404, f"no model named {name!r}; this server serves: "
                                     f"{', '.join(sorted(models))}")
        return models[name]

    page = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    @app.get("/health", summary="alive")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/ready", summary="every model loaded and warmed up, and not draining")
    async def ready():
        waiting = [name for name in models if name not in batchers or not batchers[name].serving]
        body = {"ready": not waiting and not draining, "models": sorted(models)}
        if waiting or draining:
            body["not_ready"] = waiting
            return JSONResponse(body, status_code=503)
        return body

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    async def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models", summary="the served models")
    async def list_models() -> dict:
        return {"models": [models[name].describe() for name in sorted(models)]}

    @app.get("/v1/models/{name}", summary="one served model")
    async def show_model(name: str) -> dict:
        return served(name).describe()

    @app.post("/v1/models/{name}/predict", openapi_extra=_PREDICT_BODY,
              summary="predict one or several images")
    async def predict(name: str, request: Request):
        """Images as multipart/form-data files, or JSON ``{"images": [base64, ...]}``;
        options (``topk``, ``threshold``) as form fields, JSON keys or query parameters.
        Answers ``{"model", "task", "results": [one per image, in order]}``."""
        model = served(name)
        started = time.monotonic()
        try:
            images, opts = await _read_request(request, model, options.queue_size, limits)
            batcher = batchers.get(name)
            if batcher is None:
                raise ShuttingDown("the server is starting")
            results = await batcher.predict(images, opts, options.timeout_s)
            metrics.images.inc(name, amount=len(images))
            return {"model": name, "task": model.task, "results": results}
        except QueueFull as exc:
            retry = max(1, math.ceil(options.max_wait_ms / 1000.0 + batcher.depth / max(1, options.max_batch_size)))
            raise HTTPException(503, f"{exc}; retry later", headers={"Retry-After": str(retry)}) from None
        except ShuttingDown as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from None
        except TimeoutError:
            raise HTTPException(504, f"no answer within {options.timeout_s:g} s (--timeout-s); "
                                     "the server is busier than that allows") from None
        except (BadImage, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        except ImageError as exc:  # an image the pre-processing refused (too small, say)
            raise HTTPException(400, str(exc)) from None
        except ClientDisconnect:  # left while sending its body: no one to answer, no server error
            raise HTTPException(499, "the client closed the connection while sending its request") from None
        except StarletteHTTPException:  # FastAPI's and Starlette's own (413 from BodyLimit, say)
            raise
        except Exception as exc:
            raise HTTPException(500, f"prediction failed: {type(exc).__name__}: {exc}") from None
        finally:
            metrics.latency.observe(time.monotonic() - started, name)

    app.add_middleware(BodyLimit, max_bytes=int(options.max_body_mb * 1024 * 1024))
    if api_key is not None:
        app.add_middleware(ApiKey, key=api_key)
    app.add_middleware(CountRequests, metrics=metrics)
    return app


def _restore_signal_handlers() -> None:
    """Paddle (Paddle Inference's runtime) installs C-level SIGTERM and SIGINT handlers
    when it loads, replacing uvicorn's: SIGTERM would then kill the process instead of
    draining it. Python still holds uvicorn's handlers; install them again."""
    if threading.current_thread() is not threading.main_thread():
        return  # an app run in a thread (tests): the handlers are not its own
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if callable(handler):
            signal.signal(signum, handler)


def _loader(model: ServedModel, metrics: Metrics):
    run = model.load()
    return partial(run, on_call=lambda n: metrics.batch_size.observe(n, model.name))


async def _read_request(request: Request, model: ServedModel, max_images: int,
                        limits: ImageLimits):
    """The request's images (decoded RGB arrays) and options, or BadImage/ValueError."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields: dict[str, Any] = dict(request.query_params)
    if content_type == "multipart/form-data":
        try:
            form = await request.form(max_files=max_images + 1, max_fields=100)
        except StarletteHTTPException as exc:  # Starlette's 400 for a malformed body
            if exc.status_code != 400:
                raise
            raise ValueError(f"the multipart/form-data body cannot be read: {exc.detail} Send "
                             "each image as a file part (or JSON {\"images\": [base64, ...]})") from None
        uploads = [(key, value) for key, value in form.multi_items() if isinstance(value, UploadFile)]
        fields.update({k: v for k, v in form.multi_items() if not isinstance(v, UploadFile)})
        _count(len(uploads), max_images)
        files = [(f"image {i} ({u.filename or key!r})", await u.read()) for i, (key, u) in enumerate(uploads)]
        images = await run_in_threadpool(lambda: [decode_upload(data, source, limits) for source, data in files])
    elif content_type in ("application/json", ""):
        body = await request.body()
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"the body is not JSON ({exc}); send {{\"images\": [base64, ...]}} "
                             "or multipart/form-data files") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("images"), list):
            raise ValueError('the JSON body must be an object with "images": a list of base64 strings')
        _count(len(payload["images"]), max_images)
        fields.update({k: v for k, v in payload.items() if k != "images"})
        images = await run_in_threadpool(
            lambda: [decode_base64(text, f"image {i}", limits) for i, text in enumerate(payload["images"])])
    else:
        raise ValueError(f"Content-Type {content_type!r} is not taken; send multipart/form-data "
                         "files or application/json {\"images\": [base64, ...]}")
    unknown = set(fields) - {"topk", "threshold"}
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))}; this route takes topk "
                         "(classification) and threshold (detection)")
    return images, model.check_options(fields.get("topk"), fields.get("threshold"))


def _count(count: int, max_images: int) -> None:
    if count == 0:
        raise ValueError("the request holds no image")
    if count > max_images:
        raise HTTPException(413, f"{count} images in one request; at most {max_images} "
                                 "(--queue-size) fit the queue: split it")


# -- middleware (plain ASGI: it sees every request, and the body as it arrives) ------------

async def _send_json(send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(HTTPException):
    pass


class BodyLimit:
    """413 for a body over ``max_bytes``: at once by its Content-Length, else as soon as
    the bytes read pass the limit (chunked uploads), before more is read."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        detail = f"the request body is larger than {self.max_bytes / 2**20:g} MiB (--max-body-mb)"
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await _send_json(send, 413, detail, {"connection": "close"})
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(413, detail, headers={"connection": "close"})
            return message

        return await self.app(scope, limited, send)


class ApiKey:
    """401 unless the request carries the key (``Authorization: Bearer KEY`` or
    ``X-API-Key: KEY``), compared in constant time. Health, readiness and the API
    description stay open."""

    def __init__(self, app, key: str) -> None:
        self.app, self.key = app, key.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        given = headers.get(b"x-api-key", b"")
        scheme, _, token = headers.get(b"authorization", b"").partition(b" ")
        if scheme.lower() == b"bearer":
            given = token.strip()
        if not hmac.compare_digest(given, self.key):
            return await _send_json(send, 401, "this server needs an API key: send it as "
                                    "'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
                                    {"www-authenticate": "Bearer"})
        return await self.app(scope, receive, send)


class CountRequests:
    """pxcore_http_requests_total by route template (not the raw path: bounded labels)
    and status."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = [500]

        async def counted(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counted)
        finally:
            self.metrics.requests.inc(_route(scope), str(status[0]))


def _route(scope) -> str:
    app = scope.get("app")
    for route in getattr(app, "routes", ()):
        if route.matches(scope)[0] == Match.FULL:
            return getattr(route, "path", "other")
    return "other"
