"""pxcore.engine.precise_bn: BatchNorm running statistics re-estimated as true averages
of the batches' statistics, when "auto" does it, that it leaves the training stream
alone (losses, resume), EMA, the average across processes, and what it buys a short run.

Float tolerance of the averages: rtol 1e-5, atol 1e-6 (float32 sums of at most a dozen
batch statistics of order 1, against a float64 reference)."""

from __future__ import annotations

import logging

import numpy as np
import paddle
import pytest

import pxcore
from pxcore.engine import distributed
from pxcore.engine.ema import ModelEMA
from pxcore.engine.precise_bn import (
    PreciseBN,
    batchnorm_state,
    default_batches,
    parse_setting,
    recompute_batchnorm,
)
from pxcore.errors import PxError
from pxcore.nn.norm import batchnorm_layers, set_batchnorm_momentum

RTOL, ATOL = 1e-5, 1e-6


class BNNet(paddle.nn.Layer):
    """Two convolutions with BatchNorm (momentum 0.99, as the Paddle suites'), dropout
    (so a training forward draws from Paddle's generator) and a linear head; ``shared``
    is called twice per forward (once with ``twice=False``: a BatchNorm called on two
    distributions normalises each with its own statistics in training, which no running
    statistics reproduce), ``unused`` never."""

    def __init__(self, num_classes=10, dropout=0.2, twice=True):
        super().__init__()
        self.twice = twice
        self.conv1 = paddle.nn.Conv2D(3, 8, 3, stride=2, padding=1)
        self.bn1 = paddle.nn.BatchNorm2D(8, momentum=0.99)
        self.conv2 = paddle.nn.Conv2D(8, 8, 3, padding=1)
        self.shared = paddle.nn.BatchNorm2D(8, momentum=0.99)
        self.unused = paddle.nn.BatchNorm2D(8, momentum=0.99)
        self.drop = paddle.nn.Dropout(dropout)
        self.fc = paddle.nn.Linear(8, num_classes)

    def forward(self, x):
        x = paddle.nn.functional.relu(self.bn1(self.conv1(x)))
        x = paddle.nn.functional.relu(self.shared(self.conv2(x)))
        if self.twice:
            x = paddle.nn.functional.relu(self.shared(self.conv2(x)))
        x = x.mean(axis=[2, 3])
        return self.fc(self.drop(x))


