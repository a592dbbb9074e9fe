"""``px serve`` under load (issue 22 item 3): throughput, latency, correctness, memory and
faults, all on 127.0.0.1.

    python bench/serve.py                  # the full run (about 10 minutes on 2 cores)
    python bench/serve.py --quick          # a smoke run: small models, few requests
    python bench/serve.py --parts memory,faults --no-write

Each server is a real ``px serve`` process (its runtime's threads, uvicorn's event
loop and its decoding threads); the clients are coroutines in this one process
(httpx.AsyncClient, ``--clients`` connections) sending request bodies built beforehand,
so the load generator costs little CPU. Client and server share the machine's cores
(2 on the development machine): the tables give the CPU seconds each used.

- throughput: ``--requests`` requests (2,000) from ``--clients`` (32) to ResNet50 served
  with dynamic batching (``--max-batch-size`` 8) and with batch-1 serving (max batch
  size 1), both servers up at once and measured in alternating rounds (A B B A ...) so
  that a change of load falls on both; then YOLOv3-MobileNetV1 (``--det-size`` 320,
  a stretching Resize: photos of any size share batches). Each answer is compared with
  the Predictor's for that image alone (same runtime and threads): classification top-5
  within pxcore.testing.numerics' tolerances, boxes with pxcore.testing.detections'.
  Target: dynamic batching at least 2x batch-1 serving's throughput on ResNet50.
- profile: where a ResNet50 request's time goes: decoding, pre-processing, the network
  at batch 1 and per image at batch 8 on each CPU runtime, and the CPU seconds server
  and clients used per request. The network's per-image cost at batch 8 over batch 1
  bounds what batching can gain.
- memory: MobileNetV3_small (224x224) served, ``--memory-requests`` (10,000) requests;
  the server's resident size after each 1,000. Target: after 10,000 within 5% of after
  the first 1,000.
- faults: against the memory server, clients leaving mid-upload and before their
  answers, malformed multipart bodies, 50 concurrent uploads over ``--max-body-mb``
  (pxcore.testing.serve_faults); then an in-process server (so that the runtime can be
  made to fail) with a runtime error inside a batch of 8. After each: the server is up,
  its queue empty, and the next answer is the Predictor's.

The models are untrained exports (random weights, the zoo's class counts, batch-norm
statistics from 8 other photos so that answers depend on the image): speed does not
depend on the weights. Exports are kept in ``--work-dir`` (a temporary folder by default) for reruns.
Writes its tables into bench/RESULTS.md (between this script's markers) unless
``--no-write`` or ``--quick``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime
import json
import logging
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from importlib import metadata
from pathlib import Path

import numpy as np
from results_section import RESULTS, cpu_name, load_average, write_section  # bench/ is on sys.path

BEGIN, END = "<!-- serve.py begin -->", "<!-- serve.py end -->"
PX = Path(sys.executable).with_name("px")
TOPK = 5
READY_S = 300  # the most a server may take to load and warm up
PHASE_S = 900  # the most one load phase may take
TARGET_SPEEDUP = 2.0
TARGET_RSS = 0.05
# numerics.py: through a deep network (or across runtimes) logits move by up to about
# 1e-4, and softmax scores relatively by as much; its SCORE_RTOL (1e-5) is the small
# networks' figure. Answers outside SCORE_RTOL are counted again within this.
DEEP_RTOL = 1e-4


# -- the exports and the images -------------------------------------------------------------

def calibrate_batch_norm(model, images: list[bytes]) -> None:
    """Batch-norm statistics from ``images`` (one pass in training mode with momentum 0).
    The untrained network's activations otherwise fade layer by layer (YOLO's head sees
    features of 1e-17 and answers the same boxes for every image); with these they have
    a trained network's scale, so answers depend on the image and YOLO's NMS sees a few
    dozen candidates, not noise. Speed does not depend on the weights."""
    import paddle

    from pxcore.data.images import decode_image
    from pxcore.inference.classification import preprocess

    batch = np.stack([preprocess(decode_image(d), model.eval_transforms) for d in images])
    layers = [layer for layer in model.net.sublayers() if isinstance(layer, paddle.nn.layer.norm._BatchNormBase)]
    momenta = [layer._momentum for layer in layers]
    for layer in layers:
        layer._momentum = 0.0
    model.net.train()
    with paddle.no_grad():
        model.net(paddle.to_tensor(batch))
    model.net.eval()
    for layer, momentum in zip(layers, momenta, strict=True):
        layer._momentum = momentum


def export(work: Path, name: str, det_size: int | None = None) -> Path:
    """An untrained export of ``name`` (reused when ``work`` has it), batch-norm
    statistics from 8 photos other than the requests' (``calibrate_batch_norm``)."""
    folder = work / (name if det_size is None else f"{name}-{det_size}")
    if (folder / "deploy.yml").exists():
        return folder
    import paddle

    import pxcore
    from pxcore.transforms import Compose, Normalize, Resize

    paddle.seed(0)
    model = pxcore.create_model(name)
    if det_size is not None:
        model.eval_transforms = Compose([Resize(det_size, interp="CUBIC"), Normalize()])
    calibrate_batch_norm(model, photos(8, seed=1))
    return model.export(folder)


