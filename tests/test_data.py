"""Images, transforms, data sets and the loader."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pxcore import datasets
from pxcore import transforms as T
from pxcore.data.images import ImageError, load_image, read_image
from pxcore.datasets import DatasetError
from pxcore.errors import PxError


def _sample(h=40, w=60):
    rng = np.random.default_rng(0)
    return {"image": rng.integers(0, 255, (h, w, 3), dtype=np.uint8)}


def test_read_image_kinds(tmp_path):
    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[..., 0] = 200  # red
    cv2.imwrite(str(tmp_path / "c.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert read_image(tmp_path / "c.png")[0, 0].tolist() == [200, 0, 0]
    cv2.imwrite(str(tmp_path / "g.png"), np.full((5, 7), 90, np.uint8))
    assert read_image(tmp_path / "g.png").shape == (5, 7, 3)
    cv2.imwrite(str(tmp_path / "a.png"), np.full((5, 7, 4), 50, np.uint8))
    assert read_image(tmp_path / "a.png").shape == (5, 7, 3)
    cv2.imwrite(str(tmp_path / "d.png"), np.full((5, 7), 65535, np.uint16))
    assert read_image(tmp_path / "d.png").max() == 255
    assert load_image(np.zeros((4, 4), np.float32)).shape == (4, 4, 3)


def test_read_image_errors(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        read_image(tmp_path / "missing.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match="is empty"):
        read_image(tmp_path / "empty.jpg")
    cv2.imwrite(str(tmp_path / "t.jpg"), np.zeros((50, 50, 3), np.uint8))
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[:20])
    with pytest.raises(ImageError, match="cannot be decoded: it is corrupt, truncated"):
        read_image(tmp_path / "t.jpg")
    with pytest.raises(ImageError, match="expected an image path or a numpy array"):
        load_image(42)


def test_resize_crop_flip_normalize():
    rng = np.random.default_rng(0)
    s = T.ResizeByShort(20)(_sample(), rng)
    assert s["image"].shape == (20, 30, 3)
    s = T.ResizeByShort(20, max_size=24)(_sample(), rng)
    assert s["image"].shape == (16, 24, 3)
    assert T.Resize([30, 10])(_sample(), rng)["image"].shape == (10, 30, 3)
    assert T.CenterCrop(32)(_sample(), rng)["image"].shape == (32, 32, 3)
    for _ in range(5):
        assert T.RandomCrop(24)(_sample(), rng)["image"].shape == (24, 24, 3)
    flipped = T.RandomHorizontalFlip(prob=1.0)(_sample(), rng)["image"]
    np.testing.assert_array_equal(flipped, _sample()["image"][:, ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(1.0)(_sample(), rng)["image"], _sample()["image"][::-1])
    rotated = T.RandomRotate(30, prob=1.0)(_sample(), rng)["image"]
    assert rotated.shape[0] >= 40 and rotated.shape[1] >= 60
    distorted = T.RandomDistort(hue_prob=1, brightness_prob=1, contrast_prob=1, saturation_prob=1)(_sample(), rng)
    assert distorted["image"].dtype == np.uint8 and distorted["image"].shape == (40, 60, 3)
    out = T.Normalize()({"image": np.full((2, 2, 3), 255, np.uint8)}, rng)["image"]
    np.testing.assert_allclose(out[0, 0], (1 - np.array([0.485, 0.456, 0.406])) / [0.229, 0.224, 0.225], rtol=1e-5)


def test_transform_errors_say_what_to_do():
    rng = np.random.default_rng(0)
    with pytest.raises(PxError, match="resize it first"):
        T.CenterCrop(64)(_sample(), rng)
    with pytest.raises(PxError, match="interp 'FAST' is not one of"):
        T.Resize(10, interp="FAST")
    with pytest.raises(PxError, match="does not move gt_bbox"):
        T.RandomRotate()({**_sample(), "gt_bbox": np.zeros((1, 4))}, rng)
    with pytest.raises(PxError, match="std > 0"):
        T.Normalize(std=[0, 1, 1])


def test_compose_from_configs_and_back():
    pipeline = T.compose([{"type": "ResizeByShort", "short_size": 20}, {"type": "CenterCrop", "crop_size": 16},
                          T.Normalize()])
    config = pipeline.to_config()
    assert config["transforms"][0] == {"type": "ResizeByShort", "short_size": 20, "max_size": -1, "interp": "LINEAR"}
    again = T.compose(config["transforms"])
    a = pipeline(_sample(), np.random.default_rng(0))["image"]
    b = again(_sample(), np.random.default_rng(0))["image"]
    np.testing.assert_array_equal(a, b)  # the same transforms on the same image: exact
    assert a.shape == (16, 16, 3) and a.dtype == np.float32


def _write_set(root, lines, labels=("cat", "dog")):
    (root / "labels.txt").write_text("\n".join(labels) + "\n")
    (root / "list.txt").write_text("\n".join(lines) + "\n")
    return root / "list.txt", root / "labels.txt"


def test_file_list_errors_name_the_line(tmp_path):
    cv2.imwrite(str(tmp_path / "a b.png"), np.zeros((4, 4, 3), np.uint8))
    ok = datasets.ImageNet(tmp_path, *_write_set(tmp_path, ["a b.png 1"]))
    assert ok.samples[0][1] == 1 and ok.num_classes == 2  # paths may contain spaces
    cases = [(["a b.png 2"], r"line 1: class id 2 is outside the label list \(2 classes"),
             (["# comment", "a b.png x"], "line 2: class id 'x' is not an integer"),
             (["a b.png 0", "nope.png 0"], "line 2: image .*nope.png' does not exist"),
             (["lonely"], "line 1: 'lonely' should be 'path/to/image.jpg class_id'"),
             ([""], "lists no images")]
    for lines, message in cases:
        with pytest.raises(DatasetError, match=message):
            datasets.ImageNet(tmp_path, *_write_set(tmp_path, lines))
    with pytest.raises(DatasetError, match="'cat' on line 2 repeats line 1"):
        datasets.ImageNet(tmp_path, *_write_set(tmp_path, ["a b.png 0"], labels=("cat", "cat")))
    with pytest.raises(DatasetError, match="label list .* does not exist"):
        datasets.ImageNet(tmp_path, tmp_path / "list.txt", tmp_path / "none.txt")


def test_image_folder_and_split(digits_dir):
    folder = datasets.ImageFolder(digits_dir)
    assert len(folder) == 1797 and folder.labels == [str(d) for d in range(10)]
    train = datasets.ImageNet(digits_dir, digits_dir / "train_list.txt", digits_dir / "labels.txt")
    val = datasets.ImageNet(digits_dir, digits_dir / "val_list.txt", digits_dir / "labels.txt")
    test = datasets.ImageNet(digits_dir, digits_dir / "test_list.txt", digits_dir / "labels.txt")
    assert len(train) + len(val) + len(test) == 1797
    assert not {p for p, _ in train.samples} & {p for p, _ in val.samples}
    assert {label for _, label in test.samples} == set(range(10))
    sample = train[0]
    assert sample["image"].shape == (16, 16, 3) and sample["label"] in range(10)


@pytest.mark.parity
def test_loader_is_reproducible_whatever_the_workers(digits):
    from pxcore.data.loader import Loader

    train, _ = digits
    augmented = datasets.ImageNet(train.data_dir, train.file_list, train.data_dir / "labels.txt",
                                  [T.RandomCrop(12), T.Normalize()], shuffle=True)
    batches = []
    for workers in (0, 2):
        loader = Loader(augmented, 64, shuffle=True, num_workers=workers, seed=7)
        loader.set_epoch(3)
        images, labels = next(iter(loader))
        batches.append((images.numpy(), labels.numpy()))
    # exact on purpose: worker processes run the same elementwise numpy arithmetic (no
    # sums whose order could change) on the same crops, so the floats are bit-identical
    np.testing.assert_array_equal(batches[0][0], batches[1][0])
    np.testing.assert_array_equal(batches[0][1], batches[1][1])
    assert batches[0][0].shape == (64, 3, 12, 12)
    loader.set_epoch(4)
    assert not np.array_equal(next(iter(loader))[1].numpy(), batches[0][1])


def test_top_k_accuracy_caps_k():
    from pxcore.metrics import TopKAccuracy

    metric = TopKAccuracy(num_classes=3)
    metric.update(np.array([[0.1, 0.5, 0.4], [0.9, 0.05, 0.05]]), np.array([2, 0]))
    assert metric.result() == {"acc1": 0.5, "acc3": 1.0}


@pytest.mark.parametrize("workers", [0, 1])
def test_loader_raises_a_samples_error_instead_of_hanging(digits, workers):
    """An error while loading a batch (here a field the model needs and the data set
    lacks) reaches the caller as itself, whatever the number of workers; Paddle's own
    loader would leave the caller waiting (no workers) or raise a bare SystemError."""
    import signal

    from pxcore.data.loader import Loader

    train, _ = digits

    def missing(sample):
        raise PxError(f"sample {sample['_index']} has no gt_mask")

    loader = Loader(train, 16, fields=("label", "gt_mask"), defaults={"gt_mask": missing},
                    num_workers=workers)
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the loader hangs"))
    signal.alarm(60)
    try:
        with pytest.raises(PxError, match="has no gt_mask"):
            next(iter(loader))
    finally:
        signal.alarm(0)
