"""``px serve`` (pxcore.serve): the routes, dynamic batching that forms batches and
answers what ``Predictor.predict`` answers for each image alone, and the limits (queue
503, timeout 504, body 413, bad images and URLs 400, API key 401, unknown model 404, a
failing batch's 500 with the next request answered), plus a real ``px serve`` process.

Tiny exports (FixtureNet, TinySeg, a 64 px YOLOv3-MobileNetV1) on Paddle Inference with
one thread; each server runs in-process (uvicorn in a thread, on 127.0.0.1 and a port
of its own); every wait is bounded."""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import pxcore
from pxcore.plugins import ENV_DISABLE_AUTOLOAD

httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("fastapi")

from serve_exports import LABELS  # noqa: E402

from pxcore.serve.app import create_app  # noqa: E402
from pxcore.serve.encoding import decode_label_map, encode_label_map, encode_result  # noqa: E402
from pxcore.serve.images import BadImage, decode_base64  # noqa: E402
from pxcore.serve.metrics import Metrics  # noqa: E402
from pxcore.testing.detections import assert_same_detection_lists  # noqa: E402
from pxcore.testing.numerics import assert_same_classifications  # noqa: E402
from pxcore.testing.serve import (  # noqa: E402
    WAIT_S,
    Gate,
    b64,
    concurrently,
    plain_plugins,
    png,
    rgb,
    serve_options,
    serving,
    vary,
)

# -- the routes, and answers equal to the Predictor's ---------------------------------------

@pytest.mark.parity
def test_routes_answer_what_the_predictor_gives(cls_export):
    reference = pxcore.Predictor(cls_export, runtime="paddle", threads=1)
    images = [png(i) for i in range(3)]
    app = create_app(serve_options(cls_export))
    with serving(app) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/ready").json() == {"ready": True, "models": ["cls"]}
        (described,) = client.get("/v1/models").json()["models"]
        assert described["name"] == "cls" and described["task"] == "classification"
        assert described["labels"] == LABELS and described["input_size"] == [32, 32]
        assert described["runtime"] == "paddle"
        assert client.get("/v1/models/cls").json() == described
        assert "/v1/models/{name}/predict" in client.get("/openapi.json").json()["paths"]
        assert client.get("/docs").status_code == 200

        files = [("images", (f"{i}.png", data, "image/png")) for i, data in enumerate(images)]
        by_files = client.post("/v1/models/cls/predict", files=files, data={"topk": "2"})
        by_json = client.post("/v1/models/cls/predict", json={"images": [b64(d) for d in images], "topk": 2})
        by_query = client.post("/v1/models/cls/predict?topk=3",
                               json={"images": ["data:image/png;base64," + b64(images[0])]})
        metrics = client.get("/metrics")
    for answer in (by_files, by_json, by_query):
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"] == "cls" and answer.json()["task"] == "classification"
    # each image alone through the Predictor, encoded as the server encodes
    alone = [encode_result("classification", reference.predict(rgb(d), topk=2)) for d in images]
    # a batch of 3 against batches of 1: float reordering (numerics.py), top-k the same but ties
    assert_same_classifications(by_files.json()["results"], alone)
    assert_same_classifications(by_json.json()["results"], alone)
    assert_same_classifications(by_query.json()["results"],
                                [encode_result("classification", reference.predict(rgb(images[0]), topk=3))])
    assert [len(r) for r in by_files.json()["results"]] == [2, 2, 2]
    text = metrics.text
    assert 'pxcore_http_requests_total{route="/v1/models/{name}/predict",status="200"} 3' in text
    assert 'pxcore_predict_latency_seconds_count{model="cls"} 3' in text
    assert 'pxcore_batch_size_images_bucket{model="cls",le="4"}' in text
    assert 'pxcore_queue_depth_images{model="cls"} 0' in text
    assert 'pxcore_predicted_images_total{model="cls"} 7' in text