def photos(count: int, seed: int = 0) -> list[bytes]:
    """``count`` JPEGs: crops of scikit-learn's two photos at random places and sizes
    (short sides 160 to 427 px, so every request's image is its own size)."""
    import cv2
    from sklearn.datasets import load_sample_images

    sources = load_sample_images().images
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        photo = sources[i % len(sources)]
        height, width = photo.shape[:2]
        h, w = int(rng.integers(160, height + 1)), int(rng.integers(160, width + 1))
        y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(photo[y:y + h, x:x + w], cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        out.append(data.tobytes())
    return out


def bodies(images: list[bytes], options: dict) -> list[tuple[str, bytes]]:
    """Each image as a ready request body, even ones multipart, odd ones JSON base64
    (both of the route's forms), with ``options`` (topk, threshold)."""
    from pxcore.testing.serve_faults import BOUNDARY, multipart

    out = []
    for i, data in enumerate(images):
        if i % 2 == 0:
            fields = b"".join(f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                              .encode() for k, v in options.items())
            body = multipart([(f"{i}.jpg", data)])
            out.append((f"multipart/form-data; boundary={BOUNDARY}", fields + body))
        else:
            payload = {"images": [base64.b64encode(data).decode()], **options}
            out.append(("application/json", json.dumps(payload).encode()))
    return out


# -- a px serve process ---------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``px serve NAME=DIR`` as a child process on 127.0.0.1; its pid's CPU and RSS."""

    def __init__(self, name: str, model_dir: Path, log: Path, max_batch_size: int = 8,
                 max_wait_ms: float = 5.0, runtime: str = "auto", threads: int | None = None,
                 max_body_mb: float = 20.0, queue_size: int = 64) -> None:
        self.name, self.port = name, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [str(PX), "serve", f"{name}={model_dir}", "--port", str(self.port),
                   "--max-batch-size", str(max_batch_size), "--max-wait-ms", str(max_wait_ms),
                   "--runtime", runtime, "--max-body-mb", str(max_body_mb),
                   "--queue-size", str(queue_size), "--log-level", "warning"]
        if threads:
            command += ["--threads", str(threads)]
        self.log = log
        self._log_file = open(log, "w")  # noqa: SIM115 (closed in stop)
        env = {**os.environ, "GLOG_minloglevel": "2"}
        self.process = subprocess.Popen(command, stdout=self._log_file, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self) -> dict:
        import httpx

        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"px serve exited ({self.process.returncode}): "
                                   f"{self.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/ready", timeout=5).status_code == 200:
                    return httpx.get(f"{self.url}/v1/models/{self.name}", timeout=5).json()
            time.sleep(0.3)
        raise RuntimeError(f"px serve was not ready within {READY_S} s")

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        text = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) / 1024

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self._log_file.close()


# -- the load generator ---------------------------------------------------------------------

