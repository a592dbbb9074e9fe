"""The ``px`` command line. Each subcommand is a module with ``add_parser`` and ``run``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings

from ..errors import PxError

# subcommand -> module in this package; later issues add train, eval, predict, export...
COMMANDS = {
    "demo": "demo",
    "models": "models",
    "info": "info",
    "train": "train",
    "eval": "eval",
    "predict": "predict",
    "export": "export",
    "runtimes": "runtimes",
    "bench": "bench",
    "quantize": "quantize",
    "serve": "serve",
    "split-dataset": "split_dataset",
    "check-dataset": "check_dataset",
    "convert": "convert",
    "convert-model": "convert_model",
    "plugins": "plugins",
    "doctor": "doctor",
}


def make_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="px", description="pxcore: the PaddleX model zoo on PaddlePaddle, as plugins.")
    parser.add_argument("--version", action="version", version=f"pxcore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"{__name__}.{module_name}")
        sub_parser = module.add_parser(sub, name)
        sub_parser.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Paddle warns about a missing compiler cache on import; it concerns its own C++
    # extension builds, never ours.
    warnings.filterwarnings("ignore", message="No ccache found")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return args.run(args) or 0
    except PxError as exc:
        print(f"px {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `px models | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
