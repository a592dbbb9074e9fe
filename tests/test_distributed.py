"""Data-parallel training on Paddle's collective engine, on CPUs (gloo): two processes
end with the weights one process reaches with the same global batch, and evaluate
(sharded, then combined) the metrics one process gets; gradient accumulation equals
the bigger batch; only rank 0 writes; the amp and sync_bn arguments are checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pxcore
from pxcore.engine import distributed
from pxcore.errors import PxError
from pxcore.testing.detections import assert_same_detections
from pxcore.testing.numerics import (
    assert_same_accuracy,
    assert_same_confusion,
    assert_scores_close,
)

HELPER = Path(__file__).with_name("dist_training.py")
FAST = {"train_batch_size": 32, "learning_rate": 0.1, "lr_decay_epochs": [], "num_workers": 0,
        "log_interval_steps": 100}


def _model(seed=0):
    import paddle

    paddle.seed(seed)
    return pxcore.create_model("FixtureNet_cls", num_classes=10,
                               backbone={"type": "FixtureNet", "widths": [8, 16, 32]})


def _weights(directory) -> dict[str, np.ndarray]:
    import paddle

    return {k: np.asarray(v) for k, v in paddle.load(str(Path(directory) / "model.pdparams")).items()}


def _assert_close(a: dict, b: dict, tol: float) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=tol, atol=tol, err_msg=key)


def _assert_accuracies_within(a: dict, b: dict, count: int, flips: int = 1) -> None:
    """Histories of accuracies (``{"acc1": [[epoch, value], ...], ...}`` over ``count``
    images) the same epochs, each value at most ``flips`` images apart."""
    assert a.keys() == b.keys()
    for key in a:
        assert [e for e, _ in a[key]] == [e for e, _ in b[key]], key
        for (epoch, x), (_, y) in zip(a[key], b[key], strict=True):
            assert abs(round(x * count) - round(y * count)) <= flips, (key, epoch, x, y)


def _run(args: list[str], tmp_path: Path, launch: bool) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PADDLE_", "FLAGS_"))}
    env.update(PXCORE_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONPATH=os.pathsep.join(
        [str(Path(pxcore.__file__).parents[1]), env.get("PYTHONPATH", "")]))
    cmd = [sys.executable, str(HELPER), *args]
    log_dir = tmp_path / f"log_{Path(args[1]).name}"  # the launcher appends to old logs
    if launch:
        cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
               "--log_dir", str(log_dir), *cmd[1:]]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    out = proc.stdout
    if launch:  # each process's output is in its worker log (the launcher echoes rank 0's)
        out = "".join(p.read_text() for p in sorted(log_dir.glob("workerlog.*")))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:] + out[-3000:]
    return [line for line in out.splitlines() if line.startswith("DONE ")]


@pytest.mark.slow
@pytest.mark.parity
def test_two_processes_reach_the_weights_of_one(digits_dir, tmp_path):
    """Gloo on CPU: 2 processes x 16 images = one process with batches of 32, also when
    each process accumulates 2 micro-batches of 8; each process evaluates half of the
    evaluation set and every one gets the metrics of one process evaluating all."""
    from pxcore import datasets

    shapes = datasets.make_shapes(tmp_path / "shapes", num_images=20, image_size=48, seed=0)
    extra = ["--shapes", str(shapes)]
    one = _run([str(digits_dir), str(tmp_path / "one"), "2", "32", *extra], tmp_path,
               launch=False)
    two = _run([str(digits_dir), str(tmp_path / "two"), "2", "32", *extra], tmp_path,
               launch=True)
    assert [line.split()[1:3] for line in one] == [["0", "1"]]
    assert sorted(line.split()[1:3] for line in two) == [["0", "2"], ["1", "2"]]
    single = json.loads(one[0].split(" ", 3)[3])
    states = [json.loads(line.split(" ", 3)[3]) for line in two]
    count = len(single["eval"]["cls_labels"])
    for state in states:  # every rank: the same steps, losses (averaged) and gathered metrics
        # The same untrained net in other processes and other batches: scores within
        # SCORE_RTOL; argmax decisions the same except on ties (pxcore.testing.numerics).
        evaluated, alone = state["eval"], single["eval"]
        assert evaluated["cls_labels"] == alone["cls_labels"]  # integer labels, copied
        assert_same_accuracy(evaluated["cls"], alone["cls"], alone["cls_scores"], count)
        assert_scores_close(evaluated["cls_scores"], alone["cls_scores"])
        assert_same_confusion(evaluated["seg_matrix"], alone["seg_matrix"], alone["seg_scores"])
        if evaluated["seg_matrix"] == alone["seg_matrix"]:  # then the metrics are the same sums
            assert evaluated["seg"] == alone["seg"]
        # Trained weights differ by up to 3e-6 (below): scores by up to about 1e-4, so an
        # image whose two best scores tie that closely may count differently; one per metric.
        _assert_accuracies_within(state["history"]["metrics"], single["history"]["metrics"], count)
        assert state["global_step"] == single["global_step"] > 0
        assert state["best_metric"] == pytest.approx(single["best_metric"], abs=1.01 / count)
        np.testing.assert_allclose([v for _, v in state["history"]["loss"]],
                                   [v for _, v in single["history"]["loss"]], rtol=1e-4)
    # float32 all-reduce adds in another order: seen here, at most 3e-6 apart (weights ~1)
    _assert_close(_weights(tmp_path / "two" / "epoch_2"), _weights(tmp_path / "one" / "epoch_2"),
                  2e-5)
    written = sorted(p.name for p in (tmp_path / "two").iterdir())
    assert written == sorted(p.name for p in (tmp_path / "one").iterdir())
    # 2 processes x 2 accumulated micro-batches of 8 (DataParallel.no_sync for the first)
    acc = _run([str(digits_dir), str(tmp_path / "acc"), "2", "16", "--accumulate", "2"],
               tmp_path, launch=True)
    assert len(acc) == 2
    _assert_close(_weights(tmp_path / "acc" / "epoch_2"), _weights(tmp_path / "one" / "epoch_2"),
                  2e-5)


@pytest.mark.parity
def test_accumulating_two_batches_equals_one_twice_as_big(good_plugin, digits, tmp_path):
    train, _ = digits
    small = _model().train(1, train, save_dir=str(tmp_path / "acc"), seed=1, accumulate_steps=2,
                           **{**FAST, "train_batch_size": 16})
    big = _model().train(1, train, save_dir=str(tmp_path / "big"), seed=1, **FAST)
    assert small["global_step"] == big["global_step"] == len(train) // 32
    np.testing.assert_allclose([v for _, v in small["history"]["loss"]],
                               [v for _, v in big["history"]["loss"]], rtol=1e-5)
    _assert_close(_weights(tmp_path / "acc" / "epoch_1"), _weights(tmp_path / "big" / "epoch_1"),
                  1e-5)


def test_micro_batches_weigh_by_their_share():
    import paddle

    from pxcore.engine.trainer import _micro_batches

    batch = [paddle.arange(5), paddle.arange(5) * 10]
    parts = _micro_batches(batch, 2)
    assert [p[0].numpy().tolist() for p, _ in parts] == [[0, 1], [2, 3, 4]]
    assert [w for _, w in parts] == [0.4, 0.6]  # 2/5 and 3/5, correctly rounded: exact
    assert len(_micro_batches(batch[:1][:1], 8)) == 5  # never an empty micro-batch
    assert _micro_batches(batch, 1) == [(batch, 1.0)]


def test_only_rank_0_writes(good_plugin, digits, tmp_path, monkeypatch):
    """Rank 1 of 2 (the collectives stubbed): it trains its shard, evaluates its share of
    the evaluation set (the counts then go to sum_across) and writes nothing."""
    summed = []
    monkeypatch.setattr(distributed, "world", lambda: (1, 2))
    monkeypatch.setattr(distributed, "mean_across", lambda value, world_size: value)
    monkeypatch.setattr(distributed, "sum_across",
                        lambda array, world_size: summed.append(list(array)) or array)
    monkeypatch.setattr(distributed, "wrap", lambda net, world_size, sync_bn: net)
    train, val = digits
    save_dir = tmp_path / "rank1"
    state = _model().train(2, train, eval_dataset=val, save_dir=str(save_dir), seed=0, **FAST)
    assert not save_dir.exists()
    assert state["epoch"] == 2 and state["global_step"] == 2 * (len(train) // 32)
    assert [counts[2] for counts in summed] == [len(val) // 2] * 2  # images 1, 3, 5, ...
    assert state["best_metric"] == max(c[0] / c[2] for c in summed)  # the same ints divided


def _as_ranks(monkeypatch, evaluate, world_size=2):
    """``evaluate()`` run as each rank of ``world_size`` in turn, the collectives stubbed:
    per rank, what it handed to sum_across and gather_samples."""
    handed = []
    for rank in range(world_size):
        calls = {"sum": [], "gather": []}
        monkeypatch.setattr(distributed, "world", lambda rank=rank: (rank, world_size))
        monkeypatch.setattr(distributed, "sum_across",
                            lambda a, ws, c=calls: c["sum"].append(np.asarray(a)) or a)
        monkeypatch.setattr(distributed, "gather_samples",
                            lambda items, ws, c=calls: c["gather"].append(items) or items)
        evaluate()
        handed.append(calls)
    return handed


def test_eval_shares_interleave_back_in_order(monkeypatch):
    shares = []
    for rank in range(3):
        monkeypatch.setattr(distributed, "world", lambda rank=rank: (rank, 3))
        shares.append(distributed.eval_share(7))
    assert shares == [([0, 3, 6], 3), ([1, 4], 3), ([2, 5], 3)]
    assert distributed.interleave([s for s, _ in shares]) == list(range(7))
    assert distributed.interleave([[0], [], []]) == [0]  # more processes than samples
    assert distributed.interleave([]) == []
    monkeypatch.setattr(distributed, "world", lambda: (0, 1))
    assert distributed.eval_share(3) == ([0, 1, 2], 1)


def test_sum_and_gather_call_the_collectives_only_with_several_processes(monkeypatch):
    import paddle
    import paddle.distributed as dist

    def no_call(*args):
        raise AssertionError("a collective in one process")

    monkeypatch.setattr(dist, "all_reduce", no_call)
    monkeypatch.setattr(dist, "all_gather_object", no_call)
    matrix = np.arange(4).reshape(2, 2)
    assert distributed.sum_across(matrix, 1) is matrix
    assert distributed.gather_samples(["a"], 1) == ["a"]
    # two processes: the other one holds 10 times this one's counts, and items "b", "d"
    monkeypatch.setattr(dist, "all_reduce", lambda t: paddle.assign(t * 11, t))
    monkeypatch.setattr(dist, "all_gather_object",
                        lambda out, obj: out.extend([obj, ["b", "d"]]))
    big = np.array([2 ** 40, 3])  # int64 all the way (float32 would round it)
    total = distributed.sum_across(big, 2)
    assert total.dtype == np.int64 and total.tolist() == [11 * 2 ** 40, 33]
    assert distributed.gather_samples(["a", "c", "e"], 2) == ["a", "b", "c", "d", "e"]


@pytest.mark.parity
def test_classification_shares_add_up_to_one_process(good_plugin, digits, monkeypatch):
    """Each rank scores every other image, so its batches of 8 hold other images than one
    process's: a kernel adds in another order and the scores move in the 7th digit. They
    agree within SCORE_RTOL (pxcore.testing.numerics); the counts, decided by argmax,
    agree except for images whose deciding scores tie within it (none, in practice)."""
    _, val = digits
    model = _model()
    single, details = model.evaluate(val, batch_size=8, return_details=True)
    handed = _as_ranks(monkeypatch, lambda: model.evaluate(val, batch_size=8,
                                                           return_details=True))
    counts = sum(calls["sum"][0] for calls in handed)
    assert counts[2] == len(val)  # integers: every image counted once
    assert_same_accuracy(single, {"acc1": counts[0] / counts[2], "acc5": counts[1] / counts[2]},
                         details["scores"], len(val))
    pairs = distributed.interleave([calls["gather"][0] for calls in handed])
    assert [p[0] for p in pairs] == details["true_labels"]  # integer labels, copied
    assert_scores_close([p[1] for p in pairs], details["scores"])


@pytest.mark.parity
def test_segmentation_shares_add_up_to_one_process(tmp_path, monkeypatch):
    """The ranks' batches of 2 hold other images than one process's; a pixel's argmax
    may flip only where its two best probabilities tie (assert_same_confusion)."""
    import fixture_plugins
    from pxcore import datasets
    from pxcore import transforms as T

    pxcore.register_plugin(fixture_plugins.Segmenter(), name="seg-fixture")
    root = datasets.make_shapes(tmp_path, num_images=20, image_size=48, seed=0)
    val = datasets.SegDataset(root, root / "seg_val_list.txt", root / "seg_labels.txt",
                              T.Compose([T.Normalize([0.5] * 3, [0.5] * 3)]))
    import paddle

    paddle.seed(0)
    model = pxcore.create_model("TinySeg", num_classes=val.num_classes)
    single, details = model.evaluate(val, batch_size=2, return_details=True)
    handed = _as_ranks(monkeypatch, lambda: model.evaluate(val, batch_size=2))
    matrix = sum(calls["sum"][0] for calls in handed)
    assert matrix.dtype == np.int64 and matrix.sum() > 0
    images = [val.load(i)["image"] for i in range(len(val))]
    scores = np.stack([r["score_map"] for r in model.predict(images, val.transforms, batch_size=2, score_map=True)])
    assert_same_confusion(matrix, details["confusion_matrix"], scores)


@pytest.mark.parity
@pytest.mark.uses_installed_plugins
def test_detection_gathers_to_one_process_results(tmp_path, monkeypatch):
    """Each rank detects in its share alone (batches of 1 here, one process's of 2), so
    the boxes and scores are compared within tolerances (pxcore.testing.detections)."""
    from pxcore import datasets
    from pxcore import transforms as T

    root = datasets.make_shapes(tmp_path, num_images=12, image_size=64, seed=1)
    val = datasets.VOCDetection(root, root / "val_list.txt", root / "labels.txt",
                                transforms=T.Compose([T.Resize(64), T.Normalize()]))
    import paddle

    paddle.seed(0)
    model = pxcore.create_model("YOLOv3-MobileNetV1", num_classes=val.num_classes,
                                nms={"type": "multiclass", "score_threshold": 1e-4,
                                     "keep_top_k": 5})
    single, results = model.evaluate(val, batch_size=2, return_details=True)
    handed = _as_ranks(monkeypatch, lambda: model.evaluate(val, batch_size=2))
    per_image = distributed.interleave([calls["gather"][0] for calls in handed])
    assert len(per_image) == len(val) and results
    gathered = [d for found in per_image for d in found]
    assert [d["image_id"] for d in gathered] == [d["image_id"] for d in results]  # order, ints
    # Ranks run batches of 1 where one process ran batches of 2: the same boxes up to
    # float noise (pxcore.testing.detections' tolerances), image by image.
    for image in sorted({d["image_id"] for d in results}):
        assert_same_detections([d for d in gathered if d["image_id"] == image],
                               [d for d in results if d["image_id"] == image],
                               threshold=1e-4, keep_top_k=5)


def test_loader_shards_each_global_batch(digits):
    from pxcore.data.loader import Loader

    train, _ = digits
    whole = Loader(train, 8, shuffle=True, seed=3, num_workers=0)
    ranks = [Loader(train, 8, shuffle=True, seed=3, num_workers=0, rank=r, world_size=2)
             for r in (0, 1)]
    assert len(ranks[0]) == len(train) // 8
    for full, first, second in zip(whole, *ranks, strict=False):
        np.testing.assert_array_equal(full[1].numpy(), np.concatenate(
            [first[1].numpy(), second[1].numpy()]))
    with pytest.raises(PxError, match="does not split evenly over 2"):
        Loader(train, 7, world_size=2)


def test_amp_and_sync_bn_arguments(good_plugin, digits, tmp_path, caplog):
    train, _ = digits
    with pytest.raises(PxError, match="amp must be None, 'O1' or 'O2'"):
        _model().train(1, train, save_dir=str(tmp_path / "a"), amp="O3", **FAST)
    with pytest.raises(PxError, match="accumulate_steps must be a positive integer"):
        _model().train(1, train, save_dir=str(tmp_path / "a"), accumulate_steps=0, **FAST)
    with pytest.raises(PxError, match="SyncBatchNorm has no CPU kernel"):
        _model().train(1, train, save_dir=str(tmp_path / "a"), sync_bn=True, **FAST)
    with caplog.at_level("WARNING", logger="pxcore"):  # a CPU trains in float32
        state = _model().train(1, train, save_dir=str(tmp_path / "b"), amp="O1", seed=0, **FAST)
    assert "training goes on in float32" in caplog.text and state["global_step"] > 0


@pytest.mark.filterwarnings("ignore:AmpScaler can only be enabled")
def test_precision_on_a_gpu_scales_float16(monkeypatch):
    """What the loop gets on a device with float16 (asked of paddle.amp, not run here)."""
    import paddle

    from pxcore.engine.amp import Precision

    monkeypatch.setattr(paddle.amp, "is_float16_supported", lambda device=None: True)
    p = Precision("O2", device="gpu:0")
    assert p.level == "O2" and p.dtype == "float16" and p.scaler is not None
    monkeypatch.setattr(paddle.amp, "is_float16_supported", lambda device=None: False)
    monkeypatch.setattr(paddle.amp, "is_bfloat16_supported", lambda device=None: True)
    p = Precision("O1", device="gpu:0")
    assert p.dtype == "bfloat16" and p.scaler is None
    assert Precision(None).autocast() is not None


def test_px_train_devices_builds_the_launch_command(monkeypatch):
    import argparse

    from pxcore.cli.train import launch_command
    from pxcore.errors import ConfigError

    monkeypatch.delenv("PADDLE_TRAINERS_NUM", raising=False)

    def args(**kw):
        base = {"config": "cfg.yml", "devices": None, "nproc": None, "nnodes": None,
                "master": None, "log_dir": "log"}
        return argparse.Namespace(**{**base, **kw})

    assert launch_command(args(), [], cuda=True) is None
    assert launch_command(args(devices="0"), [], cuda=True) is None
    cmd = launch_command(args(devices="0,1"), ["--epochs=3"], cuda=True)
    assert cmd[1:] == ["-m", "paddle.distributed.launch", "--log_dir", "log", "--devices", "0,1",
                       str(Path(pxcore.__file__).parent / "cli" / "launched.py"), "train",
                       "cfg.yml", "--epochs=3"]
    cmd = launch_command(args(nproc=2, nnodes=2, master="10.0.0.1:8090"), [], cuda=False)
    assert cmd[3:9] == ["--log_dir", "log", "--nproc_per_node", "2", "--nnodes", "2"]
    assert "--master" in cmd and "10.0.0.1:8090" in cmd
    with pytest.raises(ConfigError, match="needs --master"):
        launch_command(args(nnodes=2), [], cuda=False)
    with pytest.raises(ConfigError, match="not both"):
        launch_command(args(devices="0,1", nproc=2), [], cuda=False)
    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "2")  # inside a launched process: train here
    assert launch_command(args(devices="0,1"), [], cuda=True) is None
