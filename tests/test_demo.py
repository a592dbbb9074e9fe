"""The README's main job, end to end: `px demo` on the real digits."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.uses_installed_plugins]


def test_px_demo_reaches_95_percent_and_reloads(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PXCORE_")}
    result = subprocess.run([sys.executable, "-m", "pxcore.cli", "demo", "--work-dir", str(tmp_path)],
                            capture_output=True, text=True, env=env, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout.split("\nsummary\n", 1)[1].split("\n\ndone in", 1)[0])
    print(f"demo: test top-1 {summary['test']['acc1']:.4f} in {summary['seconds']} s")
    assert summary["test"]["acc1"] >= 0.95 and summary["reload_matches"]
    assert summary["runtime_matches"] and (tmp_path / "inference_model" / "deploy.yml").is_file()
    for picture in summary["pictures"]:
        assert os.path.getsize(picture) > 1000
    assert (tmp_path / "train" / "best_model" / "model.yml").is_file()
    assert (tmp_path / "train" / "curves.png").is_file()


@pytest.mark.parametrize("task, metrics", [
    ("detection", {"bbox_map", "bbox_map50", "bbox_mmap"}),
    ("semantic_segmentation", {"miou", "category_iou", "oacc", "category_acc", "kappa"}),
])
def test_px_demo_on_shapes_runs_every_step(tmp_path, task, metrics):
    """The shapes demos' steps with one epoch (the recipes' targets after their full
    training are bench/recipes.py's figures): trains, evaluates, predicts and draws,
    reloads the same, and the exported model gives the same boxes or label maps."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PXCORE_")}
    result = subprocess.run([sys.executable, "-m", "pxcore.cli", "demo", "--task", task,
                             "--epochs", "1", "--min-accuracy", "0", "--work-dir", str(tmp_path)],
                            capture_output=True, text=True, env=env, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout.split("\nsummary\n", 1)[1].split("\n\ndone in", 1)[0])
    assert metrics <= set(summary["test"])
    assert summary["reload_matches"] and summary["runtime_matches"]
    assert (tmp_path / "inference_model" / "deploy.yml").is_file()
    assert all(os.path.getsize(p) > 1000 for p in summary["pictures"])
