"""Export and the Predictor with the core's Paddle Inference runtime."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import yaml

import pxcore
from pxcore.errors import PxError, UnknownNameError
from pxcore.inference import RuntimeUnavailable
from pxcore.testing.numerics import assert_same_classifications
from pxcore.transforms import Compose, Normalize, Resize


@pytest.fixture
def exported(good_plugin, digits_dir, tmp_path):
    import paddle

    paddle.seed(0)
    model = pxcore.create_model("FixtureNet_cls", num_classes=10)
    model.labels = [f"digit {i}" for i in range(10)]
    model.eval_transforms = Compose([Resize(24), Normalize()])
    return model, model.export(tmp_path / "inference")


def _images(digits_dir, n=5):
    return [str(p) for p in sorted(digits_dir.rglob("*.png"))[:: 1797 // n][:n]]


def test_export_writes_a_self_describing_directory(exported):
    model, out = exported
    info = yaml.safe_load((out / "deploy.yml").read_text())
    assert info["format"] == "pxcore-deploy/1" and info["task"] == "classification"
    assert info["inputs"] == [{"name": "image", "shape": [-1, 3, -1, -1], "dtype": "float32", "layout": "NCHW"}]
    assert info["outputs"] == [{"name": "logits", "shape": [-1, 10]}]
    assert info["input_size"] == [24, 24] and info["labels"][3] == "digit 3"
    assert info["transforms"]["transforms"][0] == {"type": "Resize", "target_size": 24, "interp": "LINEAR"}
    assert (out / info["files"]["program"]).is_file() and (out / info["files"]["params"]).is_file()


@pytest.mark.parity
def test_predictor_gives_what_model_predict_gives(exported, digits_dir):
    model, out = exported
    predictor = pxcore.Predictor(out, runtime="paddle")
    images = _images(digits_dir)
    ours, theirs = predictor.predict(images, topk=3), model.predict(images, topk=3)
    # Paddle Inference against eager Paddle: other kernels, other summation order (seen
    # 3e-7 apart relatively on this small net); SCORE_RTOL, order the same except ties.
    assert_same_classifications(ours, theirs)
    single = predictor.predict(images[0], topk=1)
    # Exact on purpose: the same predictor on the same batch of 1, one image or a list of one.
    assert single == predictor.predict([images[0]], topk=1)[0]


def test_batch_and_image_size_stay_dynamic(exported):
    _, out = exported
    predictor = pxcore.Predictor(out, runtime="paddle")
    for shape in ([1, 3, 24, 24], [3, 3, 40, 56]):
        (logits,) = predictor.run(np.random.rand(*shape).astype("float32"))
        assert logits.shape == (shape[0], 10)


def test_fixed_input_shape(good_plugin, digits_dir, tmp_path):
    model = pxcore.create_model("FixtureNet_cls", num_classes=4)
    model.eval_transforms = Compose([Resize((48, 32)), Normalize()])
    out = model.export(tmp_path / "fixed", fixed_input_shape=[48, 32], batch_size=2)
    info = pxcore.deploy.read_deploy_info(out)
    assert info["inputs"][0]["shape"] == [2, 3, 32, 48]
    with pytest.raises(PxError, match=r"fixed_input_shape must be \[width, height\]"):
        model.export(tmp_path / "bad", fixed_input_shape=32)
    # A graph for batches of exactly 2 runs 3 images as 2 + 1 padded to 2.
    predictor = pxcore.Predictor(out, runtime="paddle")
    images = _images(digits_dir, 3)
    pairs = predictor.predict(images, topk=2)
    assert len(pairs) == 3
    # Paddle Inference on a batch of 2 against eager Paddle: SCORE_RTOL as above.
    assert_same_classifications(pairs, model.predict(images, topk=2, batch_size=1))
    with pytest.raises(PxError, match=r"exported for batches of exactly 2, so batch_size=4 cannot run"):
        predictor.predict(images, batch_size=4)


@pytest.mark.parity
def test_predict_runs_the_network_on_batches_of_batch_size(exported, digits_dir):
    _, out = exported
    predictor = pxcore.Predictor(out, runtime="paddle")
    images = _images(digits_dir, 7)
    sizes = []
    run = predictor.run
    predictor.run = lambda batch: sizes.append(len(batch)) or run(batch)
    batched = predictor.predict(images, topk=3, batch_size=3)
    assert sizes == [3, 3, 1]
    sizes.clear()
    one_by_one = predictor.predict(images, topk=3, batch_size=1)
    assert sizes == [1] * 7
    # Other batch sizes, other kernel blocking: SCORE_RTOL, order the same except ties.
    assert_same_classifications(batched, one_by_one)
    for bad in (0, -2, 1.5, True, "8"):
        with pytest.raises(PxError, match="batch_size must be a positive whole number"):
            predictor.predict(images, batch_size=bad)


@pytest.mark.parity
@pytest.mark.parametrize("runtime", ["paddle", "onnxruntime", "openvino"])
def test_eight_threads_get_the_serial_results(exported, digits_dir, runtime):
    """Paddle Inference clones a predictor per thread; ONNX Runtime shares one session;
    OpenVINO makes an infer request per thread on one compiled model."""
    if runtime == "onnxruntime":
        import pxcore_runtime_onnx.plugin

        pxcore.register_plugin(pxcore_runtime_onnx.plugin, name="pxcore-runtime-onnx")
    if runtime == "openvino":
        import pxcore_runtime_openvino.plugin

        pxcore.register_plugin(pxcore_runtime_openvino.plugin, name="pxcore-runtime-openvino")
    _, out = exported
    predictor = pxcore.Predictor(out, runtime=runtime, threads=1)
    images = _images(digits_dir, 8)
    serial = [predictor.predict(image, topk=2) for image in images]
    results = [None] * 8
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        for _ in range(3):
            results[i] = predictor.predict(images[i], topk=2)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Exact on purpose: each session runs one thread on a batch of 1, as the serial calls
    # did, so the same kernels add in the same order; any difference would be a race.
    assert results == serial


def test_predictor_errors_say_what_to_do(exported, good_plugin, tmp_path):
    _, out = exported
    with pytest.raises(UnknownNameError, match="no runtime named 'onnx'.*paddle"):
        pxcore.Predictor(out, runtime="onnx")
    with pytest.raises(RuntimeUnavailable, match="CPU build; install paddlepaddle-gpu"):
        pxcore.Predictor(out, runtime="paddle", device="gpu")
    with pytest.raises(RuntimeUnavailable, match="fp32 only"):
        pxcore.Predictor(out, runtime="paddle", precision="fp16")
    with pytest.raises(PxError, match="device 'tpu' is not one of"):
        pxcore.Predictor(out, device="tpu")
    trained = pxcore.create_model("FixtureNet_cls", num_classes=3).save(tmp_path / "trained")
    with pytest.raises(PxError, match="training checkpoint: export it with `px export`"):
        pxcore.Predictor(trained)


@pytest.mark.parity
def test_cli_export_predict_runtimes(good_plugin, digits_dir, tmp_path, capsys):
    import json

    from pxcore.cli import main

    model = pxcore.create_model("FixtureNet_cls", num_classes=10)
    model.eval_transforms = Compose([Normalize()])
    saved = model.save(tmp_path / "saved")
    assert main(["export", str(saved), "--save-dir", str(tmp_path / "inf")]) == 0
    assert "exported FixtureNet_cls" in capsys.readouterr().out
    image = _images(digits_dir, 1)[0]
    assert main(["predict", str(tmp_path / "inf"), image, "--runtime", "paddle",
                 "--save-dir", str(tmp_path / "pics")]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["by"] == "runtime paddle"
    # Paddle Inference against eager: top-1 the same unless its score ties (numerics)
    assert_same_classifications(line["result"], model.predict(image))
    three = _images(digits_dir, 3)
    assert main(["predict", str(tmp_path / "inf"), *three, "--runtime", "paddle", "--batch-size", "2",
                 "--topk", "2", "--save-dir", str(tmp_path / "pics")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # batches of 2 and 1 against eager batches of 8: SCORE_RTOL (numerics)
    assert_same_classifications([line["result"] for line in lines], model.predict(three, topk=2))
    assert main(["predict", str(tmp_path / "inf"), image, "--batch-size", "0"]) == 1
    assert "batch_size must be a positive whole number" in capsys.readouterr().err
    assert main(["predict", str(saved), image, "--runtime", "paddle"]) == 1
    assert "export" in capsys.readouterr().err
    assert main(["runtimes"]) == 0
    listing = capsys.readouterr().out
    assert "precisions" in listing.splitlines()[0]
    assert any(line.startswith("paddle ") and " fp32,fp16 " in line for line in listing.splitlines())


def test_model_predict_refuses_a_batch_size_that_is_not_one(exported, digits_dir):
    """model.predict runs the same predict_images as the Predictor: the same check."""
    from pxcore.inference import detection, segmentation

    model, _ = exported
    images = _images(digits_dir, 2)
    with pytest.raises(PxError, match="batch_size must be a positive whole number of images, got 0"):
        model.predict(images, batch_size=0)
    with pytest.raises(PxError, match="got -1"):
        detection.predict_images(images, model.eval_transforms, run=None, postprocess=None,
                                 labels=None, batch_size=-1)
    with pytest.raises(PxError, match="got 2.5"):
        segmentation.predict_images(images, model.eval_transforms, run=None, batch_size=2.5)
