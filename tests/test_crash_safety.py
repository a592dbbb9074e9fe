"""Crash safety, proved on real training processes: SIGKILL one mid-epoch and at every
stage of writing a checkpoint, and the newest checkpoint is whole, loads, and a resume
from it in a new process continues with exactly the losses (and ends with exactly the
weights) of a run never interrupted. A NaN or infinite loss stops training naming the
step and keeps the last good checkpoint.

The processes run tests/crash_training.py; to land a kill inside a save, it pauses the
save at one stage (test code wrapping pxcore's functions in that process; pxcore has no
hook) and this test then kills it with SIGKILL. One run is also killed unpaused, at the
end of an epoch, wherever that lands. The stages are every state a save passes through
on disk: temporary directory half written, temporary directory whole, between the two
renames of the fallback swap, and swapped into place in one step (Linux's renameat2
RENAME_EXCHANGE) with the old one not yet removed. Killed runs chain: each resumes from
what the kill before left. The one-step swap is missing on some systems and file
systems: its kill is a test of its own, which skips there; the chain of the six other
kills runs everywhere (every save then takes the two renames).
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import pxcore
from pxcore.engine.checkpoint import read_train_state
from pxcore.engine.trainer import TrainingError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

HELPER = Path(__file__).with_name("crash_training.py")
EPOCHS = 5
TIMEOUT = 120  # seconds a process may take to reach the point it is waited for


class Run:
    """One training process of the helper, its stdout read line by line."""

    started: list[Run] = []  # to end what a failing test leaves paused

    def __init__(self, digits_dir, save_dir, log: Path, *args: str) -> None:
        env = {**os.environ, "PXCORE_DISABLE_PLUGIN_AUTOLOAD": "1"}
        self.log = log
        with open(log, "w") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, str(HELPER), str(digits_dir), str(save_dir), str(EPOCHS), *args],
                stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
        self.lines: queue.Queue = queue.Queue()
        self.losses: dict[tuple[int, int], float] = {}
        self.history = None
        Run.started.append(self)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def until(self, predicate) -> str:
        """Read lines until one satisfies ``predicate``; return it."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.proc.kill()
                raise AssertionError(f"timed out; stderr:\n{self.log.read_text()[-3000:]}"
                                     ) from None
            if line is None:
                self.proc.wait()
                raise AssertionError(f"the run ended (exit {self.proc.returncode}) before the "
                                     f"point waited for; stderr:\n{self.log.read_text()[-3000:]}")
            self._record(line)
            if predicate(line):
                return line

    def _record(self, line: str) -> None:
        if line.startswith("LOSS "):
            _, epoch, step, loss = line.split()
            self.losses[int(epoch), int(step)] = float(loss)
        elif line.startswith("DONE "):
            self.history = json.loads(line[5:])

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(TIMEOUT)
        assert self.proc.returncode == -signal.SIGKILL
        while (line := self.lines.get(timeout=TIMEOUT)) is not None:  # what it wrote before
            self._record(line)

    def finish(self) -> None:
        self.until(lambda line: line.startswith("DONE "))
        assert self.proc.wait(TIMEOUT) == 0


def paused(run: Run, stage: str) -> str:
    return run.until(lambda line: line.startswith(f"PAUSED {stage} "))


def epochs(save_dir: Path) -> list[int]:
    """The epochs of the checkpoints in ``save_dir``: directories named epoch_N only."""
    return sorted(int(p.name[6:]) for p in save_dir.iterdir()
                  if re.fullmatch(r"epoch_\d+", p.name) and p.is_dir())


def leftovers(save_dir: Path) -> list[str]:
    return sorted(p.name for p in save_dir.iterdir() if p.name.startswith("."))


def weights(model_dir: Path) -> dict[str, np.ndarray]:
    """The weights of a model directory, through ``pxcore.load_model``."""
    return {k: v.numpy() for k, v in pxcore.load_model(model_dir).net.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.allclose(a[k], b[k], rtol=1e-5, atol=1e-7) for k in a)


@pytest.fixture
def no_process_left():
    yield
    while Run.started:
        run = Run.started.pop()
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()


def can_exchange(folder: Path) -> bool:
    """Whether this system and the file system of ``folder`` swap two directories in one
    step (what pxcore's saves use where they can; the fallback is two renames)."""
    from pxcore.engine import checkpoint

    (folder / ".exchange-a").mkdir(), (folder / ".exchange-b").mkdir()
    try:
        return checkpoint._exchange(folder / ".exchange-a", folder / ".exchange-b")
    finally:
        (folder / ".exchange-a").rmdir(), (folder / ".exchange-b").rmdir()


