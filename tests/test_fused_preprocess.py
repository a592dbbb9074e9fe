"""The fused evaluation pre-processing (pxcore.inference.fused) gives exactly what the
transforms give one by one, is chosen for the evaluation pipelines and only for those,
and the faster post-processing steps equal the numpy operations they replace."""

from __future__ import annotations

import numpy as np
import pytest

from pxcore.inference import classification, detection, fused, segmentation
from pxcore.inference.fused import Fused, fuse, normalize_table
from pxcore.transforms import (
    CenterCrop,
    Compose,
    Normalize,
    Padding,
    RandomHorizontalFlip,
    Resize,
    ResizeByLong,
    ResizeByShort,
)

MEAN_STD = [((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), True),
            ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), True),
            ((123.675, 116.28, 103.53), (58.395, 57.12, 57.375), False),
            ((0.1, -0.3, 0.77), (0.013, 3.0, 0.7071), True)]


def _images():
    """What load_image accepts: RGB, grayscale (2-D and one channel), RGBA, 16-bit,
    float in [0, 1], odd and tiny sizes, a non-contiguous view."""
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (301, 457, 3), dtype=np.uint8)
    return {"rgb": rgb, "gray": rng.integers(0, 256, (233, 171), dtype=np.uint8),
            "gray1": rng.integers(0, 256, (97, 389, 1), dtype=np.uint8),
            "rgba": rng.integers(0, 256, (128, 129, 4), dtype=np.uint8),
            "uint16": rng.integers(0, 65536, (250, 250, 3), dtype=np.uint16),
            "float": rng.random((199, 263, 3)), "tiny": rng.integers(0, 256, (1, 3, 3), dtype=np.uint8),
            "view": rgb[::-1, 5:300]}


def _general(transforms):
    """The same transforms, nested one level deeper: what fuse() does not fuse, so the
    general path runs them transform by transform."""
    return Compose([Compose(list(transforms.transforms))])


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a == b


@pytest.mark.parametrize(("mean", "std", "is_scale"), MEAN_STD)
def test_the_table_is_normalize_of_every_value(mean, std, is_scale):
    normalize = Normalize(mean, std, is_scale)
    values = np.broadcast_to(np.arange(256, dtype=np.uint8)[:, None, None], (256, 1, 3)).copy()
    expected = normalize({"image": values}, None)["image"][:, 0, :].T
    table = normalize_table(normalize)
    assert table.dtype == np.float32 and table.shape == (3, 256)
    assert np.array_equal(table, expected)  # bit for bit, not approximately
    assert not table.flags.writeable  # shared between calls


@pytest.mark.parametrize(("mean", "std", "is_scale"), MEAN_STD)
def test_classification_fused_equals_the_transforms(mean, std, is_scale):
    pipelines = [Compose([ResizeByShort(256), CenterCrop(224), Normalize(mean, std, is_scale)]),
                 Compose([Resize([97, 61], interp="CUBIC"), Normalize(mean, std, is_scale)]),
                 Compose([ResizeByLong(150, interp="AREA"), Padding(32), Normalize(mean, std, is_scale)]),
                 Compose([Normalize(mean, std, is_scale)])]
    for transforms in pipelines:
        assert isinstance(fuse(transforms), Fused)
        for name, image in _images().items():
            fast = classification.preprocess(image, transforms)
            slow = classification.preprocess(image, transforms, fused=None)
            assert fast.flags.c_contiguous, name
            assert _same(fast, np.asarray(slow)), (transforms, name)


def test_detection_fused_equals_the_transforms():
    yolo = Compose([Resize(608, interp="CUBIC"), Normalize()])
    rcnn = Compose([ResizeByShort(800, 1333, interp="CUBIC"), Padding(32), Normalize()])
    centred = Compose([Resize([300, 200], keep_ratio=True), Padding(target_size=[320, 320], pad_mode=1,
                                                                   im_padding_value=(10, 200, 255)),
                       Normalize((0.2, 0.3, 0.4), (0.9, 0.8, 0.7))])
    for transforms in (yolo, rcnn, centred):
        assert fuse(transforms) is not None
        for name, image in _images().items():
            fast = detection.preprocess(image, transforms)
            slow = detection.preprocess(image, transforms, fused=None)
            assert _same(fast[0], np.asarray(slow[0])) and _same(fast[1:], slow[1:]), (transforms, name)


