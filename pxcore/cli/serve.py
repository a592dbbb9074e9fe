"""``px serve MODEL_DIR [MODEL_DIR ...]``: exported models behind HTTP (pxcore.serve),
with dynamic batching, bounded queues, limits and an optional API key."""

from __future__ import annotations

import os


def add_parser(sub, name):
    from ..serve.limits import ImageLimits  # loads no OpenCV (see run)

    p = sub.add_parser(name, help="serve exported models over HTTP with dynamic batching",
                       description="Serve exported models (px export) over HTTP: POST "
                       "/v1/models/NAME/predict, GET /v1/models, /health, /ready, /metrics, "
                       "/docs. Needs the 'serve' extra: pip install 'pxcore[serve]'.")
    p.add_argument("models", nargs="+", metavar="MODEL_DIR",
                   help="exported model directories, each DIR (named after the folder) or NAME=DIR")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (127.0.0.1; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8866, help="port (8866)")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes, each loading every model (1); the server is stateless")
    p.add_argument("--max-batch-size", type=int, default=8,
                   help="images one batched call takes at most (8)")
    p.add_argument("--max-wait-ms", type=float, default=5.0,
                   help="how long the oldest queued request waits for others to join its batch (5)")
    p.add_argument("--queue-size", type=int, default=64,
                   help="images that may wait per model; past it requests get 503 (64)")
    p.add_argument("--timeout-s", type=float, default=30.0,
                   help="a request unanswered after this gets 504 (30)")
    p.add_argument("--max-body-mb", type=float, default=20.0,
                   help="largest request body in MiB; larger gets 413 (20)")
    p.add_argument("--max-image-pixels", type=int, default=ImageLimits.max_pixels,
                   help="largest image in pixels, as decoded; larger gets 400 "
                   f"({ImageLimits.max_pixels:,})")
    p.add_argument("--max-aspect-ratio", type=float, default=ImageLimits.max_aspect_ratio,
                   help="longest side over shortest side at most; pre-processing scales a thin "
                   f"strip up to a huge image ({ImageLimits.max_aspect_ratio:g})")
    p.add_argument("--api-key-env", metavar="VAR",
                   help="require the API key held in this environment variable (401 without it)")
    p.add_argument("--runtime", default="auto", help="auto (default), paddle, onnxruntime, openvino, ...")
    p.add_argument("--device", default="cpu", help="cpu (default), gpu or gpu:N")
    p.add_argument("--threads", type=int, help="runtime threads per model (the runtime's default)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    return p


def run(args) -> int:
    import sys

    from ..errors import PxError

    if args.max_image_pixels < 1 or not args.max_aspect_ratio >= 1:
        raise PxError("--max-image-pixels must be at least 1 and --max-aspect-ratio at least 1, got "
                      f"{args.max_image_pixels} and {args.max_aspect_ratio}")
    from ..serve.malloc import limit_arenas

    limit_arenas()  # before the runtimes' and the thread pool's threads exist
    if "cv2" not in sys.modules:  # OpenCV reads it once, when loaded: then it refuses
        # a too large image from its header instead of allocating its pixels
        os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(args.max_image_pixels))

    try:
        import uvicorn

        from ..serve.app import OPTIONS_ENV, ServeOptions
        from ..serve.models import parse_model_args
    except ImportError as exc:
        raise PxError(f"px serve needs the 'serve' extra ({exc.name} is missing): "
                      "pip install 'pxcore[serve]'") from None
    for flag, value in (("--workers", args.workers), ("--max-batch-size", args.max_batch_size),
                        ("--queue-size", args.queue_size)):
        if value < 1:
            raise PxError(f"{flag} must be at least 1, got {value}")
    for flag, value in (("--max-wait-ms", args.max_wait_ms), ("--timeout-s", args.timeout_s),
                        ("--max-body-mb", args.max_body_mb)):
        if not value >= 0:
            raise PxError(f"{flag} must not be negative, got {value}")
    options = ServeOptions(models=list(args.models), runtime=args.runtime, device=args.device,
                           threads=args.threads, max_batch_size=args.max_batch_size,
                           max_wait_ms=args.max_wait_ms, queue_size=args.queue_size,
                           timeout_s=args.timeout_s, max_body_mb=args.max_body_mb,
                           max_image_pixels=args.max_image_pixels,
                           max_aspect_ratio=args.max_aspect_ratio, api_key_env=args.api_key_env)
    parse_model_args(options.models)  # each is an export, named apart: fail before starting
    options.api_key()  # the variable is set
    # Every worker process builds the app from these (the key stays in its variable).
    os.environ[OPTIONS_ENV] = options.to_json()
    uvicorn.run("pxcore.serve.app:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level,
                # in-flight requests get up to their own timeout to finish on SIGTERM
                timeout_graceful_shutdown=int(args.timeout_s) + 5)
    return 0
