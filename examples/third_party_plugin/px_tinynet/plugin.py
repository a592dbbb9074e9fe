"""The hooks pxcore calls: they describe the parts; nothing is imported until built."""

import pxcore


@pxcore.hookimpl
def px_register_backbones(registry):
    registry.add(name="TinyNet", factory="px_tinynet.tinynet:TinyNet",
                 summary="five stride-2 conv stages, strides 2 to 32 (example plugin)")


@pxcore.hookimpl
def px_register_models(registry):
    # A preset composed from parts: pxcore's generic classifier over our backbone.
    registry.add(
        name="TinyNet_x1_0",
        factory="pxcore.nn.classifier:ImageClassifier",
        defaults={"backbone": "TinyNet", "num_classes": 1000},
        task="classification",
        summary="TinyNet under pxcore's linear classification head (example plugin)",
    )


@pxcore.hookimpl
def px_register_zoo(registry):
    # Published weights of a preset and their figures: `px models` lists the row.
    from .zoo_rows import ROWS

    for row in ROWS:
        registry.add(row)
