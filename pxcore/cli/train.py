"""``px train CONFIG.yml``: train a model from a config file.

    model: MobileNetV3_small            # or {type: ..., num_classes: ..., pretrained: path}
    train_dataset: {type: ImageNet, data_dir: ..., file_list: ..., label_list: ...,
                    shuffle: true, transforms: [{type: RandomCrop, crop_size: 224}, {type: Normalize}]}
    eval_dataset: {...}                 # optional
    train: {num_epochs: 10, train_batch_size: 32, learning_rate: 0.025, save_dir: output}
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
    return p


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
    save_dir = train_args.get("save_dir", "output")
    best = f"{state['best_metric']:.4f} at epoch {state['best_epoch']}" if state["best_metric"] is not None else "-"
    print(f"trained {model.name} for {state['epoch']} epochs; best {model.main_metric} {best}; "
          f"checkpoints in {save_dir}/ (best: {save_dir}/best_model)")
    return 0