def _batches(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return [paddle.to_tensor(rng.normal(1.5, 2.0, (4, 3, 8, 8)).astype(np.float32)) for _ in range(n)]


def _reference(net, batches) -> dict:
    """The mean over every call of each BatchNorm layer of its input's per-channel mean
    and biased variance, in float64 from the inputs themselves (forward pre-hooks)."""
    seen: dict = {}

    def hook(name):
        def record(layer, inputs):
            a = inputs[0].numpy().astype(np.float64)
            seen.setdefault(name, []).append((a.mean((0, 2, 3)), a.var((0, 2, 3))))
        return record

    named = [(n, m) for n, m in net.named_sublayers() if m in batchnorm_layers(net)]
    handles = [m.register_forward_pre_hook(hook(n)) for n, m in named]
    net.train()
    with paddle.no_grad():
        for b in batches:
            net(b)
    for h in handles:
        h.remove()
    return {n: (np.mean([s[0] for s in v], 0), np.mean([s[1] for s in v], 0)) for n, v in seen.items()}


def test_statistics_are_the_true_average_of_the_batches():
    paddle.seed(0)
    net = BNNet()
    net.eval()
    batches = _batches()
    expected = _reference(net, batches)
    net.eval()
    unused_before = batchnorm_state(net)["unused._mean"].numpy()
    assert recompute_batchnorm(net, net, batches) == len(batches)
    for name in ("bn1", "shared"):  # "shared": both calls of every forward count
        layer = getattr(net, name)
        np.testing.assert_allclose(layer._mean.numpy(), expected[name][0], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(layer._variance.numpy(), expected[name][1], rtol=RTOL, atol=ATOL)
        assert layer._momentum == 0.99  # restored
    np.testing.assert_array_equal(net.unused._mean.numpy(), unused_before)  # never called
    assert not net.training and not net.bn1.training  # the modes come back


def test_frozen_batchnorm_is_left_alone():
    paddle.seed(0)
    net = BNNet()
    net.bn1._use_global_stats = True
    before = net.bn1._mean.numpy().copy()
    recompute_batchnorm(net, net, _batches(2))
    np.testing.assert_array_equal(net.bn1._mean.numpy(), before)


def test_settings():
    assert parse_setting("auto") == ("auto", None)
    assert parse_setting(True) == ("always", None) and parse_setting(False) == ("off", None)
    assert parse_setting(7) == ("always", 7)
    for wrong in (0, -1, "yes", 1.5):
        with pytest.raises(PxError, match="precise_bn must be"):
            parse_setting(wrong)
    assert default_batches(4, 100) == 50 and default_batches(64, 100) == 4  # 200 images
    assert default_batches(1000, 100) == 1
    assert default_batches(4, 3) == 10 and default_batches(4, 20) == 20  # a dozen images: 10


class _ListLoader:
    """What PreciseBN reads of a training Loader: batches of 4, ``steps`` an epoch."""
    batch_size = 4

    def __init__(self, steps=1000):
        self.steps = steps

    def __len__(self):
        return self.steps


def _precise(setting, net, batches, steps=1000, **kwargs):
    """A PreciseBN that runs ``batches`` through ``net``, epochs of ``steps`` steps."""
    precise = PreciseBN(setting, loader=_ListLoader(steps), run=net, **kwargs)
    precise._batches = lambda epoch: iter(batches)
    return precise


def test_auto_runs_while_the_initial_statistics_weigh_and_skips_after(caplog):
    paddle.seed(0)
    net = BNNet()
    batches = _batches(3)
    precise = _precise("auto", net, batches)
    with caplog.at_level(logging.INFO, logger="pxcore"):
        # 0.99 ** 90 = 40% of the initial statistics left: re-estimate
        assert precise.refresh(net, epoch=0, global_step=90)
        assert "still give 40% to their initial values" in caplog.text
        # 0.99 ** 1000 = 0.004%: not needed, said once
        assert not precise.refresh(net, epoch=1, global_step=1000)
        assert not precise.refresh(net, epoch=2, global_step=2000)
    assert caplog.text.count("precise BN not needed") == 1
    assert precise.stale_weight(net, 458) > 0.01 > precise.stale_weight(net, 459)
    # epochs of 30 steps: the statistics of weights an epoch old still weigh 0.99 ** 30
    small = _precise("auto", net, batches, steps=30)
    with caplog.at_level(logging.INFO, logger="pxcore"):
        assert small.refresh(net, epoch=99, global_step=3000)
    assert "give 74% to statistics from before the last epoch" in caplog.text
    # with momentum 0.9 the same 90 steps leave 0.9 ** 90 < 1%: not needed
    set_batchnorm_momentum(net, 0.9)
    assert not precise.refresh(net, epoch=0, global_step=90)
    # accumulation: each optimizer step updates the statistics that many times
    accumulating = _precise("auto", net, batches, updates_per_step=8)
    assert not accumulating.refresh(net, epoch=0, global_step=10)
    assert _precise(True, net, batches).refresh(net, epoch=0, global_step=10 ** 6)
    assert not _precise(False, net, batches).refresh(net, epoch=0, global_step=0)
    plain = paddle.nn.Sequential(paddle.nn.Linear(2, 2))  # no BatchNorm: nothing to do
    assert not _precise(True, net, batches).refresh(plain, epoch=0, global_step=0)


def test_ema_statistics_are_the_averaged_weights_and_the_trained_come_back():
    paddle.seed(0)
    net = BNNet()
    batches = _batches(3)
    ema = ModelEMA(net)
    for step in range(3):  # weights that move, so the average differs from them
        with paddle.no_grad():
            for p in net.parameters():
                paddle.assign(p + 0.3 * (step + 1), p)
            net.train()
            net(batches[step])  # the trained buffers move too
        ema.update()
    trained = {k: v.numpy().copy() for k, v in batchnorm_state(net).items()}
    precise = _precise(True, net, batches)
    with ema.apply():
        expected_net = BNNet()
        expected_net.set_state_dict(ema.averaged())
        expected = _reference(expected_net, batches)
        assert precise.refresh(net, epoch=0, global_step=3, key=ema.step)
        np.testing.assert_allclose(net.bn1._mean.numpy(), expected["bn1"][0], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(net.shared._variance.numpy(), expected["shared"][1],
                                   rtol=RTOL, atol=ATOL)
        reestimated = net.bn1._mean.numpy().copy()
    for key, value in batchnorm_state(net).items():  # the trained weights' own statistics
        np.testing.assert_array_equal(value.numpy(), trained[key])
    with ema.apply():  # swapped in again (the best model's save): the re-estimate comes back
        assert precise.reuse(net, ema.step)
        np.testing.assert_array_equal(net.bn1._mean.numpy(), reestimated)
    assert not precise.reuse(net, ema.step + 1)  # not for other weights


def test_processes_average_their_sums(monkeypatch):
    """Two processes, the collective stubbed: the other one saw as many calls per layer,
    with mean 1 and variance 2 in every channel; every layer ends at the mean of both."""
    import paddle.distributed as dist

    paddle.seed(0)
    net = BNNet()
    batches = _batches(4)
    mine = _reference(net, batches)
    calls = {"bn1": 4, "shared": 8}
    order = [n for n, m in net.named_sublayers() if m in batchnorm_layers(net)]  # bn1, shared, unused
    other = []
    for name in order:
        n = calls.get(name, 0)
        other += [np.full(8, 1.0 * n), np.full(8, 2.0 * n)]
    other.append(np.array([calls.get(n, 0) for n in order], np.float64))
    other = np.concatenate(other).astype(np.float32)
    reduced = []

    def all_reduce(tensor):
        reduced.append(tensor.shape)
        paddle.assign(tensor + paddle.to_tensor(other), tensor)

    monkeypatch.setattr(dist, "all_reduce", all_reduce)
    unused_before = net.unused._mean.numpy().copy()
    recompute_batchnorm(net, net, batches, world_size=2)
    assert reduced == [[len(other)]]  # one all-reduce of everything
    for name in ("bn1", "shared"):
        layer = getattr(net, name)
        np.testing.assert_allclose(layer._mean.numpy(), (mine[name][0] + 1.0) / 2, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(layer._variance.numpy(), (mine[name][1] + 2.0) / 2,
                                   rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(net.unused._mean.numpy(), unused_before)  # no process called it

    def no_call(tensor):
        raise AssertionError("a collective in one process")

    monkeypatch.setattr(dist, "all_reduce", no_call)
    recompute_batchnorm(net, net, batches, world_size=1)
    tensors = [paddle.ones([2])]
    assert distributed.sum_tensors_across(tensors, 1) is tensors


# --- in training: the digits, a BatchNorm net at momentum 0.99 ------------------------

FAST = {"train_batch_size": 64, "learning_rate": 0.1, "lr_decay_epochs": [], "num_workers": 0,
        "log_interval_steps": 100}


def _model(seed=0, dropout=0.2):
    paddle.seed(seed)
    model = pxcore.create_model("FixtureNet_cls", num_classes=10,
                                backbone={"type": "FixtureNet", "widths": [8, 16, 32]})
    model.net = BNNet(dropout=dropout, twice=False)
    return model


def _losses(state):
    return [v for _, v in state["history"]["loss"]]


@pytest.mark.parity
def test_training_stream_and_resume_are_untouched(good_plugin, digits, tmp_path):
    """The losses with precise BN are those without, bit for bit, also after the first
    evaluation (the training forward uses batch statistics, and precise BN puts the
    random states back: the dropout draws stay the same); a resumed run with precise BN
    equals the uninterrupted one (without dropout: a checkpoint does not keep Paddle's
    generator, so a dropout net resumes with other draws, precise BN or not)."""
    train, val = digits
    without = _model().train(2, train, eval_dataset=val, save_dir=str(tmp_path / "off"), seed=3,
                             precise_bn=False, **FAST)
    dropout = _model().train(2, train, eval_dataset=val, save_dir=str(tmp_path / "drop"), seed=3,
                             precise_bn=True, **FAST)
    assert _losses(dropout) == _losses(without)
    with_ = _model(dropout=0.0).train(2, train, eval_dataset=val, save_dir=str(tmp_path / "on"),
                                      seed=3, precise_bn=True, **FAST)
    _model(dropout=0.0).train(1, train, eval_dataset=val, save_dir=str(tmp_path / "part"), seed=3,
                   precise_bn=True, **FAST)
    resumed = _model(dropout=0.0).train(2, train, eval_dataset=val, save_dir=str(tmp_path / "part"), seed=3,
                             precise_bn=True, resume_checkpoint=str(tmp_path / "part" / "epoch_1"),
                             **FAST)
    assert _losses(resumed) == _losses(with_)
    assert resumed["history"]["metrics"]["acc1"][-1] == with_["history"]["metrics"]["acc1"][-1]
    saved = paddle.load(str(tmp_path / "part" / "epoch_2" / "model.pdparams"))
    uninterrupted = paddle.load(str(tmp_path / "on" / "epoch_2" / "model.pdparams"))
    np.testing.assert_array_equal(saved["bn1._mean"].numpy(), uninterrupted["bn1._mean"].numpy())


def test_a_short_run_evaluates_better_with_precise_bn(good_plugin, digits, tmp_path, caplog):
    """Three epochs (57 steps) at momentum 0.99 leave 56% of the initial statistics: the
    evaluation-mode net is far from the one that trained (about 0.18 accuracy where
    precise BN, on by "auto", gives about 0.49), and the saved best model carries the
    re-estimated statistics."""
    train, val = digits
    fast = {**FAST, "learning_rate": 0.2}
    stale = _model(dropout=0.0).train(3, train, eval_dataset=val, save_dir=str(tmp_path / "off"),
                                      seed=0, precise_bn=False, **fast)
    with caplog.at_level(logging.INFO, logger="pxcore"):
        model = _model(dropout=0.0)
        precise = model.train(3, train, eval_dataset=val, save_dir=str(tmp_path / "auto"), seed=0,
                              **fast)
    assert "precise BN: BatchNorm statistics re-estimated from 4 batches of 64" in caplog.text
    assert _losses(precise) == _losses(stale)
    assert precise["best_metric"] > stale["best_metric"] + 0.15, (precise["best_metric"],
                                                                   stale["best_metric"])
    best = paddle.load(str(tmp_path / "auto" / "best_model" / "model.pdparams"))
    np.testing.assert_array_equal(best["bn1._variance"].numpy(), model.net.bn1._variance.numpy())


def test_ema_training_ends_with_the_averaged_weights_statistics(good_plugin, digits, tmp_path):
    train, val = digits
    model = _model()
    model.train(1, train, eval_dataset=val, save_dir=str(tmp_path), seed=0, use_ema=True,
                precise_bn=True, **FAST)
    best = paddle.load(str(tmp_path / "best_model" / "model.pdparams"))
    checkpoint = paddle.load(str(tmp_path / "epoch_1" / "model.pdparams"))
    final = model.net.state_dict()
    for key in ("bn1._mean", "shared._variance"):
        # the averaged weights' re-estimate: in the best model and what the net ends with
        np.testing.assert_array_equal(best[key].numpy(), final[key].numpy())
        # the checkpoint keeps the trained weights and their own running statistics
        assert not np.allclose(checkpoint[key].numpy(), best[key].numpy())
    np.testing.assert_array_equal(best["fc.weight"].numpy(), final["fc.weight"].numpy())
