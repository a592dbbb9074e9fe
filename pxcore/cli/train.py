"""``px train CONFIG.yml``: train a model from a config file.

    model: MobileNetV3_small            # or {type: ..., num_classes: ..., pretrained: path}
    train_dataset: {type: ImageNet, data_dir: ..., file_list: ..., label_list: ...,
                    shuffle: true, transforms: [{type: RandomCrop, crop_size: 224}, {type: Normalize}]}
    eval_dataset: {...}                 # optional
    train: {num_epochs: 10, train_batch_size: 32, learning_rate: 0.025, save_dir: output}

Several devices (data parallel, train_batch_size split over them) and machines:
    px train cfg.yml --devices 0,1,2,3            # four GPUs of this machine
    px train cfg.yml --nproc 2                    # two processes (CPUs: gloo)
    px train cfg.yml --devices 0,1 --nnodes 2 --master 10.0.0.1:8090   # on each machine
This runs ``python -m paddle.distributed.launch ... pxcore/cli/launched.py train cfg.yml``.
"""

from __future__ import annotations

from ..config import build, load_config
from ..errors import ConfigError


def add_parser(sub, name):
    p = sub.add_parser(name, help="train a model from a YAML config",
                       description=__doc__.split("\n\n", 1)[1], formatter_class=_raw())
    p.add_argument("config", help="YAML file with model, train_dataset, eval_dataset, train")
    p.add_argument("--save-dir", help="override train.save_dir")
    p.add_argument("--epochs", type=int, help="override train.num_epochs")
    p.add_argument("--resume", help="a checkpoint directory (save_dir/epoch_N) to continue from")
    p.add_argument("--devices", help="GPU ids to train on together, e.g. 0,1 (one process each)")
    p.add_argument("--nproc", type=int, help="processes on this machine (CPU training: gloo)")
    p.add_argument("--nnodes", type=int, help="machines taking part (with --master)")
    p.add_argument("--master", help="ip:port of the first machine, for --nnodes > 1")
    p.add_argument("--log-dir", default="log", help="each process's log (default ./log)")
    return p


def launch_command(args, argv_rest: list[str], cuda: bool) -> list[str] | None:
    """The ``paddle.distributed.launch`` command line that runs this training on several
    processes, or None to train in this process (one device, or already launched)."""
    import os
    import sys

    if os.environ.get("PADDLE_TRAINERS_NUM"):  # a process the launcher started
        return None
    devices = [d for d in (args.devices or "").split(",") if d.strip()]
    nnodes = args.nnodes or 1
    if args.nproc is not None and args.nproc < 1:
        raise ConfigError(f"--nproc must be at least 1, got {args.nproc}")
    if devices and args.nproc:
        raise ConfigError("give --devices (GPU ids) or --nproc (a process count), not both")
    per_node = len(devices) or args.nproc or 1
    if per_node * nnodes <= 1:
        return None
    if nnodes > 1 and not args.master:
        raise ConfigError("--nnodes > 1 needs --master ip:port (the same on every machine)")
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--log_dir", args.log_dir]
    if devices and cuda:
        cmd += ["--devices", ",".join(devices)]
    else:
        cmd += ["--nproc_per_node", str(per_node)]
    if nnodes > 1:
        cmd += ["--nnodes", str(nnodes), "--master", args.master]
    from pathlib import Path

    script = str(Path(__file__).with_name("launched.py"))
    return [*cmd, script, "train", args.config, *argv_rest]


def _raw():
    import argparse

    return argparse.RawDescriptionHelpFormatter


def build_run(config: dict):
    """(model, train set, eval set, train() arguments) from a config dict."""
    unknown = set(config) - {"model", "train_dataset", "eval_dataset", "train"}
    if unknown:
        raise ConfigError(f"unknown config sections {sorted(unknown)}; the sections are model, "
                          "train_dataset, eval_dataset and train")
    for required in ("model", "train_dataset"):
        if required not in config:
            raise ConfigError(f"the config needs a '{required}' section")
    train_set = build(config["train_dataset"], "dataset")
    eval_set = build(config["eval_dataset"], "dataset") if config.get("eval_dataset") else None
    model_cfg = config["model"]
    model_cfg = {"type": model_cfg} if isinstance(model_cfg, str) else dict(model_cfg)
    model_cfg.setdefault("num_classes", train_set.num_classes)
    model = build(model_cfg, "model")
    return model, train_set, eval_set, dict(config.get("train") or {})


def run(args) -> int:
    import paddle

    rest = [f"--{flag.replace('_', '-')}={value}" for flag, value in
            (("save_dir", args.save_dir), ("epochs", args.epochs), ("resume", args.resume)) if value]
    cmd = launch_command(args, rest, paddle.is_compiled_with_cuda())
    if cmd is not None:
        import subprocess

        print("launching:", " ".join(cmd), flush=True)
        return subprocess.call(cmd)
    model, train_set, eval_set, train_args = build_run(load_config(args.config))
    if args.save_dir:
        train_args["save_dir"] = args.save_dir
    if args.epochs:
        train_args["num_epochs"] = args.epochs
    if args.resume:
        train_args["resume_checkpoint"] = args.resume
    if "num_epochs" not in train_args:
        raise ConfigError("train.num_epochs is not set (or pass --epochs)")
    state = model.train(train_dataset=train_set, eval_dataset=eval_set, **train_args)
    from ..engine.distributed import is_main

    if not is_main():
        return 0
    save_dir = train_args.get("save_dir", "output")
    best = f"{state['best_metric']:.4f} at epoch {state['best_epoch']}" if state["best_metric"] is not None else "-"
    print(f"trained {model.name} for {state['epoch']} epochs; best {model.main_metric} {best}; "
          f"checkpoints in {save_dir}/ (best: {save_dir}/best_model)")
    return 0
