"""``px serve``'s page at ``/`` in a real browser: headless Chromium (the system's, from
apt; never a downloaded one) driven by Playwright. Each test opens the page, gives it an
image the way a user would (the file chooser, or a drop) and checks what is drawn
against ``Predictor.predict`` for the same image: the top-k bars and their labels, one
box per detection where the detection is, the label map's colours pixel for pixel, the
masks decoded from COCO RLE; plus the API key field and errors in plain words. Every
request the page makes must go to the server (the page works offline). Each test saves
a screenshot under its tmp_path and prints the path.

Tiny exports as in tests/test_serve.py (FixtureNet, TinySeg, a 64 px YOLOv3-MobileNetV1),
one thread, servers in-process on 127.0.0.1; every wait is bounded. pytest keeps the
tmp_path of failed tests only (pyproject.toml): ``-o tmp_path_retention_policy=all``
keeps every screenshot."""

from __future__ import annotations

import os
import re
import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import pxcore

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")
from serve_exports import LABELS, export_classifier  # noqa: E402

from pxcore.serve.app import ServeOptions, create_app  # noqa: E402
from pxcore.serve.encoding import encode_label_map, encode_result  # noqa: E402
from pxcore.testing.detections import assert_same_detections  # noqa: E402
from pxcore.testing.serve import plain_plugins, png, rgb, serve_options, serving, vary  # noqa: E402

WAIT_MS = 60_000  # the most the browser waits for anything
CHROMIUM_ENV = "PXCORE_CHROMIUM"


def _chromium() -> str:
    for candidate in (os.environ.get(CHROMIUM_ENV), "chromium", "chromium-browser", "google-chrome"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    pytest.skip("headless Chromium is not installed, so px serve's page is not tested in a browser: "
                "apt-get install chromium (Debian; .ci/run does this), or set PXCORE_CHROMIUM to a "
                "Chromium or Chrome binary")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed, so px serve's "
                                   "page is not tested in a browser: pip install playwright (pxcore's test extra)")
    executable = _chromium()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def cls_export(tmp_path_factory):
    return export_classifier(tmp_path_factory.mktemp("page") / "cls")


@pytest.fixture(scope="module")
def exports(tmp_path_factory, cls_export):
    """name -> export directory: a classifier, a semantic segmenter and, where the
    plugins are installed, a detector."""
    import paddle

    import fixture_plugins
    from pxcore.transforms import Compose, Normalize, Resize

    root = tmp_path_factory.mktemp("page")
    found = {"cls": cls_export}
    with plain_plugins((fixture_plugins.Segmenter(), "fixture-seg")):
        paddle.seed(0)
        model = pxcore.create_model("TinySeg", num_classes=3)
        model.labels = ["background", "blob", "line"]
        vary(model.net)
        found["seg"] = model.export(root / "seg")
    try:
        import pxcore_mobilenet  # noqa: F401
        import pxcore_yolov3  # noqa: F401
    except ImportError:
        return found
    with plain_plugins(("pxcore_yolov3.plugin", None), ("pxcore_mobilenet.plugin", None)):
        paddle.seed(0)
        model = pxcore.create_model("YOLOv3-MobileNetV1", num_classes=3)
        model.labels = ["box", "disc", "ring"]
        model.eval_transforms = Compose([Resize(64, interp="CUBIC"), Normalize()])
        vary(model.net)
        found["det"] = model.export(root / "det")
    return found


@pytest.fixture(scope="module")
def server(exports):
    """Every export behind one server: its base URL."""
    options = ServeOptions(models=[f"{name}={path}" for name, path in exports.items()],
                           runtime="paddle", threads=1)
    with serving(create_app(options)) as client:
        yield str(client.base_url).rstrip("/")


@pytest.fixture
def page(browser, server):
    """A fresh page at the server's /, its models listed; after the test, no request
    went anywhere but the server and no script error happened."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)  # CSP refusals, say
    page.goto(server + "/")
    _wait(page, "() => Number(document.body.dataset.models) > 0")
    yield page
    context.close()
    assert not errors, errors
    outside = [u for u in requests if not u.startswith((server + "/", "data:", "blob:"))]
    assert not outside, f"the page reached outside the server: {outside}"


def _wait(page, predicate: str) -> None:
    """Until the JS function ``predicate`` returns true (bounded). Not wait_for_function:
    its polling evaluates strings, which the page's Content-Security-Policy forbids."""
    for _ in range(WAIT_MS // 50):
        if page.evaluate(predicate):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"not within {WAIT_MS / 1000:g} s: {predicate}")