@pytest.mark.parity
def test_concurrent_requests_form_batches_with_the_single_answers(cls_export):
    reference = pxcore.Predictor(cls_export, runtime="paddle", threads=1)
    images = [png(i) for i in range(8)]
    app = create_app(serve_options(cls_export, max_batch_size=8, max_wait_ms=200))
    with serving(app) as client:
        answers = concurrently([
            lambda d=d: client.post("/v1/models/cls/predict", json={"images": [b64(d)], "topk": 3})
            for d in images])
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    batch_sizes = app.state.metrics.batch_size
    assert batch_sizes.max_observed_bound("cls") > 1, "no batch held more than one image"
    assert batch_sizes.count("cls") < 8 + 1  # the warm-up is not counted; fewer calls than requests
    alone = [encode_result("classification", reference.predict(rgb(d), topk=3)) for d in images]
    assert_same_classifications([a.json()["results"][0] for a in answers], alone)


# -- limits and errors --------------------------------------------------------------------

def test_a_full_queue_gets_503_and_a_slow_answer_504(cls_export):
    app = create_app(serve_options(cls_export, max_batch_size=1, max_wait_ms=0, queue_size=1, timeout_s=20))
    body = {"images": [b64(png(0))]}
    with serving(app) as client:
        model = app.state.models["cls"]
        gate = model.predictor.predict = Gate(model.predictor)
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(client.post, "/v1/models/cls/predict", json=body)
            assert gate.entered.wait(WAIT_S)  # taken by the worker, which now waits
            second = pool.submit(client.post, "/v1/models/cls/predict", json=body)
            deadline = time.monotonic() + WAIT_S
            while app.state.batchers["cls"].depth < 1:  # queued behind it
                assert time.monotonic() < deadline
                time.sleep(0.01)
            refused = client.post("/v1/models/cls/predict", json=body)
            gate.open()
            assert first.result(WAIT_S).status_code == 200 and second.result(WAIT_S).status_code == 200
        assert refused.status_code == 503 and "queue is full" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) >= 1
        assert client.get("/ready").status_code == 200

    app = create_app(serve_options(cls_export, timeout_s=0.3))
    with serving(app) as client:
        model = app.state.models["cls"]
        gate = model.predictor.predict = Gate(model.predictor)
        late = client.post("/v1/models/cls/predict", json=body)
        gate.open()
        assert late.status_code == 504 and "--timeout-s" in late.json()["detail"]
        assert client.post("/v1/models/cls/predict", json=body).status_code == 200


def test_a_body_over_the_limit_gets_413_while_it_is_read(cls_export):
    app = create_app(serve_options(cls_export, max_body_mb=0.01))  # 10 KiB
    big = np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    with serving(app) as client:
        declared = client.post("/v1/models/cls/predict", files=[("images", ("big.png", big, "image/png"))])

        def chunks():  # no Content-Length: the limit applies as the bytes arrive
            for start in range(0, len(big), 4096):
                yield big[start:start + 4096]

        streamed = client.post("/v1/models/cls/predict", content=chunks(),
                               headers={"content-type": "application/json"})
        small = client.post("/v1/models/cls/predict", files=[("images", ("ok.png", png(1), "image/png"))])
    for answer in (declared, streamed):
        assert answer.status_code == 413 and "--max-body-mb" in answer.json()["detail"], answer.text
    assert small.status_code == 200


