"""The training engine on real digits with a small network: it learns, checkpoints,
resumes where it stopped, stops on NaN, stops early, and saved models come back."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

import pxcore
from pxcore.engine.hooks import Hook
from pxcore.engine.trainer import TrainingError
from pxcore.errors import PxError
from pxcore.testing.numerics import assert_same_classifications

FAST = {"train_batch_size": 64, "learning_rate": 0.1, "lr_decay_epochs": [], "num_workers": 0,
        "log_interval_steps": 100}


def _model(num_classes=10, seed=0):
    import paddle

    paddle.seed(seed)  # the same initial weights every time
    return pxcore.create_model("FixtureNet_cls", num_classes=num_classes,
                               backbone={"type": "FixtureNet", "widths": [8, 16, 32]})


@pytest.mark.parity
def test_train_learns_checkpoints_and_reloads(good_plugin, digits, tmp_path):
    train, val = digits
    model = _model()
    state = model.train(3, train, eval_dataset=val, save_dir=str(tmp_path), seed=0, **FAST)
    losses = [v for _, v in state["history"]["loss"]]
    per_epoch = len(losses) // 3
    assert np.mean(losses[-per_epoch:]) < 0.5 * np.mean(losses[:per_epoch])
    assert state["best_metric"] > 0.8 and state["epoch"] == 3
    for name in ("epoch_1", "epoch_2", "epoch_3", "best_model"):
        assert (tmp_path / name / "model.yml").is_file() and (tmp_path / name / "model.pdparams").is_file()
    assert (tmp_path / "curves.png").stat().st_size > 1000
    info = yaml.safe_load((tmp_path / "best_model" / "model.yml").read_text())
    assert info["labels"] == [str(d) for d in range(10)] and info["num_classes"] == 10
    assert info["transforms"]["eval"]["transforms"] == [{"type": "Normalize", "mean": [0.485, 0.456, 0.406],
                                                         "std": [0.229, 0.224, 0.225], "is_scale": True}]
    metrics = model.evaluate(val, batch_size=50)
    assert set(metrics) == {"acc1", "acc5"} and metrics["acc5"] >= metrics["acc1"]
    image = str(val.samples[0][0])
    result = model.predict(image, topk=3)
    assert [set(r) for r in result] == [{"category_id", "category", "score"}] * 3
    assert result[0]["score"] >= result[1]["score"] >= result[2]["score"]
    loaded = pxcore.load_model(tmp_path / "epoch_3")  # the weights the model ended with
    # The image predicted alone, then as both rows of a batch of 2: other kernel paths add
    # in another order (row 1 moves in the 7th digit), so scores within SCORE_RTOL and the
    # top 3 in the same order unless two tie within it (pxcore.testing.numerics).
    assert_same_classifications(loaded.predict([image, image], topk=3), [result, result])
    # Exact on purpose: the same weights (float32 saved and read back bit for bit), the same
    # code path (evaluate, eval mode) on the same batches of 50 in the same process, so the
    # same kernels add in the same order and every argmax, hence every count, is the same.
    assert loaded.evaluate(val, batch_size=50) == metrics


@pytest.mark.parity
def test_resume_continues_as_if_never_stopped(good_plugin, digits, tmp_path):
    train, _ = digits
    whole = _model().train(2, train, save_dir=str(tmp_path / "whole"), seed=3, **FAST)
    _model().train(1, train, save_dir=str(tmp_path / "part"), seed=3, **FAST)
    resumed = _model().train(2, train, save_dir=str(tmp_path / "part"), seed=3,
                             resume_checkpoint=str(tmp_path / "part" / "epoch_1"), **FAST)
    assert resumed["epoch"] == 2
    np.testing.assert_allclose([v for _, v in resumed["history"]["loss"]],
                               [v for _, v in whole["history"]["loss"]], rtol=1e-5)


def test_nan_loss_stops_training_and_names_the_step(good_plugin, digits, tmp_path):
    train, _ = digits
    # A learning rate this large blows the weights up on the first step.
    with pytest.raises(TrainingError, match=r"the loss became (nan|inf) at epoch 1, step [2-9].*none saved yet"):
        _model().train(1, train, save_dir=str(tmp_path), **{**FAST, "learning_rate": 1e30})


def test_early_stop(good_plugin, digits, tmp_path):
    train, val = digits
    state = _model().train(6, train, eval_dataset=val, save_dir=str(tmp_path),
                           **{**FAST, "learning_rate": 1e-12}, early_stop=True, early_stop_patience=1)
    assert state["epoch"] == 2


def test_train_argument_errors(good_plugin, digits, tmp_path):
    train, _ = digits
    with pytest.raises(PxError, match="has 10 classes but the model 3"):
        _model(num_classes=3).train(1, train, save_dir=str(tmp_path))
    with pytest.raises(PxError, match="never downloads"):
        _model().train(1, train, pretrain_weights="IMAGENET", save_dir=str(tmp_path))
    with pytest.raises(PxError, match="warmup_steps .* runs past the first decay"):
        _model().train(2, train, save_dir=str(tmp_path), warmup_steps=1000, lr_decay_epochs=[1])
    with pytest.raises(PxError, match="not a pxcore model directory"):
        pxcore.load_model(tmp_path)


def test_pretrain_weights_for_part_of_the_network(good_plugin, digits, tmp_path):
    """Backbone weights under a fresh head, as PaddleX's DeepLabv3p takes a zoo archive:
    refused unless partial=True, which loads them and reports the head as left at init."""
    import paddle

    from pxcore.errors import WeightsError

    train, _ = digits
    net = _model(seed=1).net
    path = tmp_path / "backbone.pdparams"
    paddle.save({k: v for k, v in net.state_dict().items() if k.startswith("backbone.")}, str(path))
    head = sorted(k for k in net.state_dict() if not k.startswith("backbone."))
    with pytest.raises(WeightsError, match="pass partial=True"):
        _model().train(1, train, pretrain_weights=path, save_dir=str(tmp_path / "refused"), **FAST)
    model = _model()
    model.train(1, train, pretrain_weights=path, partial=True, save_dir=str(tmp_path / "ok"), **FAST)
    assert sorted(model.weights_report.left_at_init) == head


def test_cli_train_eval_predict(good_plugin, digits_dir, tmp_path, capsys):
    from pxcore.cli import main

    dataset = {"type": "ImageNet", "data_dir": str(digits_dir), "label_list": str(digits_dir / "labels.txt"),
               "transforms": [{"type": "Normalize"}]}
    config = {"model": {"type": "FixtureNet_cls", "backbone": {"type": "FixtureNet", "widths": [8, 16, 32]}},
              "train_dataset": {**dataset, "file_list": str(digits_dir / "train_list.txt"), "shuffle": True},
              "eval_dataset": {**dataset, "file_list": str(digits_dir / "val_list.txt")},
              "train": {**FAST, "num_epochs": 2, "save_dir": str(tmp_path / "run")}}
    (tmp_path / "train.yml").write_text(yaml.safe_dump(config))
    assert main(["train", str(tmp_path / "train.yml")]) == 0
    assert "best acc1" in capsys.readouterr().out
    best = str(tmp_path / "run" / "best_model")
    assert main(["eval", best, "--file-list", str(digits_dir / "test_list.txt")]) == 0
    assert json.loads(capsys.readouterr().out)["acc1"] > 0.5
    image = str(digits_dir / "7" / sorted(p.name for p in (digits_dir / "7").iterdir())[0])
    assert main(["predict", best, image, "--topk", "2", "--save-dir", str(tmp_path / "pics")]) == 0
    line = json.loads(capsys.readouterr().out.splitlines()[0])
    assert len(line["result"]) == 2 and (tmp_path / "pics").glob("*.png")
    assert main(["train", str(tmp_path / "missing.yml")]) == 1


def test_visualdl_logs_when_installed_and_training_goes_on_without(good_plugin, digits, tmp_path,
                                                                   monkeypatch, caplog):
    import sys
    import types

    train, val = digits
    monkeypatch.setitem(sys.modules, "visualdl", None)  # not installed
    _model().train(1, train, eval_dataset=val, save_dir=str(tmp_path / "a"), use_vdl=True, **FAST)
    assert "VisualDL is not installed" in caplog.text

    scalars = []

    class LogWriter:  # VisualDL's interface, recording what it is given
        def __init__(self, logdir):
            self.logdir = logdir

        def add_scalar(self, tag, value, step):
            scalars.append((tag, step))

        def close(self):
            scalars.append(("closed", self.logdir))

    monkeypatch.setitem(sys.modules, "visualdl", types.SimpleNamespace(LogWriter=LogWriter))
    _model().train(1, train, eval_dataset=val, save_dir=str(tmp_path / "b"), use_vdl=True, **FAST)
    tags = {tag for tag, _ in scalars}
    assert {"train/loss", "train/lr", "eval/acc1", "eval/acc5"} <= tags
    assert scalars[-1] == ("closed", str(tmp_path / "b" / "vdl_log"))


class _Recorder(Hook):
    """A user's hook: records each point it is called at, with what the loop shows."""

    def __init__(self, stop_after_epoch=None):
        self.calls = []
        self.stop_after_epoch = stop_after_epoch
        self.error = "not called"

    def before_train(self, loop):
        self.calls.append(("before_train", loop.state["epoch"]))

    def before_epoch(self, loop):
        self.calls.append(("before_epoch", loop.epoch))

    def after_backward(self, loop):
        self.calls.append(("after_backward", loop.state["global_step"]))

    def after_step(self, loop):
        assert np.isfinite(loop.loss) and loop.batch_images > 0
        self.calls.append(("after_step", loop.state["global_step"]))

    def after_epoch(self, loop):
        self.calls.append(("after_epoch", loop.epoch, loop.evaluation_due, sorted(loop.metrics)))
        if loop.epoch + 1 == self.stop_after_epoch:
            loop.stop = True

    def after_train(self, loop):
        self.error = loop.error
        self.calls.append(("after_train",))