def _upload(page, data: bytes, name="image.png", mime="image/png") -> None:
    renders = int(page.get_attribute("body", "data-renders"))
    page.set_input_files("#file", files=[{"name": name, "mimeType": mime, "buffer": data}])
    _wait(page, f"() => Number(document.body.dataset.renders) > {renders}")


def _drop(page, data: bytes, name="image.png", mime="image/png") -> None:
    """A file dropped on the drop zone (a DataTransfer event, as a drag from the desktop)."""
    renders = int(page.get_attribute("body", "data-renders"))
    page.evaluate("""([bytes, name, mime]) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(bytes)], name, {type: mime}));
        document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
    }""", [list(data), name, mime])
    _wait(page, f"() => Number(document.body.dataset.renders) > {renders}")


def _screenshot(page, tmp_path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def _canvas_rgb(page) -> np.ndarray:
    """The canvas's pixels (HxWx3), as drawn."""
    h, w, data = page.evaluate("""() => {
        const c = document.getElementById("canvas");
        return [c.height, c.width, Array.from(c.getContext("2d").getImageData(0, 0, c.width, c.height).data)];
    }""")
    return np.asarray(data, np.uint8).reshape(h, w, 4)[..., :3]


def _colours(page, ids) -> np.ndarray:
    table = page.evaluate("(n) => Array.from({length: n}, (_, i) => window.pxPage.colour(i))", int(max(ids)) + 1)
    return np.asarray(table, np.uint8)


def _choose(page, model: str) -> None:
    page.select_option("#model", model)


# -- the page is served, and packaged --------------------------------------------------------

def test_the_page_is_served_at_the_root_and_shipped_as_package_data(cls_export):
    shipped = resources.files("pxcore.serve").joinpath("page.html").read_text(encoding="utf-8")
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    # a wheel or sdist carries only the package data pyproject names (no MANIFEST.in here)
    assert '\n"pxcore.serve" = ["page.html"]\n' in pyproject
    with serving(create_app(serve_options(cls_export))) as client:
        page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text == shipped
    # offline: nothing but this server, enforced by the browser
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", shipped), "the page loads something from elsewhere"


# -- what each task draws -------------------------------------------------------------------

@pytest.mark.slow  # a browser, and exports made for the module: about 20 s for all on 2 cores
def test_the_page_draws_top_k_bars_with_the_predictors_labels(page, exports, tmp_path):
    image = png(1)
    expected = pxcore.Predictor(exports["cls"], runtime="paddle", threads=1).predict(rgb(image), topk=3)
    _choose(page, "cls")
    page.fill("#topk", "3")
    _upload(page, image, "one.png")
    assert page.get_attribute("body", "data-state") == "done", page.text_content("#error")
    _screenshot(page, tmp_path, "classification")
    bars = page.locator("#bars .bar")
    assert bars.count() == 3
    assert bars.nth(0).locator(".label").text_content() == expected[0]["category"]
    assert [bars.nth(i).locator(".label").text_content() for i in range(3)] == [r["category"] for r in expected]
    scores = [float(bars.nth(i).locator(".score").text_content()) for i in range(3)]
    np.testing.assert_allclose(scores, [r["score"] for r in expected], atol=2e-3)
    widths = [bars.nth(i).locator(".fill").bounding_box()["width"] for i in range(3)]
    assert widths == sorted(widths, reverse=True) and widths[0] > 0
    assert '"category"' in page.text_content("#json")  # the JSON answer beside it
    drawn = _canvas_rgb(page)  # the image itself on the canvas
    assert drawn.shape[:2] == (40, 48) and np.abs(drawn.astype(int) - rgb(image)).max() <= 2


@pytest.mark.slow  # a browser, and exports made for the module: about 20 s for all on 2 cores
def test_the_page_draws_one_box_per_detection(page, exports, tmp_path):
    if "det" not in exports:
        pytest.skip("the YOLOv3 and MobileNet plugins are not installed (pip install -e plugins/yolov3 "
                    "plugins/mobilenet)")
    predictor = pxcore.Predictor(exports["det"], runtime="paddle", threads=1)
    image = next(d for d in (png(i, size=(64, 80)) for i in range(6)) if predictor.predict(rgb(d)))
    expected = encode_result("detection", predictor.predict(rgb(image)))
    _choose(page, "det")
    _upload(page, image, "shapes.png")
    assert page.get_attribute("body", "data-state") == "done", page.text_content("#error")
    _screenshot(page, tmp_path, "detection")
    answer = page.evaluate("window.pxPage.state.answer")["results"][0]
    assert_same_detections(answer, expected)  # the answer the page drew is the Predictor's
    boxes = page.locator("#boxes g.detection")
    assert boxes.count() == len(answer) == len(expected)
    canvas = page.locator("#canvas").bounding_box()
    scale = canvas["width"] / 80
    for i, item in enumerate(answer):
        rect = boxes.nth(i).locator("rect.box")
        x, y, w, h = item["bbox"]
        shown = [float(rect.get_attribute(k)) for k in ("x", "y", "width", "height")]
        np.testing.assert_allclose(shown, [x, y, max(w, 0), max(h, 0)], atol=1e-3)
        assert boxes.nth(i).locator("text").text_content() == f"{item['category']} {item['score']:.2f}"
        drawn = rect.bounding_box()  # where the browser put it, in page pixels (with its 2 px stroke)
        assert drawn["x"] == pytest.approx(canvas["x"] + x * scale, abs=2)
        assert drawn["y"] == pytest.approx(canvas["y"] + y * scale, abs=2)
        assert drawn["width"] == pytest.approx(max(w, 0) * scale, abs=3)
        assert drawn["height"] == pytest.approx(max(h, 0) * scale, abs=3)


@pytest.mark.slow  # a browser, and exports made for the module: about 20 s for all on 2 cores
def test_the_page_colours_the_label_map_with_a_legend(page, exports, tmp_path):
    image = png(3, size=(48, 56))
    expected = pxcore.Predictor(exports["seg"], runtime="paddle", threads=1).predict(rgb(image))["label_map"]
    _choose(page, "seg")
    page.evaluate("document.getElementById('opacity').value = '1'")  # the map's colours alone
    _drop(page, image, "blob.png")
    assert page.get_attribute("body", "data-state") == "done", page.text_content("#error")
    _screenshot(page, tmp_path, "segmentation")
    drawn = _canvas_rgb(page)
    palette = _colours(page, np.unique(expected))
    assert drawn.shape[:2] == expected.shape
    # every pixel has its class's colour (a pixel may flip where two logits tie, as in test_serve)
    assert np.mean(np.all(drawn == palette[expected], axis=-1)) >= 0.999
    legend = page.locator("#legend .item")
    shown = [int(legend.nth(i).get_attribute("data-class-id")) for i in range(legend.count())]
    assert shown == sorted(np.unique(expected).tolist())
    names = ["background", "blob", "line"]
    assert all(names[c] in legend.nth(i).text_content() for i, c in enumerate(shown))

    page.evaluate("""() => { const o = document.getElementById('opacity');
                            o.value = '0.5'; o.dispatchEvent(new Event('input')); }""")  # redrawn, not re-asked
    page.wait_for_timeout(200)
    blended = _canvas_rgb(page).astype(int)
    between = (blended - palette[expected]) * (blended - rgb(image)) <= 2  # each channel between the two
    assert np.mean(between) >= 0.99


@pytest.mark.slow  # a browser, and exports made for the module: about 20 s for all on 2 cores
def test_the_page_decodes_coco_rle_masks_and_16_bit_label_maps(page, exports, tmp_path):
    from pycocotools import mask as mask_util

    from pxcore.ops.masks import mask_to_rle

    rng = np.random.default_rng(0)
    masks = [np.zeros((5, 7), np.uint8), np.ones((3, 4), np.uint8), (rng.random((37, 23)) > 0.5).astype(np.uint8)]
    big = np.zeros((300, 500), np.uint8)
    big[20:280, 100:400] = 1  # long runs: multi-character counts, negative deltas
    big[150:160, :] = 0
    masks.append(big)
    for mask in masks:
        rle = mask_to_rle(mask)
        decoded = page.evaluate("(rle) => Array.from(window.pxPage.decodeRle(rle).data)", rle)
        assert np.array_equal(np.asarray(decoded, np.uint8).reshape(mask.shape), mask)
        uncompressed = {"size": list(mask.shape), "counts": _uncompressed(mask)}
        decoded = page.evaluate("(rle) => Array.from(window.pxPage.decodeRle(rle).data)", uncompressed)
        assert np.array_equal(np.asarray(decoded, np.uint8).reshape(mask.shape), mask)
        assert np.array_equal(mask_util.decode({"size": list(mask.shape), "counts": rle["counts"].encode()}), mask)
    for labels in (rng.integers(0, 19, (30, 41)), np.arange(600).reshape(20, 30), rng.integers(0, 60000, (9, 70))):
        decoded = page.evaluate("(b64) => window.pxPage.decodePng(b64).then(m => [m.height, m.width, Array.from(m.data)])",
                                encode_label_map(labels))
        assert decoded[:2] == list(labels.shape) and np.array_equal(np.asarray(decoded[2]).reshape(labels.shape), labels)

    # an instance segmentation answer (no tiny Mask R-CNN export here: the server's answer
    # is replaced by one holding two masks) drawn over the image
    image = png(2, size=(64, 80))
    first, second = np.zeros((64, 80), np.uint8), np.zeros((64, 80), np.uint8)
    first[10:30, 5:40] = 1
    second[35:60, 50:75] = 1
    items = [{"category_id": 1, "category": "disc", "score": 0.9, "bbox": [5, 10, 35, 20], "mask": mask_to_rle(first)},
             {"category_id": 2, "category": "ring", "score": 0.7, "bbox": [50, 35, 25, 25], "mask": mask_to_rle(second)}]
    body = {"model": "cls", "task": "instance_segmentation", "results": [items]}
    page.route("**/v1/models/*/predict", lambda route: route.fulfill(json=body))
    page.evaluate("document.getElementById('opacity').value = '1'")
    _choose(page, "cls")
    _upload(page, image, "masks.png")
    assert page.get_attribute("body", "data-state") == "done", page.text_content("#error")
    _screenshot(page, tmp_path, "instance_segmentation")
    drawn, palette = _canvas_rgb(page), _colours(page, [2])
    assert np.all(drawn[first == 1] == palette[1]) and np.all(drawn[second == 1] == palette[2])
    outside = (first == 0) & (second == 0)
    assert np.abs(drawn[outside].astype(int) - rgb(image)[outside]).max() <= 2
    assert page.locator("#boxes g.detection").count() == 2


def _uncompressed(mask: np.ndarray) -> list[int]:
    flat = np.asfortranarray(mask).ravel(order="F")
    counts, value, run = [], 0, 0
    for pixel in flat:
        if pixel != value:
            counts.append(run)
            value, run = pixel, 0
        run += 1
    return counts + [run]


# -- the API key, and errors in plain words -----------------------------------------------------

@pytest.mark.slow  # a browser, and exports made for the module: about 20 s for all on 2 cores
def test_the_page_asks_for_the_api_key_and_says_what_went_wrong(browser, exports, monkeypatch, tmp_path):
    monkeypatch.setenv("PXCORE_TEST_KEY", "s3cret-key")
    app = create_app(serve_options(exports["cls"], api_key_env="PXCORE_TEST_KEY"))
    with serving(app) as client:
        base = str(client.base_url).rstrip("/")
        assert client.get("/").status_code == 200  # the page itself is open; it holds no secret
        assert "default-src 'none'" in client.get("/").headers["content-security-policy"]
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        sent = []
        page.on("request", lambda r: sent.append(r.headers.get("authorization")))
        page.goto(base + "/")
        error = page.locator("#error")
        error.wait_for(state="visible")
        assert "needs an API key" in error.text_content() and "API key" in error.text_content()
        assert page.get_attribute("body", "data-models") == "0"

        page.fill("#api-key", "wrong")
        page.dispatch_event("#api-key", "change")
        _wait(page, "() => document.getElementById('error').textContent.includes('not accepted')")

        page.fill("#api-key", "s3cret-key")
        page.dispatch_event("#api-key", "change")
        _wait(page, "() => Number(document.body.dataset.models) === 1")
        assert error.is_hidden()
        _upload(page, png(0))
        assert page.get_attribute("body", "data-state") == "done", error.text_content()
        assert page.locator("#bars .bar").count() == len(LABELS)  # top-5 asked of 3 classes: capped
        assert sent[-1] == "Bearer s3cret-key"

        page.fill("#topk", "0")
        _upload(page, png(1))
        assert page.get_attribute("body", "data-state") == "error"
        assert "topk must be at least 1" in error.text_content()
        assert page.locator("#result").is_hidden()  # not the last image's drawing beside it

        page.fill("#topk", "2")
        _upload(page, b"this is not an image", "notes.txt", "text/plain")
        assert page.get_attribute("body", "data-state") == "error"
        message = error.text_content()
        assert "could not use this image" in message and "cannot be decoded" in message, message
        _screenshot(page, tmp_path, "error")
        context.close()
