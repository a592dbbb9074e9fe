"""Classification benchmark: per model, forward latency (batch 1, 224x224, CPU) eager
and after paddle.jit.to_static, training images/s and peak memory; then the training
engine against a bare hand-written Paddle loop on the same model and data.

    python bench/classification.py                      # every installed classifier
    python bench/classification.py ResNet18 MobileNetV3_small --repeats 20

Each model runs in its own process so that peak memory is its own. Timings are means
over repeated runs after warm-up; compare rows of one run with each other (ratios),
not with other machines.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def _mean_ms(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1000


def measure_model(name: str, repeats: int, train_size: int, train_batch: int, train_steps: int) -> dict:
    """One model's figures (runs in a child process)."""
    import paddle

    import pxcore
    from pxcore.deploy.bench import peak_rss_mb

    model = pxcore.create_model(name)
    params = model.num_parameters()
    net = model.net
    net.eval()
    x = paddle.rand([1, 3, 224, 224])
    with paddle.no_grad():
        eager = _mean_ms(lambda: net(x).numpy(), repeats)
        static_net = paddle.jit.to_static(net, full_graph=True)
        static = _mean_ms(lambda: static_net(x).numpy(), repeats)

    model = pxcore.create_model(name, num_classes=10)
    net = model.net
    net.train()
    opt = paddle.optimizer.Momentum(0.01, parameters=net.parameters())
    images = paddle.rand([train_batch, 3, train_size, train_size])
    labels = paddle.randint(0, 10, [train_batch, 1])

    def step():
        loss = paddle.nn.functional.cross_entropy(net(images), labels)
        loss.backward()
        opt.step()
        opt.clear_grad()
        float(loss)

    step_ms = _mean_ms(step, train_steps, warmup=1)
    return {"model": name, "params": params, "eager_ms": eager, "static_ms": static,
            "train_img_s": train_batch / step_ms * 1000,
            "peak_mb": peak_rss_mb()}


def engine_vs_bare(model_name: str, epochs: int, rounds: int) -> dict:
    """Images/s of model.train() and of a bare loop over the same data and model.

    Both read the same data set through the same per-sample pipeline; the bare loop
    has nothing else: no progress, schedule, NaN check, evaluation or history.
    """
    import tempfile

    import numpy as np
    import paddle

    import pxcore
    from pxcore.data.loader import Loader
    from pxcore.demo import digit_transforms, prepare_digits

    work = Path(tempfile.mkdtemp(prefix="pxbench-"))
    lists = prepare_digits(work / "digits")
    train_t, _ = digit_transforms()
    data = pxcore.datasets.ImageNet(work / "digits", lists["train"], lists["labels"], train_t, shuffle=True)
    batch = 32

    def bare(epochs: int = epochs) -> float:
        paddle.seed(0)
        net = pxcore.create_model(model_name, num_classes=10).net
        net.train()
        opt = paddle.optimizer.Momentum(0.02, momentum=0.9, parameters=net.parameters(),
                                        weight_decay=paddle.regularizer.L2Decay(1e-4))
        loader = Loader(data, batch, shuffle=True, drop_last=True, seed=0)
        count, start = 0, time.perf_counter()
        for epoch in range(epochs):
            loader.set_epoch(epoch)
            for x, y in loader:
                loss = paddle.nn.functional.cross_entropy(net(x), y.reshape([-1, 1]))
                loss.backward()
                opt.step()
                opt.clear_grad()
                count += int(x.shape[0])
        return count / (time.perf_counter() - start)

    def engine() -> float:
        paddle.seed(0)
        model = pxcore.create_model(model_name, num_classes=10)
        start = time.perf_counter()
        state = model.train(epochs, data, train_batch_size=batch, learning_rate=0.02, lr_decay_epochs=[],
                            save_dir=str(work / "out"), save_interval_epochs=epochs, seed=0,
                            log_interval_steps=10**6)
        steps = state["global_step"]
        return steps * batch / (time.perf_counter() - start)

    bare(epochs=1)  # warm-up: first-use costs (allocator, kernels, worker start) count for neither
    bare_runs, engine_runs = [], []
    for _ in range(rounds):  # interleaved, so drift on a noisy machine hits both alike
        bare_runs.append(bare())
        engine_runs.append(engine())
    return {"model": model_name, "bare_img_s": float(np.median(bare_runs)),
            "engine_img_s": float(np.median(engine_runs))}


def _table(headers, rows) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(str(c).rjust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help="default: every installed classifier")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--train-size", type=int, default=224)
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--train-steps", type=int, default=3)
    parser.add_argument("--engine-model", default="ResNet18")
    parser.add_argument("--engine-epochs", type=int, default=2)
    parser.add_argument("--engine-rounds", type=int, default=3)
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child process: one model
    args = parser.parse_args(argv)

    if args.one:
        print(json.dumps(measure_model(args.one, args.repeats, args.train_size, args.train_batch,
                                       args.train_steps)))
        return 0

    import pxcore
    from pxcore.api import resolve_model

    names = args.models or [n for n in pxcore.list_models(task="classification", installed=True)
                            if not resolve_model(n)[1].metadata.get("composer")]
    results = []
    for name in names:
        child = subprocess.run(
            [sys.executable, __file__, "--one", name, "--repeats", str(args.repeats),
             "--train-size", str(args.train_size), "--train-batch", str(args.train_batch),
             "--train-steps", str(args.train_steps)], capture_output=True, text=True)
        if child.returncode != 0:
            print(f"{name}: failed\n{child.stderr[-2000:]}", file=sys.stderr)
            continue
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"{name}: eager {r['eager_ms']:.1f} ms, static {r['static_ms']:.1f} ms", file=sys.stderr, flush=True)

    print(f"\nForward at batch 1, 224x224, CPU; training at batch {args.train_batch}, "
          f"{args.train_size}x{args.train_size}\n")
    print(_table(["model", "params", "eager ms", "to_static ms", "eager/static", "train img/s", "peak MB"],
                 [[r["model"], f"{r['params']:,}", f"{r['eager_ms']:.1f}", f"{r['static_ms']:.1f}",
                   f"{r['eager_ms'] / r['static_ms']:.2f}x", f"{r['train_img_s']:.1f}",
                   f"{r['peak_mb']:.0f}"] for r in results]))
    report = {"models": results}
    if not args.skip_engine:
        e = engine_vs_bare(args.engine_model, args.engine_epochs, args.engine_rounds)
        ratio = e["engine_img_s"] / e["bare_img_s"]
        print(f"\nTraining engine against a bare Paddle loop ({e['model']} on the digits, 32x32, "
              f"batch 32, median of {args.engine_rounds} interleaved runs)\n")
        print(_table(["loop", "img/s"], [["bare", f"{e['bare_img_s']:.1f}"],
                                          ["model.train()", f"{e['engine_img_s']:.1f}"]]))
        verdict = "within" if ratio >= 0.95 else "NOT within"
        print(f"\nengine / bare = {ratio:.3f} ({verdict} the 5% target)")
        report["engine"] = {**e, "ratio": ratio}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