def test_user_hooks_see_every_point_of_the_loop_in_order(good_plugin, digits, tmp_path):
    train, val = digits
    recorder = _Recorder()
    state = _model().train(2, train, eval_dataset=val, save_dir=str(tmp_path), hooks=[recorder],
                           save_interval_epochs=2, **FAST)
    steps = state["global_step"] // 2
    assert state["global_step"] == 2 * steps and steps > 1
    names = [call[0] for call in recorder.calls]
    per_epoch = ["before_epoch"] + ["after_backward", "after_step"] * steps + ["after_epoch"]
    assert names == ["before_train"] + per_epoch * 2 + ["after_train"]
    # after_backward comes before the step is counted, after_step after it
    assert recorder.calls[2] == ("after_backward", 0) and recorder.calls[3] == ("after_step", 1)
    epochs = [call for call in recorder.calls if call[0] == "after_epoch"]
    # user hooks run after the built-in ones: the evaluation's metrics are there to read
    assert epochs == [("after_epoch", 0, False, []), ("after_epoch", 1, True, ["acc1", "acc5"])]
    assert recorder.error is None
    assert not (tmp_path / "epoch_1").exists() and (tmp_path / "epoch_2").is_dir()


def test_a_hook_stops_the_run_after_its_epoch(good_plugin, digits, tmp_path):
    train, _ = digits
    state = _model().train(3, train, save_dir=str(tmp_path), hooks=[_Recorder(stop_after_epoch=1)],
                           **FAST)
    assert state["epoch"] == 1
    assert (tmp_path / "epoch_1").is_dir() and not (tmp_path / "epoch_2").exists()


def test_after_train_sees_the_error_that_ended_the_run(good_plugin, digits, tmp_path):
    train, _ = digits
    recorder = _Recorder()
    with pytest.raises(TrainingError, match="the loss became"):
        _model().train(1, train, save_dir=str(tmp_path), hooks=recorder,
                       **{**FAST, "learning_rate": 1e30})
    assert isinstance(recorder.error, TrainingError) and recorder.calls[-1] == ("after_train",)
    assert "after_epoch" not in [call[0] for call in recorder.calls]


def test_hooks_that_are_not_hooks_are_refused_by_name(good_plugin, digits, tmp_path):
    train, _ = digits
    with pytest.raises(PxError, match=r"hooks: .*print.* is not a pxcore.engine.hooks.Hook; subclass Hook"):
        _model().train(1, train, save_dir=str(tmp_path), hooks=[print], **FAST)
    assert not (tmp_path / "epoch_1").exists()