def test_bad_images_and_urls_get_400_naming_the_problem(cls_export):
    app = create_app(serve_options(cls_export, max_wait_ms=200))
    with serving(app) as client:
        url = "/v1/models/cls/predict"
        answers = concurrently([
            lambda: client.post(url, files=[("images", ("ok.png", png(0), "image/png")),
                                            ("images", ("notes.txt", b"not an image", "text/plain"))]),
            lambda: client.post(url, json={"images": [b64(png(1))]}),
        ])
        corrupt, good = answers
        link = client.post(url, json={"images": ["https://example.com/cat.jpg"]})
        garbage = client.post(url, json={"images": ["this is not base64!"]})
        truncated = client.post(url, json={"images": [b64(png(2)[:60])]})
        not_json = client.post(url, content=b"{", headers={"content-type": "application/json"})
        no_images = client.post(url, json={"pictures": []})
        bad_topk = client.post(url, json={"images": [b64(png(1))], "topk": 0})
        unknown = client.post(url, json={"images": [b64(png(1))], "size": 3})
    assert corrupt.status_code == 400
    assert re.search(r"image 1 \('notes.txt'\).*cannot be decoded", corrupt.json()["detail"])
    assert good.status_code == 200  # its neighbour's bad upload never reached the batch
    assert link.status_code == 400 and "never fetches URLs" in link.json()["detail"]
    assert garbage.status_code == 400 and "not base64" in garbage.json()["detail"]
    assert truncated.status_code == 400 and "image 0 cannot be decoded" in truncated.json()["detail"]
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["detail"]
    assert no_images.status_code == 400 and '"images"' in no_images.json()["detail"]
    assert bad_topk.status_code == 400 and "topk must be at least 1" in bad_topk.json()["detail"]
    assert unknown.status_code == 400 and "unknown option(s) size" in unknown.json()["detail"]


def test_the_api_key_is_required_except_for_health(cls_export, monkeypatch):
    monkeypatch.setenv("PXCORE_TEST_KEY", "s3cret-key")
    app = create_app(serve_options(cls_export, api_key_env="PXCORE_TEST_KEY"))
    body = {"images": [b64(png(0))]}
    with serving(app) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code == 200
        assert client.post("/v1/models/cls/predict", json=body).status_code == 401
        assert client.get("/v1/models").status_code == 401
        assert client.get("/metrics", headers={"x-api-key": "wrong"}).status_code == 401
        denied = client.post("/v1/models/cls/predict", json=body, headers={"authorization": "Bearer s3cret"})
        assert denied.status_code == 401 and "Bearer" in denied.json()["detail"]
        assert client.post("/v1/models/cls/predict", json=body,
                           headers={"authorization": "Bearer s3cret-key"}).status_code == 200
        assert client.get("/v1/models", headers={"x-api-key": "s3cret-key"}).status_code == 200
    monkeypatch.delenv("PXCORE_TEST_KEY")
    with pytest.raises(pxcore.errors.PxError, match="PXCORE_TEST_KEY, which is unset"):
        create_app(serve_options(cls_export, api_key_env="PXCORE_TEST_KEY"))


def test_an_unknown_model_gets_404_listing_the_served_ones(cls_export):
    with serving(create_app(serve_options(cls_export, name="digits"))) as client:
        missing = client.post("/v1/models/cats/predict", json={"images": [b64(png(0))]})
        assert client.get("/v1/models/cats").status_code == 404
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no model named 'cats'; this server serves: digits"


def test_a_failing_batch_gets_500_and_the_others_and_the_next_are_answered(cls_export):
    app = create_app(serve_options(cls_export, max_batch_size=8, max_wait_ms=300))
    with serving(app) as client:
        model = app.state.models["cls"]
        predict = model.predictor.predict

        def poisoned(images, **kwargs):  # a runtime error for any batch holding a 7x7 image
            if any(image.shape[:2] == (7, 7) for image in images):
                raise RuntimeError("the runtime fell over")
            return predict(images, **kwargs)

        model.predictor.predict = poisoned
        url = "/v1/models/cls/predict"
        failed, fine = concurrently([
            lambda: client.post(url, json={"images": [b64(png(0, size=(7, 7)))]}),
            lambda: client.post(url, json={"images": [b64(png(1))]}),
        ])
        after = client.post(url, json={"images": [b64(png(2))]})
    assert failed.status_code == 500
    assert failed.json()["detail"] == "prediction failed: RuntimeError: the runtime fell over"
    assert fine.status_code == 200 and after.status_code == 200
    assert app.state.metrics.requests.value("/v1/models/{name}/predict", "500") == 1


