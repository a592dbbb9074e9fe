"""``px convert-model SRC DST``: a model directory PaddleX 2.x or 1.x saved, written as a
pxcore model directory (network arguments, weights under pxcore's names, labels and
evaluation transforms) that ``pxcore.load_model``, ``px eval``/``predict`` and
``px export`` take."""

from __future__ import annotations


def add_parser(sub, name):
    p = sub.add_parser(name, help="convert a model directory PaddleX 2.x or 1.x saved into a "
                                  "pxcore model directory")
    p.add_argument("src", help="the directory PaddleX saved (model.yml and model.pdparams, "
                               "e.g. output/best_model)")
    p.add_argument("dst", help="the pxcore model directory to write")
    return p


def run(args) -> int:
    from ..errors import PxError
    from ..migrate import is_paddlex_dir, read_paddlex_info
    from ..migrate.models import load_paddlex_dir

    if not is_paddlex_dir(args.src):
        raise PxError(f"{args.src!r} holds no model.yml written by PaddleX (one with a 'Model' "
                      "key); a pxcore model directory needs no conversion")
    info = read_paddlex_info(args.src)
    model = load_paddlex_dir(args.src)
    out = model.save(args.dst, converted_from={"paddlex_version": info.version,
                                               "class": info.model, "path": str(info.directory)})
    print(f"wrote PaddleX {info.version}'s {info.model} as pxcore's {model.name} to {out}/; "
          f"next: px export {out} --save-dir EXPORT")
    return 0