def _run(batch):
    """A deterministic stand-in for a segmentation network: 5 class maps, each a fixed
    linear mix of the input's channels."""
    weights = np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3)
    maps = np.einsum("kc,nchw->nkhw", weights, batch)
    return [maps]


def test_segmentation_fused_equals_the_transforms():
    transforms = Compose([Normalize((0.4, 0.5, 0.6), (0.3, 0.2, 0.1))])
    images = list(_images().values())
    fast = segmentation.predict_images(images, transforms, _run, batch_size=3)
    slow = segmentation.predict_images(images, _general(transforms), _run, batch_size=3)
    assert _same(fast, slow)
    # sliding windows normalise each uint8 window into its batch
    tiled = segmentation.predict_images(images[0], transforms, _run, tile_size=[128, 96], overlap=(17, 9))
    assert _same(tiled, segmentation.predict_images(images[0], _general(transforms), _run,
                                                   tile_size=[128, 96], overlap=(17, 9)))
    # a resizing pipeline restores the scores to the image's size the same way
    resized = Compose([ResizeByShort(120), Padding(32), Normalize()])
    assert _same(segmentation.predict_images(images[:3], resized, _run),
                 segmentation.predict_images(images[:3], _general(resized), _run))
    # and the public preprocess still gives HWC float32
    assert _same(np.asarray(segmentation.preprocess(images[0], transforms)[0]),
                 np.asarray(segmentation.preprocess(images[0], _general(transforms))[0]))


def test_predict_images_whole_results_are_unchanged():
    transforms = Compose([ResizeByShort(64), CenterCrop(56), Normalize()])
    images = list(_images().values())

    def logits(batch):
        return [batch.reshape(len(batch), -1)[:, :40] * 3.0]

    for topk in (1, 3):
        assert _same(classification.predict_images(images, transforms, logits, None, 40, topk, 3),
                     classification.predict_images(images, _general(transforms), logits, None, 40, topk, 3))


def test_the_fused_path_is_used_for_evaluation_pipelines(monkeypatch):
    calls = []
    original = Fused.chw

    def counting(self, image, out=None):
        calls.append(image.shape)
        return original(self, image, out)

    monkeypatch.setattr(Fused, "chw", counting)
    image = _images()["rgb"]
    classification.predict_images([image, image], Compose([ResizeByShort(256), CenterCrop(224), Normalize()]),
                                  lambda b: [np.zeros((len(b), 10), np.float32)], None, 10)
    assert calls == [(224, 224, 3)] * 2
    calls.clear()
    segmentation.predict_images(image, Compose([Normalize()]), _run)
    assert calls == [(301, 457, 3)]
    calls.clear()
    # a pipeline it cannot fuse runs every transform instead
    classification.predict_images(image, Compose([RandomHorizontalFlip(), Normalize()]),
                                  lambda b: [np.zeros((len(b), 10), np.float32)], None, 10)
    assert calls == []


class _MyResize(Resize):
    pass


@pytest.mark.parametrize("transforms", [
    Compose([]),
    Compose([ResizeByShort(256), CenterCrop(224)]),  # no Normalize: the image stays uint8
    Compose([Normalize(), Padding(32)]),  # pads the float image with 127.5, not 127
    Compose([RandomHorizontalFlip(), Normalize()]),  # draws from the generator
    Compose([Resize(224, interp="RANDOM"), Normalize()]),
    Compose([_MyResize(224), Normalize()]),  # a subclass may do anything
    Compose([Compose([Resize(224)]), Normalize()]),  # nested
    [Resize(224), Normalize()],  # not a Compose at all
    None,
])
def test_pipelines_that_cannot_be_fused(transforms):
    assert fuse(transforms) is None


def test_chw_writes_into_a_strided_slot_and_falls_back_for_other_arrays():
    transforms = Compose([Normalize()])
    step = fuse(transforms)
    image = _images()["rgb"]
    batch = np.zeros((2, 3, 320, 480), np.float32)
    step.chw(image, out=batch[1, :, :301, :457])
    expected = Normalize()({"image": image}, None)["image"].transpose(2, 0, 1)
    assert np.array_equal(batch[1, :, :301, :457], expected)
    assert not batch[0].any() and not batch[1, :, 301:].any() and not batch[1, :, :, 457:].any()
    # a float image (not what the geometric steps make) goes through Normalize itself
    as_float = image.astype(np.float32)
    assert np.array_equal(step.chw(as_float), expected)