async def _load(url: str, requests: list[tuple[str, bytes]], count: int, clients: int, offset: int = 0):
    """``count`` requests from ``clients`` concurrent connections, request i being
    ``requests[(offset + i) % len]``. Returns (wall s, client CPU s, [(image index,
    status, latency s, body)])."""
    import httpx

    indices = iter(range(count))
    done: list = []
    deadline = time.monotonic() + PHASE_S
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        async def one_client():
            for i in indices:  # shared: each request is taken by one client
                if time.monotonic() > deadline:
                    return
                k = (offset + i) % len(requests)
                content_type, body = requests[k]
                start = time.perf_counter()
                try:
                    answer = await client.post(url, content=body, headers={"content-type": content_type})
                    done.append((k, answer.status_code, time.perf_counter() - start, answer.content))
                except httpx.HTTPError as exc:
                    done.append((k, type(exc).__name__, time.perf_counter() - start, b""))

        cpu, start = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        return time.perf_counter() - start, time.process_time() - cpu, done


def load(server: Server, requests, count: int, clients: int, offset: int = 0) -> dict:
    cpu = server.cpu_s()
    wall, client_cpu, done = asyncio.run(_load(f"{server.url}/v1/models/{server.name}/predict",
                                               requests, count, clients, offset))
    return {"wall": wall, "client_cpu": client_cpu, "server_cpu": server.cpu_s() - cpu, "done": done}


def merge(phases: list[dict]) -> dict:
    out = {key: sum(p[key] for p in phases) for key in ("wall", "client_cpu", "server_cpu")}
    out["done"] = [d for p in phases for d in p["done"]]
    return out


def check(done, references, task: str, rtol: float | None = None) -> tuple[int, int, list[str]]:
    """(answered 200, equal to the Predictor's, first few differences). Classification:
    top-5 within numerics' SCORE_RTOL, or ``rtol``."""
    from pxcore.testing.detections import assert_same_detection_lists
    from pxcore.testing.numerics import assert_same_classifications

    ok = same = 0
    problems: list[str] = []
    for k, status, _, body in done:
        if status != 200:
            if len(problems) < 5:
                problems.append(f"image {k}: {status} {body[:200]!r}")
            continue
        ok += 1
        results = json.loads(body)["results"]
        try:
            if task == "classification":
                assert_same_classifications(results, [references[k]], **({"rtol": rtol} if rtol else {}))
            else:
                assert_same_detection_lists(results, [references[k]])
            same += 1
        except AssertionError as exc:
            if len(problems) < 5:
                problems.append(f"image {k}: {str(exc)[:300]}")
    return ok, same, problems


def summary(label: str, phase: dict, references, task: str) -> dict:
    done = phase["done"]
    latencies = np.array([d[2] for d in done]) * 1000
    ok, same, problems = check(done, references, task)
    deep = check(done, references, task, DEEP_RTOL)[1] if task == "classification" and same < ok else same
    return {"label": label, "requests": len(done), "ok": ok, "same": same, "deep": deep, "problems": problems,
            "rps": len(done) / phase["wall"], "p50": float(np.percentile(latencies, 50)),
            "p99": float(np.percentile(latencies, 99)), "wall": phase["wall"],
            "server_cpu": phase["server_cpu"], "client_cpu": phase["client_cpu"]}


def references_for(model_dir: Path, images: list[bytes], described: dict, threads, options: dict):
    """What the Predictor answers for each image alone, encoded as the server encodes."""
    import pxcore
    from pxcore.data.images import decode_image
    from pxcore.serve.encoding import encode_result

    predictor = pxcore.Predictor(model_dir, runtime=described["runtime"], threads=threads)
    out = []
    for i, data in enumerate(images):
        result = predictor.predict(decode_image(data, f"image {i}"), **options)
        out.append(json.loads(json.dumps(encode_result(predictor.task, result))))
    return out


# -- the parts ------------------------------------------------------------------------------

