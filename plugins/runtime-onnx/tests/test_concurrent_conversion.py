"""Two processes converting the same export into one cache folder at once: both get
the ONNX file, it is whole (onnx loads it, ONNX Runtime runs it), no temporary file stays."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import paddle

from pxcore.testing.runtimes import check_outputs, save_dynamic

_CONVERTER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from pxcore_runtime_onnx.convert import onnx_model
    model_dir = Path(sys.argv[1])
    info = {"files": {"program": "net.json", "params": "net.pdiparams"}}
    while not (model_dir.parent / "go").exists():  # start together
        time.sleep(0.001)
    print(json.dumps(str(onnx_model(model_dir, info))))
""")


def test_two_processes_convert_the_same_export_into_one_cache(tmp_path, monkeypatch):
    import onnx
    import onnxruntime as ort

    paddle.seed(0)
    net = paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3, padding=1), paddle.nn.ReLU(),
                               paddle.nn.AdaptiveAvgPool2D(1), paddle.nn.Flatten(),
                               paddle.nn.Linear(4, 2))
    images = [np.random.default_rng(0).random((2, 3, 16, 20), dtype=np.float32)]
    model_dir = tmp_path / "export"
    eager = save_dynamic(net, images, model_dir)
    exported = sorted(p.name for p in model_dir.iterdir())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))  # not the real one

    children = [subprocess.Popen([sys.executable, "-c", _CONVERTER, str(model_dir)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
    (tmp_path / "go").touch()
    results = [child.communicate(timeout=120) for child in children]
    for child, (_, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err[-2000:]
    paths = {json.loads(out) for out, _ in results}
    assert len(paths) == 1, paths
    (path,) = paths
    cache = model_dir / "onnx"
    assert path.startswith(str(cache))
    assert [p.name for p in cache.iterdir()] == [path.rsplit("/", 1)[-1]], "temporary files stayed"
    assert sorted(p.name for p in model_dir.iterdir()) == sorted([*exported, "onnx"])
    assert not (tmp_path / "user-cache").exists()

    onnx.checker.check_model(onnx.load(path))
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    check_outputs([session.run(None, {name: x})[0] for x in images], eager, "ONNX Runtime", rtol=1e-4)
