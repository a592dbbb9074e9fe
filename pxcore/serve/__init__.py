"""``px serve``: exported models behind HTTP with dynamic batching (issue 22).

    app        the ASGI app (FastAPI): routes, body limit, API key, request counting;
               the models load and warm up at startup and drain at shutdown
    batching   Batcher: a model's bounded queue and the worker thread that runs one
               Predictor call per batch and hands each request its part
    models     ServedModel: an export read through pxcore.inference.Predictor, and
               what a batched call does per task (top-k, threshold, size groups)
    encoding   results as JSON: top-k lists, boxes with COCO RLE masks, label maps
               as base64 PNG (and back, for clients)
    images     uploads and base64 strings to RGB arrays, 400s that name the problem;
               URLs are refused, never fetched
    metrics    Prometheus text: requests by route and status, latency and batch-size
               histograms, queue depth

Serving stands on the inference layer alone: no paddle, nothing of training
(``pxcore.tasks``, ``pxcore.engine``), so ``pip install 'pxcore[serve]'
pxcore-runtime-onnx`` serves an export on a machine without paddle. FastAPI, uvicorn
and python-multipart come with the ``serve`` extra; importing this package does not
import them (``from pxcore.serve.app import create_app`` does).
"""