def test_a_batch_raising_a_base_exception_leaves_the_worker_alive(cls_export):
    app = create_app(serve_options(cls_export, max_wait_ms=0))
    with serving(app) as client:
        model = app.state.models["cls"]
        predict = model.predictor.predict

        def exits(images, **kwargs):  # what a runtime's sys.exit() would raise
            if any(image.shape[:2] == (7, 7) for image in images):
                raise SystemExit(3)
            return predict(images, **kwargs)

        model.predictor.predict = exits
        url = "/v1/models/cls/predict"
        failed = client.post(url, json={"images": [b64(png(0, size=(7, 7)))]})
        after = client.post(url, json={"images": [b64(png(2))]})
    assert failed.status_code == 500
    assert failed.json()["detail"] == "prediction failed: RuntimeError: the runtime raised SystemExit: 3"
    assert after.status_code == 200


def test_images_too_large_or_too_thin_get_400_naming_the_option(cls_export):
    app = create_app(serve_options(cls_export, max_image_pixels=40 * 48, max_aspect_ratio=4))
    with serving(app) as client:
        url = "/v1/models/cls/predict"
        fits = client.post(url, json={"images": [b64(png(0, size=(40, 48)))]})
        large = client.post(url, json={"images": [b64(png(0, size=(40, 49)))]})
        thin = client.post(url, files=[("images", ("strip.png", png(1, size=(2, 9)), "image/png"))])
        square = client.post(url, json={"images": [b64(png(1, size=(2, 8)))]})
    assert fits.status_code == 200 and square.status_code == 200
    assert large.status_code == 400
    assert large.json()["detail"] == ("image 0 is 49x40 pixels, more than this server takes (1,920); "
                                      "send a smaller image (or start px serve with a larger "
                                      "--max-image-pixels)")
    assert thin.status_code == 400 and "--max-aspect-ratio" in thin.json()["detail"]
    assert "image 0 ('strip.png') is 9x2 pixels, longer than 4 times" in thin.json()["detail"]


# -- other tasks ---------------------------------------------------------------------------

@pytest.mark.slow  # a YOLOv3-MobileNetV1 export: a few seconds
@pytest.mark.parity
def test_detection_answers_are_the_predictors(tmp_path):
    pytest.importorskip("pxcore_yolov3")
    pytest.importorskip("pxcore_mobilenet")
    import paddle

    from pxcore.transforms import Compose, Normalize, Resize

    with plain_plugins(("pxcore_yolov3.plugin", None), ("pxcore_mobilenet.plugin", None)):
        paddle.seed(0)
        model = pxcore.create_model("YOLOv3-MobileNetV1", num_classes=3)
        model.labels = ["box", "disc", "ring"]
        model.eval_transforms = Compose([Resize(64, interp="CUBIC"), Normalize()])
        vary(model.net)
        export = model.export(tmp_path / "det")
    reference = pxcore.Predictor(export, runtime="paddle", threads=1)
    images = [png(i, size=(64, 80)) for i in range(3)]
    app = create_app(serve_options(export, name="det", max_wait_ms=200))
    with serving(app) as client:
        answers = concurrently([lambda d=d: client.post("/v1/models/det/predict", json={"images": [b64(d)]})
                                 for d in images])
        thresholded = client.post("/v1/models/det/predict", json={"images": [b64(images[0])], "threshold": 0.5})
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    alone = [encode_result("detection", reference.predict(rgb(d))) for d in images]
    assert any(alone), "the detector found nothing: the comparison would be empty"
    # batched against alone: float reordering; boxes matched by IoU, scores within tolerance
    assert_same_detection_lists([a.json()["results"][0] for a in answers], alone)
    kept = thresholded.json()["results"][0]
    assert all(box["score"] >= 0.5 for box in kept)
    assert_same_detection_lists([kept], [[box for box in alone[0] if box["score"] >= 0.5]])