NO_EXCHANGE_REASON = ("renameat2's RENAME_EXCHANGE is missing here (not Linux, glibc before 2.28, or "
                      "a file system without it): this kill lands right after that one-step swap, "
                      "which saves here never take; the other kills run in "
                      "test_sigkill_at_every_stage_of_saving_loses_no_checkpoint")


@pytest.mark.slow
@pytest.mark.usefixtures("no_process_left")
def test_sigkill_at_every_stage_of_saving_loses_no_checkpoint(good_plugin, digits_dir, tmp_path):
    """Six kills, one resume chain; none needs the one-step swap (where it is missing,
    every run is told so and every save takes the two renames)."""
    import paddle

    from pxcore.weights import safe_unpickle

    # as on a system without the exchange, where the test process cannot do it either
    no_exchange = [] if can_exchange(tmp_path) else ["--no-exchange"]
    run_dir, ref_dir = tmp_path / "run", tmp_path / "ref"
    ref = Run(digits_dir, ref_dir, tmp_path / "ref.log", *no_exchange)  # uninterrupted, alongside
    runs: list[Run] = []
    kills: list[str] = []
    verified: list[str] = []

    def start(*args: str) -> Run:
        args = (*args, *no_exchange) if "--no-exchange" not in args else args
        runs.append(Run(digits_dir, run_dir, tmp_path / f"run{len(runs) + 1}.log", *args))
        return runs[-1]

    def kill(run: Run, moment: str) -> None:
        run.kill()
        kills.append(moment)

    def newest() -> Path:
        return run_dir / f"epoch_{epochs(run_dir)[-1]}"

    ref_weights: dict[str, dict] = {}

    def check(name: str, like: str) -> None:
        """``name`` is whole: every file reads, it loads, its weights are the reference's
        ``like`` (an epoch_N of the uninterrupted run)."""
        model_dir = run_dir / name
        files = {p.name for p in model_dir.iterdir()}
        assert {"model.yml", "model.pdparams"} <= files, (name, files)
        safe_unpickle(model_dir / "model.pdparams")
        if name.startswith("epoch_"):
            assert {"model.pdopt", "train_state.json"} <= files, (name, files)
            safe_unpickle(model_dir / "model.pdopt")
            state = json.loads((model_dir / "train_state.json").read_text())
            assert state["epoch"] == int(name[6:])
        if like not in ref_weights:
            ref_weights[like] = weights(ref_dir / like)
        assert same_weights(weights(model_dir), ref_weights[like]), f"{name} is not {like}"
        verified.append(name)

    # 1. Killed mid-epoch 2, in the middle of training steps: epoch_1 is there.
    run = start("--pause-at-step", "2:5")
    paused(run, "step")
    kill(run, "mid-epoch 2 (after step 5)")
    assert epochs(run_dir) == [1] and leftovers(run_dir) == []
    ref.finish()  # needed from here on
    check("epoch_1", "epoch_1")
    check("best_model", "epoch_1")

    # 2. Killed while epoch_2's weights file is half written.
    run = start("--resume", str(newest()), "--pause", "half-weights:epoch_2")
    half = Path(paused(run, "half-weights").split(" ", 2)[2])
    kill(run, "writing epoch_2: weights file half written")
    assert epochs(run_dir) == [1] and leftovers(run_dir) == [half.parent.name]
    assert half.parent.name.startswith(".epoch_2.tmp-")
    with pytest.raises(Exception):  # noqa: B017 - the kill really left a broken file
        paddle.load(str(half))
    check("epoch_1", "epoch_1")
    check("best_model", "epoch_1")

    # 3. Killed with epoch_2 whole in its temporary directory, not yet renamed. The
    # run's start removed the temporary directory the kill before left.
    run = start("--resume", str(newest()), "--pause", "written:epoch_2")
    written = Path(paused(run, "written").split(" ", 2)[2])
    kill(run, "writing epoch_2: temporary directory whole, not renamed")
    assert epochs(run_dir) == [1] and leftovers(run_dir) == [written.name] != [half.parent.name]
    check("epoch_1", "epoch_1")
    check("best_model", "epoch_1")

    # 4. Without the atomic exchange (systems lacking renameat2, and here forced): killed
    # between the two renames of best_model at epoch 2, when only .best_model.old holds it
    # (and the new one is in its temporary directory).
    run = start("--resume", str(newest()), "--no-exchange", "--pause", "renamed-away:best_model")
    paused(run, "renamed-away")
    kill(run, "saving best_model without the exchange: between the two renames")
    left = leftovers(run_dir)
    assert epochs(run_dir) == [1, 2] and left[0] == ".best_model.old" and len(left) == 2
    assert left[1].startswith(".best_model.tmp-")
    assert not (run_dir / "best_model").exists()
    check("epoch_2", "epoch_2")
    check(".best_model.old", "epoch_1")  # whole, where the next run finds it

    # 5. The next run puts best_model back before anything else; killed mid-epoch 3.
    run = start("--resume", str(newest()), "--pause-at-step", "3:3")
    paused(run, "step")
    kill(run, "mid-epoch 3 (after step 3)")
    assert epochs(run_dir) == [1, 2] and leftovers(run_dir) == []
    check("best_model", "epoch_1")

    # 6. Killed unpaused the moment epoch_3's temporary directory appears (polled in a
    # tight loop): the kill lands in that save or just after it, wherever it may.
    run = start("--resume", str(newest()))
    run.until(lambda line: line.startswith("LOSS 3 1 "))
    deadline = time.monotonic() + TIMEOUT
    while not any(name.startswith(".epoch_3.tmp-") for name in os.listdir(run_dir)):
        assert run.proc.poll() is None and time.monotonic() < deadline, run.log.read_text()
    kill(run, "unpaused, as epoch_3's temporary directory appeared")
    landed, left = epochs(run_dir)[-1], leftovers(run_dir)
    assert landed in (2, 3)
    # .best_model.old: only with the two renames (a kill between them, or before the last
    # one's clean-up finished)
    assert all(re.fullmatch(r"\.(epoch_3|best_model)\.tmp-\w+|\.best_model\.old", name)
               for name in left), left
    left = {name: sorted(p.name for p in (run_dir / name).iterdir()) for name in left}
    check(f"epoch_{landed}", f"epoch_{landed}")
    if not (run_dir / "best_model").exists():  # killed between the two renames
        check(".best_model.old", "epoch_1")
    else:
        best = weights(run_dir / "best_model")
        check("best_model", "epoch_3" if landed == 3 and same_weights(best, ref_weights["epoch_3"])
              else "epoch_1")

    # 7. The last resume runs to the end: the same losses and weights as never stopped,
    # and nothing left behind.
    run = start("--resume", str(newest()))
    run.finish()
    assert epochs(run_dir) == list(range(1, EPOCHS + 1)) and leftovers(run_dir) == []
    # All of it, from the checkpoints' training state and this run's own steps:
    np.testing.assert_allclose(run.history["loss"], ref.history["loss"], rtol=1e-5)
    for name in [f"epoch_{n}" for n in range(1, EPOCHS + 1)]:
        check(name, name)
    check("best_model", f"epoch_{EPOCHS}")

    # Every step any run trained is the uninterrupted run's step, loss for loss.
    steps = 0
    for number, run in enumerate(runs, 1):
        assert run.losses, f"run {number} trained no step"
        for key, loss in run.losses.items():
            assert loss == pytest.approx(ref.losses[key], rel=1e-5), (number, key)
        steps += len(run.losses)
    first = [min(run.losses) for run in runs]
    assert first == [(1, 1), (2, 1), (2, 1), (2, 1), (3, 1), (3, 1), (landed + 1, 1)]

    assert len(kills) == 6
    report = {"faults_injected": len(kills), "exchange": not no_exchange, "moments": kills,
              "checkpoints_verified": len(verified), "steps_compared": steps,
              "unpaused_kill_newest": f"epoch_{landed}", "unpaused_kill_left": left}
    print("\ncrash safety:", json.dumps(report, indent=1))