def compare(args, name: str, model: str, model_dir: Path, images: list[bytes], task: str, options: dict,
            counts: tuple[int, int], work: Path) -> list[dict]:
    """``model`` served with dynamic batching and with batch-1 serving, both up at once,
    ``counts`` requests each spread over ``--rounds`` rounds taken in alternating order
    (A B, B A, ...). Rows: batching first."""
    configs = [(f"dynamic batching (max batch {args.max_batch_size}, wait {args.max_wait_ms:g} ms)",
                args.max_batch_size, args.max_wait_ms), ("batch-1 serving (max batch 1)", 1, 0.0)]
    servers: list[Server] = [None, None]
    described: list[dict] = [None, None]
    try:
        for i in (1, 0):  # batch-1 first; batching takes the runtime it chose unless --batched-runtime
            _, b, w = configs[i]
            runtime = args.runtime if i == 1 else (args.batched_runtime or described[1]["runtime"])
            servers[i] = Server(name, model_dir, work / f"serve-{name}-{b}.log", b, w, runtime, args.threads)
            described[i] = servers[i].wait_ready()
        print(f"{model}: runtimes {[d['runtime'] for d in described]}", flush=True)
        requests = bodies(images, options)
        references = references_for(model_dir, images, described[1], args.threads, options)
        for server in servers:  # warm-up, not counted
            load(server, requests, 2 * args.clients, args.clients)
        per_round = [count // args.rounds for count in counts]
        phases: list[list[dict]] = [[], []]
        for r in range(args.rounds):
            for s in ((0, 1) if r % 2 == 0 else (1, 0)):
                phase = load(servers[s], requests, per_round[s], args.clients, offset=r * per_round[s])
                phases[s].append(phase)
                print(f"  round {r + 1}/{args.rounds} {configs[s][0]}: {per_round[s] / phase['wall']:.1f} req/s",
                      flush=True)
        rows = []
        for s, ((label, _, _), phase, d) in enumerate(zip(configs, phases, described, strict=True)):
            rows.append(summary(label, merge(phase), references, task))
            rows[-1].update(runtime=d["runtime"], model=model, alive=servers[s].alive(),
                            rounds=[per_round[s] / p["wall"] for p in phase],
                            boxes=sum(len(r) for r in references) / len(references))
        return rows
    finally:
        for server in servers:
            if server is not None:
                server.stop()


def throughput(args, work: Path, images: list[bytes]) -> dict:
    """The classifier, then the detector, each with dynamic batching against batch-1 serving."""
    cls_dir = export(work, args.cls_model)
    cls = compare(args, "cls", args.cls_model, cls_dir, images, "classification", {"topk": TOPK},
                  (args.requests, args.requests), work)
    det_dir = export(work, "YOLOv3-MobileNetV1", args.det_size)
    det = compare(args, "yolo", f"YOLOv3-MobileNetV1 {args.det_size}x{args.det_size}", det_dir, images,
                  "detection", {}, (args.requests, args.det_batch1_requests), work)
    return {"cls": cls, "det": det, "cls_dir": cls_dir, "det_dir": det_dir}


def profile(args, model_dir: Path, images: list[bytes], cls_rows: list[dict], det_dir: Path,
            det_row: dict) -> list[tuple[str, str]]:
    """Where a request's time goes (ms): measured in this process on the idle machine."""
    import pxcore
    from pxcore.data.images import decode_image
    from pxcore.inference.classification import postprocess, preprocess
    from pxcore.inference.fused import fuse
    from pxcore.serve.encoding import encode_result

    def best(fn, repeat):
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times) * 1000, float(np.median(times)) * 1000

    rows = []
    predictor = pxcore.Predictor(model_dir, runtime=cls_rows[0]["runtime"], threads=args.threads)
    fused = fuse(predictor.transforms)
    decoded = [decode_image(d) for d in images]
    _, decode_ms = best(lambda: [decode_image(d) for d in images], 3)
    rows.append(("decode a JPEG (in the server's thread pool)", f"{decode_ms / len(images):.2f}"))
    _, pre_ms = best(lambda: [preprocess(x, predictor.transforms, 0, fused) for x in decoded], 3)
    rows.append(("pre-process (resize, crop, normalize; in the worker)", f"{pre_ms / len(images):.2f}"))
    chw = [preprocess(x, predictor.transforms, 0, fused) for x in decoded]
    logits = predictor.run(np.stack(chw[:8]))[0]
    post = lambda: [encode_result("classification", r) for r in postprocess(logits, predictor.labels, TOPK)]  # noqa: E731
    _, post_ms = best(post, 20)
    rows.append(("post-process and encode, top-5 (in the worker)", f"{post_ms / 8:.3f}"))
    for runtime in ("onnxruntime", "openvino", "paddle"):
        try:
            bare = pxcore.Predictor(model_dir, runtime=runtime, threads=args.threads)
        except Exception as exc:  # reported in the table
            rows.append((f"network, {runtime}", f"not run: {type(exc).__name__}"))
            continue
        one, eight = np.stack(chw[:1]), np.stack(chw[:8])
        run = bare.run
        run(one), run(eight)  # warm-up
        ms1 = best(partial(run, one), args.profile_runs)[0]
        ms8 = best(partial(run, eight), max(3, args.profile_runs // 4))[0] / 8
        rows.append((f"{args.cls_model} network, {runtime}: batch 1 / per image at batch 8 (best)",
                     f"{ms1:.1f} / {ms8:.1f} ({ms1 / ms8:.2f}x)"))
        bare = run = None  # the session's memory goes before the next runtime's
    from pxcore.inference.detection import preprocess as det_preprocess

    detector = pxcore.Predictor(det_dir, runtime=det_row["runtime"], threads=args.threads)
    chw = [det_preprocess(x, detector.transforms)[0] for x in decoded[:8]]
    one, eight = np.stack(chw[:1]), np.stack(chw)
    detector.run(one), detector.run(eight)
    ms1 = best(partial(detector.run, one), max(3, args.profile_runs // 2))[0]
    ms8 = best(partial(detector.run, eight), 3)[0] / 8
    rows.append((f"{det_row['model']} network, {det_row['runtime']}: batch 1 / per image at batch 8 (best)",
                 f"{ms1:.1f} / {ms8:.1f} ({ms1 / ms8:.2f}x)"))
    prepared = [det_preprocess(x, detector.transforms) for x in decoded[:8]]
    _, pre_ms = best(lambda: [det_preprocess(x, detector.transforms) for x in decoded[:8]], 3)
    outputs = detector.run(np.stack([c[0] for c in prepared]))
    scales, sizes = np.stack([c[1] for c in prepared]), [c[2] for c in prepared]
    _, post_ms = best(lambda: detector._postprocess(outputs, scales, sizes), 3)
    rows.append((f"{det_row['model']} pre-process / decode boxes and NMS, per image at batch 8 (in the worker)",
                 f"{pre_ms / 8:.1f} / {post_ms / 8:.1f}"))
    for row in cls_rows:
        rows.append((f"server CPU per request, {row['label']}", f"{row['server_cpu'] / row['requests'] * 1000:.1f}"))
        rows.append((f"client CPU per request, {row['label']}", f"{row['client_cpu'] / row['requests'] * 1000:.1f}"))
    return rows


def memory(args, work: Path, images: list[bytes]) -> tuple[dict, Server]:
    model_dir = export(work, args.mem_model)
    server = Server("mem", model_dir, work / "serve-mem.log", args.max_batch_size, args.max_wait_ms,
                    args.runtime, args.threads, max_body_mb=args.max_body_mb)
    described = server.wait_ready()
    requests = bodies(images, {"topk": TOPK})
    references = references_for(model_dir, images, described, args.threads, {"topk": TOPK})
    step = args.memory_requests // 10
    samples, phases = [(0, server.rss_mb())], []
    for i in range(10):
        phases.append(load(server, requests, step, args.clients, offset=i * step))
        samples.append(((i + 1) * step, server.rss_mb()))
        print(f"  {samples[-1][0]} requests: RSS {samples[-1][1]:.1f} MB", flush=True)
    row = summary("memory", merge(phases), references, "classification")
    first, last = samples[1][1], samples[-1][1]
    return ({"model": args.mem_model, "runtime": described["runtime"], "samples": samples, "first": first,
             "last": last, "growth": last / first - 1, "row": row, "references": references,
             "requests": requests, "model_dir": model_dir}, server)


def faults(args, server: Server, mem: dict, images: list[bytes]) -> list[tuple[str, str, str]]:
    """Misbehaving clients against the memory server, then a runtime error in a batch
    (in-process); each row: (fault, what the clients saw, after it)."""
    import httpx

    from pxcore.testing import serve_faults

    path = f"/v1/models/{server.name}/predict"
    rows = []

    def depth() -> float:
        return float(re.search(r'pxcore_queue_depth_images\{model="mem"\} (\S+)',
                               httpx.get(f"{server.url}/metrics", timeout=30).text).group(1))

    def after() -> str:
        start, deadline = time.monotonic(), time.monotonic() + 60
        while depth() and time.monotonic() < deadline:  # requests of clients that left, still queued
            time.sleep(0.05)
        drained = time.monotonic() - start
        ready = httpx.get(f"{server.url}/ready", timeout=30).status_code
        sent = load(server, mem["requests"], 16, 8)
        ok, same, problems = check(sent["done"], mem["references"], "classification")
        state = (f"up: /ready {ready}, queue {depth():g} (empty after {drained:.1f} s), next 16 requests {ok} "
                 f"answered, {same} equal to the Predictor's, RSS {server.rss_mb():.0f} MB")
        return state + (f" ({problems[0]})" if problems else "")

    body = serve_faults.multipart([("a.jpg", images[0])])
    content_type = f"multipart/form-data; boundary={serve_faults.BOUNDARY}"
    n = serve_faults.disconnect_mid_upload(server.port, path, images[0], count=20)
    rows.append(("clients leave mid-upload", f"{n} connections closed (half reset) after half the file", after()))
    n = serve_faults.leave_before_the_answer(server.port, path, body, content_type, count=20)
    rows.append(("clients leave before their answer", f"{n} whole requests sent, connections closed", after()))
    statuses = [serve_faults.post_raw(server.port, path, ct, b)[0]
                for ct, b in serve_faults.malformed_multipart(images[0]).values()]
    rows.append(("malformed multipart (7 kinds)", f"statuses {sorted(set(statuses))}", after()))
    size = int((args.max_body_mb + 1) * 2**20)
    outcomes = serve_faults.oversized_uploads(server.port, path, size=size, count=50)
    seen = {o: outcomes.count(o) for o in sorted(set(outcomes))}
    rows.append((f"50 concurrent uploads of {size / 2**20:.0f} MiB (limit {args.max_body_mb:g}; half chunked)",
                 ", ".join(f"{k}: {v}" for k, v in seen.items()), after()))
    rows.append(("a runtime error inside a batch of 8 (in-process server)", *batch_error(args, mem)))
    return rows


def batch_error(args, mem: dict) -> tuple[str, str]:
    """An in-process server whose runtime raises for any batch holding one marked image:
    8 concurrent requests, one marked."""
    import httpx
    import uvicorn

    from pxcore.serve.app import ServeOptions, create_app

    options = ServeOptions(models=[f"mem={mem['model_dir']}"], runtime=mem["runtime"], threads=args.threads,
                           max_batch_size=8, max_wait_ms=500)
    app = create_app(options)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + READY_S
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        model = app.state.models["mem"]
        predict, batches = model.predictor.predict, []

        def poisoned(batch, **kwargs):
            batches.append(len(batch))
            if any(image.shape[:2] == (77, 77) for image in batch):
                raise RuntimeError("the runtime fell over")
            return predict(batch, **kwargs)

        model.predictor.predict = poisoned
        import cv2

        ok, marked = cv2.imencode(".png", np.full((77, 77, 3), 128, np.uint8))
        count = len(mem["requests"])
        requests = [mem["requests"][k % count] for k in range(7)] + [("application/json", json.dumps(
            {"images": [base64.b64encode(marked.tobytes()).decode()]}).encode())]

        async def send():
            url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1/models/mem/predict"
            async with httpx.AsyncClient(timeout=60) as client:
                return await asyncio.gather(*(client.post(url, content=b, headers={"content-type": ct})
                                              for ct, b in requests))

        answers = asyncio.run(send())
        done = [(k % count, a.status_code, 0.0, a.content) for k, a in enumerate(answers[:7])]
        ok_, same, _ = check(done, mem["references"], "classification")
        after = asyncio.run(_load(f"http://127.0.0.1:{sock.getsockname()[1]}/v1/models/mem/predict",
                                  mem["requests"], 8, 4))[2]
        ok_after, same_after, _ = check(after, mem["references"], "classification")
        batcher = app.state.batchers["mem"]
        seen = (f"batches run {batches[:3]}...; the marked request {answers[7].status_code} "
                f"({answers[7].json()['detail']}); the other 7: {ok_} answered, {same} equal to the Predictor's")
        state = (f"up: worker alive {batcher._thread.is_alive()}, queue {batcher.depth}, next 8 requests "
                 f"{ok_after} answered, {same_after} equal")
        return seen, state
    finally:
        server.should_exit = True
        thread.join(60)
        sock.close()


# -- the report -----------------------------------------------------------------------------

def versions() -> str:
    names = ("pxcore", "paddlepaddle", "onnxruntime", "openvino", "fastapi", "starlette", "uvicorn",
             "python-multipart", "httpx")
    found = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    return f"Python {platform.python_version()}, " + ", ".join(found)


def table(rows: list[dict]) -> str:
    lines = ["| model | serving | runtime | requests | answered | equal to Predictor | req/s | p50 ms | p99 ms "
             "| server CPU s | client CPU s | wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        same = f"{r['same']}" if r["same"] == r["deep"] else f"{r['same']} ({r['deep']} within rtol {DEEP_RTOL:g})"
        lines.append(f"| {r['model']} | {r['label']} | {r['runtime']} | {r['requests']} | {r['ok']} | {same} "
                     f"| {r['rps']:.1f} | {r['p50']:.0f} | {r['p99']:.0f} | {r['server_cpu']:.0f} "
                     f"| {r['client_cpu']:.0f} | {r['wall']:.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: MobileNetV3_small for both classifiers, YOLO at 160, 64 requests "
                             "from 8 clients, 1,000 for memory; writes nothing")
    parser.add_argument("--parts", default="throughput,memory,faults")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds for the batching comparison")
    parser.add_argument("--memory-requests", type=int, default=10000)
    parser.add_argument("--max-batch-size", type=int, default=8)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--max-body-mb", type=float, default=1.0, help="the memory/fault server's limit")
    parser.add_argument("--runtime", default="auto")
    parser.add_argument("--batched-runtime", help="the batching ResNet50 server's runtime (default: the one "
                        "--runtime gave the batch-1 server)")
    parser.add_argument("--threads", type=int, default=None, help="runtime threads (the runtime's default)")
    parser.add_argument("--det-size", type=int, default=320)
    parser.add_argument("--det-batch1-requests", type=int, default=500,
                        help="requests to the detector's batch-1 server (fewer: it is slow)")
    parser.add_argument("--cls-model", default="ResNet50")
    parser.add_argument("--mem-model", default="MobileNetV3_small")
    parser.add_argument("--images", type=int, default=32, help="distinct photos the requests cycle through")
    parser.add_argument("--profile-runs", type=int, default=12)
    parser.add_argument("--work-dir", type=Path, help="keep the exports here (reused by later runs)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md")
    if parser.parse_known_args()[0].quick:  # its values unless given on the command line
        parser.set_defaults(requests=64, clients=8, rounds=2, memory_requests=1000, cls_model="MobileNetV3_small",
                            det_size=160, det_batch1_requests=32, images=8, profile_runs=3, no_write=True)
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    started = (datetime.datetime.now(datetime.timezone.utc), load_average())
    for name in ("pxcore", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("GLOG_minloglevel", "2")
    images = photos(args.images)
    with contextlib.ExitStack() as stack:
        work = args.work_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pxbench-serve-")))
        work.mkdir(parents=True, exist_ok=True)
        sections = []
        if "throughput" in parts:
            result = throughput(args, work, images)
            def ratio(rows):
                rounds = "; ".join(f"{r['label'].split(' (')[0]}: " + ", ".join(f"{x:.1f}" for x in r["rounds"])
                                   for r in rows)
                return rows[0]["rps"] / rows[1]["rps"], f"Req/s per round: {rounds}."

            speedup, cls_rounds = ratio(result["cls"])
            det_speedup, det_rounds = ratio(result["det"])
            cls_table, det_table = table(result["cls"]), table(result["det"])
            verdict = (f"{args.cls_model}: dynamic batching / batch-1 serving **{speedup:.2f}x** (target at least "
                       f"{TARGET_SPEEDUP:g}x: {'met' if speedup >= TARGET_SPEEDUP else 'not met'}). {cls_rounds}")
            det_verdict = f"YOLOv3-MobileNetV1: dynamic batching / batch-1 serving {det_speedup:.2f}x. {det_rounds}"
            print(cls_table, verdict, det_table, det_verdict, sep="\n\n", flush=True)
            prof = profile(args, result["cls_dir"], images, result["cls"], result["det_dir"], result["det"][0])
            prof_table = "\n".join(["| where | ms |", "|---|---|"] + [f"| {a} | {b} |" for a, b in prof])
            print(prof_table, flush=True)
            problems = [p for r in [*result["cls"], *result["det"]] for p in r["problems"]]
            sections.append(
                f"### Throughput: {args.requests} requests from {args.clients} concurrent clients\n\n"
                f"{cls_table}\n\n{verdict}\n\n{det_table}\n\n{det_verdict} YOLO: {result['det'][0]['boxes']:.1f} boxes per image "
                "in the Predictor's answers (untrained weights with seeded noise).\n\n"
                f"Where a {args.cls_model} request's time goes (this process, idle servers, "
                f"{args.threads or 'default'} runtime threads):\n\n{prof_table}"
                + (f"\n\nDifferences: {'; '.join(problems)}" if problems else ""))
        if "memory" in parts or "faults" in parts:
            mem, server = memory(args, work, images)
            try:
                samples = ", ".join(f"{n}: {mb:.1f}" for n, mb in mem["samples"])
                growth = mem["growth"]
                mem_text = (f"{mem['model']} (224x224, {mem['runtime']}), {mem['row']['requests']} requests from "
                            f"{args.clients} clients, {mem['row']['ok']} answered, {mem['row']['same']} equal to "
                            f"the Predictor's, {mem['row']['rps']:.0f} req/s. Server RSS (MB) after N requests: "
                            f"{samples}. After {mem['samples'][-1][0]}: {mem['last']:.1f} MB against "
                            f"{mem['first']:.1f} MB after the first {mem['samples'][1][0]}: "
                            f"**{growth * 100:+.1f}%** (target within {TARGET_RSS * 100:g}%: "
                            f"{'met' if abs(growth) <= TARGET_RSS else 'not met'}).")
                if mem["row"]["problems"]:
                    mem_text += f" Not answered or different: {'; '.join(mem['row']['problems'])}."
                print(mem_text, flush=True)
                sections.append(f"### Memory\n\n{mem_text}")
                if "faults" in parts:
                    rows = faults(args, server, mem, images)
                    fault_table = "\n".join(["| fault | clients saw | then |", "|---|---|---|"]
                                            + [f"| {a} | {b} | {c} |" for a, b, c in rows])
                    alive = server.alive()
                    print(fault_table, f"server process alive: {alive}", sep="\n", flush=True)
                    sections.append(f"### Faults (the memory server, --max-body-mb {args.max_body_mb:g})\n\n"
                                    f"{fault_table}\n\nThe px serve process was alive after all of them: {alive}.")
            finally:
                server.stop()
    if not args.no_write:
        header = (f"{BEGIN}\n## Serving under load (issue 22): `python bench/serve.py`\n\n"
                  f"{started[0]:%Y-%m-%d %H:%M} UTC, {cpu_name()}, {os.cpu_count()} cores shared by the server "
                  f"process and the clients (one asyncio process, httpx), load average {started[1]} at the start; "
                  f"{versions()}. Untrained exports (random weights, batch-norm statistics from 8 other photos so "
                  "that answers depend on the image; speed does not depend on the weights). "
                  f"Runtime {args.runtime}, runtime threads: {args.threads or 'the default'}; "
                  f"--max-wait-ms {args.max_wait_ms:g}. "
                  "Equal to Predictor: the answer is what `Predictor.predict` gives for that image alone "
                  "(top-5 within pxcore.testing.numerics' tolerances; boxes with pxcore.testing.detections').")
        write_section(BEGIN, END, header + "\n\n" + "\n\n".join(sections) + f"\n{END}")
        print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
