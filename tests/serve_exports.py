"""The classifier export the px serve tests (test_serve, test_serve_page,
test_serve_faults) serve: built from the test fixture plugins, so it lives beside them
and not in pxcore.testing."""

from __future__ import annotations

from pxcore.testing.serve import plain_plugins, vary

LABELS = ["cat", "dog", "fox"]


def export_classifier(folder):
    """A seeded FixtureNet classifier of LABELS at 32 px, exported to ``folder``."""
    import paddle

    import fixture_plugins
    import pxcore
    from pxcore.transforms import Compose, Normalize, Resize

    with plain_plugins((fixture_plugins.Good(), "fixture-good")):
        paddle.seed(0)
        model = pxcore.create_model("FixtureNet_cls", num_classes=3)
        model.labels = LABELS
        model.eval_transforms = Compose([Resize(32), Normalize()])
        vary(model.net)
        return model.export(folder)