@pytest.mark.slow
@pytest.mark.usefixtures("no_process_left")
def test_sigkill_right_after_the_one_step_swap_loses_no_checkpoint(good_plugin, digits_dir, tmp_path):
    """Killed right after best_model was swapped (one atomic exchange) for epoch 2's, the
    old one not yet removed from the temporary directory: both are whole, and the next
    run removes the old one and keeps the new."""
    if not can_exchange(tmp_path):
        pytest.skip(NO_EXCHANGE_REASON)
    run_dir = tmp_path / "run"
    run = Run(digits_dir, run_dir, tmp_path / "run1.log", "--pause-at-step", "2:1")
    paused(run, "step")
    run.kill()
    assert epochs(run_dir) == [1] and leftovers(run_dir) == []
    epoch_1 = weights(run_dir / "epoch_1")
    assert same_weights(weights(run_dir / "best_model"), epoch_1)

    run = Run(digits_dir, run_dir, tmp_path / "run2.log", "--resume", str(run_dir / "epoch_1"),
              "--pause", "swapped:best_model")
    old = Path(paused(run, "swapped").split(" ", 2)[2])
    run.kill()
    assert epochs(run_dir) == [1, 2] and leftovers(run_dir) == [old.name]
    assert old.name.startswith(".best_model.tmp-")
    epoch_2 = weights(run_dir / "epoch_2")
    assert not same_weights(epoch_2, epoch_1)  # so the checks below tell them apart
    assert same_weights(weights(run_dir / "best_model"), epoch_2)  # the new one, whole
    assert same_weights(weights(old), epoch_1)  # the previous one, whole

    run = Run(digits_dir, run_dir, tmp_path / "run3.log", "--resume", str(run_dir / "epoch_2"),
              "--pause-at-step", "3:1")
    paused(run, "step")
    run.kill()
    assert epochs(run_dir) == [1, 2] and leftovers(run_dir) == []
    assert same_weights(weights(run_dir / "best_model"), epoch_2)


