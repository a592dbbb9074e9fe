"""Training speed on this machine: per classification model at 224x224, training
images/s with 1 process and with 2 data-parallel processes (paddle.distributed.launch;
gloo on CPUs), beside the data loader's images/s with 0 and 2 workers (JPEG decode +
ImageNet training transforms + batching, no model), and whether 2 loader workers keep
up with MobileNetV3_small's training (the loader must not be the bottleneck).

    python bench/training_speed.py                               # MobileNetV3_small ResNet18
    python bench/training_speed.py MobileNetV3_large --batch 32 --steps 5 --threads 1

The model figures run the engine's own step (model.training_step through the
DataParallel the trainer uses, backward, optimizer step) on tensors already in memory,
so they are the model's speed alone; the loader figures are the loader's alone. With
2 processes, each takes half of the global batch and the threads are split between
them (OMP_NUM_THREADS). Compare rows of one run; on a shared machine, numbers move.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_MODELS = ("MobileNetV3_small", "ResNet18")
TARGET_MODEL = "MobileNetV3_small"


def worker(name: str, batch: int, steps: int, size: int) -> None:
    """One process's share of the timed training (1 process, or each launched one)."""
    import paddle

    import pxcore
    from pxcore.engine.distributed import forward_through, world, wrap

    rank, world_size = world()
    paddle.seed(0)
    model = pxcore.create_model(name, num_classes=10)
    model.net.train()
    net = wrap(model.net, world_size, sync_bn=False)
    opt = paddle.optimizer.Momentum(0.01, momentum=0.9, parameters=model.net.parameters())
    share = batch // world_size
    images = paddle.rand([share, 3, size, size])
    labels = paddle.randint(0, 10, [share, 1])

    def step():
        with forward_through(model, net):
            loss = model.training_step([images, labels])
        loss.backward()
        opt.step()
        opt.clear_grad()
        return float(loss)

    for _ in range(2):  # warm-up: oneDNN primitives, the first all-reduces
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = time.perf_counter() - start
    if rank == 0:
        print("RESULT", json.dumps({"images_per_s": batch * steps / seconds,
                                    "processes": world_size}), flush=True)


def train_speed(name: str, processes: int, batch: int, steps: int, size: int,
                threads: int | None = None) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PADDLE_")}
    threads = threads or max(1, (os.cpu_count() or 1) // processes)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    args = [str(Path(__file__).resolve()), "--worker", name, "--batch", str(batch),
            "--steps", str(steps), "--size", str(size)]
    with tempfile.TemporaryDirectory() as log_dir:
        if processes == 1:
            cmd = [sys.executable, *args]
        else:
            cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node",
                   str(processes), "--log_dir", log_dir, *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        out = proc.stdout
        if processes > 1 and (Path(log_dir) / "workerlog.0").is_file():
            out = (Path(log_dir) / "workerlog.0").read_text()
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])["images_per_s"]
    raise RuntimeError(f"{name} with {processes} process(es) failed:\n{out[-2000:]}{proc.stderr[-2000:]}")


def write_images(root: Path, count: int, side: int = 256) -> Path:
    """An ImageNet-format folder of ``count`` JPEGs (smooth random pictures, 10 classes)."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    lines = []
    for i in range(count):
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        image = cv2.resize(small, (side, side), interpolation=cv2.INTER_CUBIC)
        image = np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)
        path = root / f"{i:04d}.jpg"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        lines.append(f"{path.name} {i % 10}")
    (root / "train_list.txt").write_text("\n".join(lines) + "\n")
    (root / "labels.txt").write_text("\n".join(str(c) for c in range(10)) + "\n")
    return root


def loader_speed(root: Path, workers: int, batch: int, batches: int, size: int) -> float:
    """Images/s of the training loader alone; the first batch (workers starting) untimed."""
    from pxcore import datasets, transforms
    from pxcore.data.loader import Loader

    t = transforms.Compose([transforms.RandomCrop(crop_size=size),
                            transforms.RandomHorizontalFlip(), transforms.Normalize()])
    data = datasets.ImageNet(root, root / "train_list.txt", root / "labels.txt", t, shuffle=True)
    loader = Loader(data, batch, shuffle=True, drop_last=True, num_workers=workers, seed=0)
    it = iter(loader)
    next(it)
    start = time.perf_counter()
    done = 0
    for _ in range(batches):
        next(it)
        done += batch
    seconds = time.perf_counter() - start
    it.close()
    return done / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=list(DEFAULT_MODELS))
    parser.add_argument("--batch", type=int, default=16, help="global batch (default 16)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps (default 3)")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--loader-batches", type=int, default=6)
    parser.add_argument("--threads", type=int, help="threads per process (default: the CPUs "
                        "split between the processes)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.batch, args.steps, args.size)
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        root = write_images(Path(tmp), args.batch * (args.loader_batches + 1))
        loaders = {w: loader_speed(root, w, args.batch, args.loader_batches, args.size)
                   for w in (0, 2)}
    rows = []
    for name in args.models:
        one = train_speed(name, 1, args.batch, args.steps, args.size, args.threads)
        two = train_speed(name, 2, args.batch, args.steps, args.size, args.threads)
        rows.append((name, one, two))
    threads = args.threads or "the CPUs split between the processes"
    print(f"{os.cpu_count()} CPUs, global batch {args.batch}, {args.size}x{args.size}, "
          f"{args.steps} timed steps, threads per process: {threads}\n")
    print("| model | train img/s, 1 process | train img/s, 2 processes | "
          "loader img/s, 0 workers | loader img/s, 2 workers |")
    print("|---|---:|---:|---:|---:|")
    for name, one, two in rows:
        print(f"| {name} | {one:.1f} | {two:.1f} | {loaders[0]:.1f} | {loaders[2]:.1f} |")
    target = {name: one for name, one, _ in rows}.get(TARGET_MODEL)
    if target is not None:
        ok = loaders[2] >= target
        print(f"\ntarget: 2 loader workers ({loaders[2]:.1f} img/s) keep up with {TARGET_MODEL} "
              f"training ({target:.1f} img/s, 1 process): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