def test_a_detector_resizing_to_one_size_batches_images_of_any_size():
    from pxcore.serve.models import ServedModel, fixed_input_size

    def pipeline(*steps):
        return {"type": "Compose", "transforms": [*steps, {"type": "Normalize"}]}

    assert fixed_input_size(pipeline({"type": "Resize", "target_size": 320}))
    assert fixed_input_size(pipeline({"type": "ResizeByShort", "short_size": 400},
                                     {"type": "Resize", "target_size": 320}, {"type": "Padding"}))
    assert not fixed_input_size(pipeline({"type": "Resize", "target_size": 320, "keep_ratio": True}))
    assert not fixed_input_size(pipeline({"type": "ResizeByShort", "short_size": 320}))
    assert not fixed_input_size(pipeline({"type": "Resize", "target_size": 320, "interp": "RANDOM"}))
    assert not fixed_input_size(pipeline())

    calls = []

    class Stub:  # a detector's Predictor: records the images of each call
        def predict(self, images, batch_size, **kwargs):
            calls.append([image.shape[:2] for image in images])
            return [[] for _ in images]

    model = ServedModel.__new__(ServedModel)
    model.task, model.max_batch_size, model.predictor = "detection", 8, Stub()
    requests = [[np.zeros((30, 40, 3), np.uint8)], [np.zeros((50, 20, 3), np.uint8)],
                [np.zeros((30, 40, 3), np.uint8)]]
    for one_size, expected in ((True, [[(30, 40), (50, 20), (30, 40)]]),
                               (False, [[(30, 40), (30, 40)], [(50, 20)]])):
        calls.clear()
        model.one_input_size = one_size
        assert model.predict_batch(requests, [{}, {}, {}]) == [[[]], [[]], [[]]]
        assert calls == expected


@pytest.mark.parity
def test_segmentation_label_maps_come_as_png(tmp_path):
    import paddle

    import fixture_plugins

    with plain_plugins((fixture_plugins.Segmenter(), "fixture-seg")):
        paddle.seed(0)
        model = pxcore.create_model("TinySeg", num_classes=3)
        model.labels = ["background", "blob", "line"]
        vary(model.net)
        export = model.export(tmp_path / "seg")
    reference = pxcore.Predictor(export, runtime="paddle", threads=1)
    image = png(3, size=(48, 56))
    with serving(create_app(serve_options(export, name="seg"))) as client:
        answer = client.post("/v1/models/seg/predict", files=[("images", ("x.png", image, "image/png"))])
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["results"]
    label_map = decode_label_map(result["label_map"])
    expected = reference.predict(rgb(image))["label_map"]
    assert result["size"] == [48, 56] and label_map.shape == expected.shape
    # another Predictor (another session) on the same batch of 1: a pixel may flip only
    # where its two best logits tie within float rounding
    assert np.mean(label_map == expected) >= 0.999


def test_label_maps_round_trip_through_png():
    labels = np.random.default_rng(0).integers(0, 19, (30, 41)).astype(np.uint8)
    assert np.array_equal(decode_label_map(encode_label_map(labels)), labels)
    many = np.arange(600, dtype=np.int64).reshape(20, 30)  # past 256 classes: 16-bit PNG
    decoded = decode_label_map(encode_label_map(many))
    assert decoded.dtype == np.uint16 and np.array_equal(decoded, many)


def test_base64_images_decode_and_urls_are_refused():
    data = png(0)
    assert np.array_equal(decode_base64(b64(data), "image 0"), rgb(data))
    urlsafe = base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert np.array_equal(decode_base64(urlsafe, "image 0"), rgb(data))
    for text, message in [("http://10.0.0.1/x.png", "never fetches"), ("file:///etc/passwd", "never fetches"),
                          ("//host/x.png", "never fetches"), ("", "empty"), ("@@@", "not base64"),
                          (3, "is a JSON int")]:
        with pytest.raises(BadImage, match=message):
            decode_base64(text, "image 0")