def test_softmax_and_channel_argmax_equal_numpy():
    rng = np.random.default_rng(3)
    for shape in [(19, 45, 67), (1, 8, 8), (2, 3, 5), (128, 9, 11), (150, 17, 33)]:
        logits = (rng.standard_normal(shape) * 6).astype(np.float32)
        shifted = logits - logits.max(axis=0, keepdims=True)
        exp = np.exp(shifted)
        assert np.array_equal(segmentation.softmax(logits), exp / exp.sum(axis=0, keepdims=True))
        view = logits[:, 1:, :-2]  # the tiles' non-contiguous windows
        e = np.exp(view - view.max(axis=0, keepdims=True))
        assert np.array_equal(segmentation.softmax(view), e / e.sum(axis=0, keepdims=True))
        scores = segmentation.softmax(logits)
        assert np.array_equal(segmentation.argmax_channels(scores), scores.argmax(0).astype(np.uint8))
        hwc = segmentation._channels_last(scores[:, :-1])
        assert hwc.flags.c_contiguous and np.array_equal(hwc, scores[:, :-1].transpose(1, 2, 0))
    # ties keep the first channel; a NaN anywhere is where numpy's argmax says
    ties = np.zeros((4, 3, 3), np.float32)
    ties[2, 0, 0] = ties[3, 0, 0] = 1
    ties[1, 1, 1] = -0.0
    ties[3, 2, 2] = np.nan
    assert np.array_equal(segmentation.argmax_channels(ties), ties.argmax(0).astype(np.uint8))
    assert segmentation.argmax_channels(ties)[0, 0] == 2 and segmentation.argmax_channels(ties)[2, 2] == 3


def test_top1_equals_the_stable_sort():
    rows = np.array([[0.1, 0.7, 0.7, 0.2], [0.5, 0.5, 0.5, 0.5], [0.3, np.nan, 0.9, 0.9],
                     [-np.inf, 2.0, 1.0, 2.0]], np.float32)
    for row in rows:
        top = classification.postprocess(row[None], ["a", "b", "c", "d"], 1)[0]
        probs = classification.softmax(row[None])[0]
        first = int(np.argsort(-probs, kind="stable")[0])
        assert top[0]["category_id"] == first and top[0]["category"] == "abcd"[first]


def test_no_generator_is_made_on_the_fused_path(monkeypatch):
    made = []
    real = np.random.default_rng
    image = _images()["rgb"]
    monkeypatch.setattr(fused.np.random, "default_rng", lambda *a: made.append(a) or real(*a))
    classification.preprocess(image, Compose([ResizeByShort(256), CenterCrop(224), Normalize()]))
    assert made == []
    classification.preprocess(image, Compose([RandomHorizontalFlip(0.0), Normalize()]))
    assert made == [(0,)]


def test_the_table_follows_normalize_parameters_changed_after_fusing():
    # tables are looked up by the parameters as they are at each call, never stale
    normalize = Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    first = normalize_table(normalize)
    assert normalize_table(Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))) is first
    values = np.broadcast_to(np.arange(256, dtype=np.uint8)[:, None, None], (256, 1, 3)).copy()
    for mean, std, is_scale in MEAN_STD:
        normalize.mean, normalize.std, normalize.is_scale = mean, std, is_scale
        expected = normalize({"image": values}, None)["image"][:, 0, :].T
        assert np.array_equal(fuse(Compose([normalize])).table, expected)
    normalize.mean = np.array(MEAN_STD[3][0])  # numpy numbers as the key: the same table
    expected = normalize({"image": values}, None)["image"][:, 0, :].T
    assert np.array_equal(normalize_table(normalize), expected)


def test_classification_softmax_equals_numpy():
    rng = np.random.default_rng(5)
    for shape in [(1, 1000), (3, 10), (2, 1)]:
        logits = (rng.standard_normal(shape) * 8).astype(np.float32)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        assert np.array_equal(classification.softmax(logits), exp / exp.sum(axis=1, keepdims=True))
    wide = (rng.standard_normal((2, 50)) * 8).astype(np.float64)  # float64 stays float64
    exp = np.exp(wide - wide.max(axis=1, keepdims=True))
    assert np.array_equal(classification.softmax(wide), exp / exp.sum(axis=1, keepdims=True))
