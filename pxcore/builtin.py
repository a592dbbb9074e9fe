"""The core's own plugin: generic parts every family can compose with.

It is registered through the same hooks as any plugin, so the core has no back door.
"""

from __future__ import annotations

from .hookspecs import hookimpl


@hookimpl
def px_register_heads(registry):
    registry.add(
        name="LinearClsHead",
        factory="pxcore.nn.heads:LinearClsHead",
        task="classification",
        summary="global average pool, dropout, fully connected layer",
    )


@hookimpl
def px_register_models(registry):
    registry.add(
        name="ImageClassifier",
        factory="pxcore.nn.classifier:ImageClassifier",
        task="classification",
        summary="compose a classifier: ImageClassifier(backbone=<any backbone>, head=...)",
        metadata={"composer": True, "requires": ["backbone"]},
    )
