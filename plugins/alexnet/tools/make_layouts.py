"""Write tests/layouts/<Model>.json, the weight layouts of the zoo's AlexNet, from
the reference implementations, and verify them by running those implementations.

The manifest holds (format: pxcore/testing/layouts.py)

- "pdparams": the state-dict names and shapes of PaddleClas 2.6.0's model, which the
  zoo's dygraph .pdparams files use;
- "legacy": {Paddle 1.x variable name: dygraph name}, the zoo's .tar archives. PaddleClas
  2.6's model still builds every tensor with ``ParamAttr(name=...)``, so each tensor's
  ``.name`` is its Paddle 1.x name, read key by key.

reference/paddleclas.py then checks it by running the Paddle 1.x program itself: PaddleClas's
static-graph code (branch release/static, the code the archives were saved from) is built in Paddle
3's legacy static mode, through reference/fluid.py's stand-in for the removed
``paddle.fluid`` API, which forwards each layer call to its ``paddle.static.nn`` / ``paddle`` equivalent with
the same ParamAttr names. Its variables must be exactly the manifest's legacy names with
the same shapes; random weights, set by variable name into that program and through
``weight_aliases()`` into pxcore's model, must give the same logits; and pxcore's model,
given the same weights by 2.6 key, must give PaddleClas 2.6's logits.

Needs paddlepaddle 3.3, pxcore with pxcore-alexnet installed, and two references
(nothing else from PaddleClas is imported):

    pip install --no-deps --target /work/ref paddleclas==2.6.0     # -> /work/ref/paddleclas/ppcls
    git clone https://github.com/PaddlePaddle/PaddleClas && \\
      git -C PaddleClas archive fc43c9140acd9066a58671bc9f89dc97c75963ad \\
        ppcls/modeling/architectures | tar -x -C /tmp/pcstatic      # release/static, 2022-06-21

    python -m reference.manifests alexnet \\
        --paddleclas /work/ref/paddleclas --paddleclas-static /tmp/pcstatic

Each reference runs in a fresh process: dygraph Paddle refuses a second parameter with
a ParamAttr name already in use, and the static program needs FLAGS_enable_pir_api=0
set before Paddle starts.
"""

from __future__ import annotations

from reference.manifests import layouts
from reference.paddleclas import Reference, run

# Zoo model -> (2.6 module, 2.6 factory, static module, static factory, input size).
# Its fully connected layers take 224 px inputs.
REFERENCES = {
    "AlexNet": Reference("model_zoo/alexnet.py", "AlexNet", "alexnet.py", "AlexNet", 224),
}
ALSO_AGREE = ("PaddleX 1.x paddlex/cv/nets/alexnet.py sets the same names (read, not run)")


def main(argv: list[str] | None = None) -> int:
    return run(argv, references=REFERENCES, also_agree=ALSO_AGREE, layouts=layouts("alexnet"),
               tool="plugins/alexnet/tools/make_layouts.py", description=__doc__.split("\n\n")[0])