def _model():
    import paddle

    paddle.seed(0)
    return pxcore.create_model("FixtureNet_cls", num_classes=10,
                               backbone={"type": "FixtureNet", "widths": [8, 16, 32]})


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_bad_loss_names_the_step_and_keeps_the_last_good_checkpoint(good_plugin, digits, tmp_path,
                                                                       bad):
    train, _ = digits
    model = _model()
    step = model.training_step
    calls = []

    def training_step(batch):  # the loss turns bad at epoch 2, step 3
        calls.append(1)
        loss = step(batch)
        return loss * bad if len(calls) == len(train) // 128 + 3 else loss

    model.training_step = training_step
    with pytest.raises(TrainingError) as error:
        model.train(3, train, train_batch_size=128, learning_rate=0.1, lr_decay_epochs=[],
                    num_workers=0, save_dir=str(tmp_path), seed=1)
    checkpoint = tmp_path / "epoch_1"
    assert str(error.value).startswith(f"the loss became {bad} at epoch 2, step 3; training "
                                       f"stopped. The last good checkpoint is {checkpoint}.")
    assert epochs(tmp_path) == [1] and leftovers(tmp_path) == []
    assert read_train_state(checkpoint)["epoch"] == 1
    assert same_weights(weights(tmp_path / "best_model"), weights(checkpoint))  # both load


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_saving_over_a_model_directory_and_tidying(tmp_path, monkeypatch, exchange):
    import paddle

    from pxcore.engine import checkpoint

    if not exchange:
        monkeypatch.setattr(checkpoint, "_exchange", lambda a, b: False)
    net = paddle.nn.Linear(2, 2)
    for value in (1.0, 2.0):  # the second save replaces the first
        for weight in net.parameters():
            weight.set_value(paddle.full(weight.shape, value))
        checkpoint.save_dir(tmp_path / "m", info={"model": "x", "v": value}, net=net)
        assert checkpoint.read_info(tmp_path / "m")["v"] == value
        state = paddle.load(str(tmp_path / "m" / "model.pdparams"))
        assert all(float(v.numpy().ravel()[0]) == value for v in state.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]

    # What kills leave: only the leftovers of the names asked for go, and an .old whose
    # name is missing comes back.
    for name in (".m.tmp-abc", ".epoch_1.tmp-x_1", ".epoch_10.tmp-y", ".best_model.tmp-z",
                 ".cache.old", ".notes"):
        (tmp_path / name).mkdir()
    (tmp_path / "m").rename(tmp_path / ".best_model.old")
    checkpoint.tidy(tmp_path, r"best_model|epoch_1")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".cache.old", ".epoch_10.tmp-y", ".m.tmp-abc", ".notes", "best_model"]
    assert checkpoint.read_info(tmp_path / "best_model")["v"] == 2.0
    (tmp_path / "best_model" / "model.yml").unlink()  # an .old that is not whole stays out
    (tmp_path / "best_model").rename(tmp_path / ".best_model.old")
    checkpoint.tidy(tmp_path, "best_model")
    assert not (tmp_path / "best_model").exists() and not (tmp_path / ".best_model.old").exists()