def test_metrics_are_prometheus_text():
    metrics = Metrics(lambda: {"m": 2})
    metrics.requests.inc("/health", "200")
    metrics.latency.observe(0.03, "m")
    metrics.batch_size.observe(3, "m")
    text = metrics.render()
    assert '# TYPE pxcore_http_requests_total counter\npxcore_http_requests_total{route="/health",status="200"} 1' in text
    assert 'pxcore_predict_latency_seconds_bucket{model="m",le="0.025"} 0' in text
    assert 'pxcore_predict_latency_seconds_bucket{model="m",le="0.05"} 1' in text
    assert 'pxcore_batch_size_images_bucket{model="m",le="+Inf"} 1' in text
    assert 'pxcore_queue_depth_images{model="m"} 2' in text
    assert metrics.batch_size.max_observed_bound("m") == 4


# -- the command -----------------------------------------------------------------------------

def test_px_serve_help(capsys):
    from pxcore.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--help"])
    assert exit_.value.code == 0
    shown = capsys.readouterr().out
    for option in ("--host", "--port", "--workers", "--max-batch-size", "--max-wait-ms", "--api-key-env",
                   "--queue-size", "--timeout-s", "--max-body-mb", "--runtime", "--threads"):
        assert option in shown


def test_px_serve_refuses_what_is_not_an_export(tmp_path, capsys):
    from pxcore.cli import main

    assert main(["serve", str(tmp_path)]) == 1
    assert "is not an exported model" in capsys.readouterr().err


def test_serving_imports_no_paddle_and_nothing_of_training():
    code = ("import sys, pxcore.serve.app, pxcore.cli.serve\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('paddle', 'paddle2onnx')"
            " or m.startswith(('pxcore.tasks', 'pxcore.engine', 'pxcore.deploy'))))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                           env={**os.environ, ENV_DISABLE_AUTOLOAD: "1"})
    assert found.returncode == 0, found.stderr[-2000:]
    assert found.stdout.strip() == "[]"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_the_server_process_caps_malloc_arenas_and_a_users_value_wins():
    code = ("import os, sys; from pxcore.serve.malloc import limit_arenas\n"
            "print(limit_arenas(), os.environ['MALLOC_ARENA_MAX'], 'cv2' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    default = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    chosen = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**env, "MALLOC_ARENA_MAX": "3"})
    # the cap holds for this process (mallopt accepted it) and its uvicorn workers (the
    # variable), and loading it loads no OpenCV (px serve sets OpenCV's limit after it)
    assert default.stdout.split() == ["2", "2", "False"], default.stderr[-2000:]
    assert chosen.stdout.split() == ["3", "3", "False"], chosen.stderr[-2000:]


@pytest.mark.slow  # a real process: imports, Paddle Inference load, warm-up
def test_px_serve_starts_answers_ready_and_stops_on_sigterm(cls_export):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    px = Path(sys.executable).with_name("px")
    env = {**os.environ, ENV_DISABLE_AUTOLOAD: "1", "GLOG_minloglevel": "2", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([str(px), "serve", f"digits={cls_export}", "--port", str(port),
                                "--runtime", "paddle", "--threads", "1", "--max-image-pixels", "100000"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, ready = time.monotonic() + 120, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, process.stdout.read() if process.poll() else ""
        assert ready.json()["models"] == ["digits"]
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/models/digits/predict",
                            json={"images": [b64(png(0))]}, timeout=WAIT_S)
        assert answer.status_code == 200 and answer.json()["results"][0][0]["category"] in LABELS
        # px serve handed its pixel limit to OpenCV: refused from the header, never decoded
        huge = httpx.post(f"http://127.0.0.1:{port}/v1/models/digits/predict",
                          json={"images": [b64(png(0, size=(400, 400)))]}, timeout=WAIT_S)
        assert huge.status_code == 400
        assert huge.json()["detail"].startswith("image 0 holds more than 100,000 pixels"), huge.text
        process.send_signal(signal.SIGTERM)
        # uvicorn drains, runs the shutdown (the batchers finish their queues), then raises
        # the signal it caught again: the exit status says "ended by SIGTERM", as a
        # service manager expects
        assert process.wait(timeout=WAIT_S) in (0, -signal.SIGTERM)
        log = process.stdout.read()
        assert "Application shutdown complete" in log and "Finished server process" in log, log[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=WAIT_S)
