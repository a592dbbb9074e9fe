"""``px export MODEL_DIR --save-dir DIR``: a deployable directory for a saved model."""

from __future__ import annotations


def add_parser(sub, name):
    p = sub.add_parser(name, help="export a saved model for the Predictor and the runtimes")
    p.add_argument("model_dir", help="a model directory (e.g. output/best_model)")
    p.add_argument("--save-dir", default="inference_model")
    p.add_argument("--fixed-input-shape", help="W,H to fix the image size (default: dynamic)")
    p.add_argument("--batch-size", type=int, help="fix the batch size (default: dynamic)")
    p.add_argument("--legacy", action="store_true",
                   help="also write the pre-PIR program format that Paddle Lite reads")
    return p


def run(args) -> int:
    from ..api import load_model
    from ..errors import PxError

    shape = None
    if args.fixed_input_shape:
        try:
            shape = [int(v) for v in args.fixed_input_shape.split(",")]
        except ValueError:
            raise PxError(f"--fixed-input-shape takes W,H, got {args.fixed_input_shape!r}") from None
    model = load_model(args.model_dir)
    out = model.export(args.save_dir, fixed_input_shape=shape, batch_size=args.batch_size,
                       legacy=args.legacy)
    print(f"exported {model.name} to {out}/ (deploy.yml describes it); run it with "
          f"`px predict {out} IMAGE --runtime auto` or pxcore.Predictor('{out}')")
    return 0
