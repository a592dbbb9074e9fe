"""Write tests/layouts/<Model>.json, the weight layouts of the zoo's AlexNet, from
the reference implementations, and verify them by running those implementations.

This is the family's mapping (which PaddleClas 2.6 and release/static networks are the
zoo's AlexNet); reference/paddleclas.py does the rest: "pdparams" are PaddleClas 2.6's
state-dict names and shapes, "legacy" the ParamAttr names the same model sets (the
zoo's Paddle 1.x .tar archives), checked by running the release/static program:

    python -m reference.manifests alexnet \\
        --paddleclas /work/ref/paddleclas --paddleclas-static /tmp/pcstatic
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
