"""Write tests/layouts/<Model>.json, the weight layouts of the zoo's ShuffleNetV2, from
the reference implementations, and verify them by running those implementations.

This is the family's mapping (which PaddleClas 2.6 and release/static networks are the
zoo's ShuffleNetV2); reference/paddleclas.py does the rest: "pdparams" are PaddleClas 2.6's
state-dict names and shapes, "legacy" the ParamAttr names the same model sets (the
zoo's Paddle 1.x .tar archives), checked by running the release/static program:

    python -m reference.manifests shufflenet \\
        --paddleclas /work/ref/paddleclas --paddleclas-static /tmp/pcstatic
"""

from __future__ import annotations

from reference.manifests import layouts
from reference.paddleclas import Reference, run

# Zoo model -> (2.6 module, 2.6 factory, static module, static factory, input size).
# The static program ends in a 7x7 average pool, so it is compared at 224 px.
REFERENCES = {
    "ShuffleNetV2": Reference("model_zoo/shufflenet_v2.py", "ShuffleNetV2_x1_0",
                     "shufflenet_v2.py", "ShuffleNetV2_x1_0", 224),
}
ALSO_AGREE = ("PaddleX 1.x paddlex/cv/nets/shufflenet_v2.py sets the same names (read, not run)")


def main(argv: list[str] | None = None) -> int:
    return run(argv, references=REFERENCES, also_agree=ALSO_AGREE, layouts=layouts("shufflenet"),
               tool="plugins/shufflenet/tools/make_layouts.py", description=__doc__.split("\n\n")[0])
