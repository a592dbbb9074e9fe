"""Every semantic segmentation row of the zoo, from the installed plugins: built by its
zoo name with its class count, and each preset (the COCO and Cityscapes rows of a model
share one) through the whole workflow: train steps with falling loss, evaluate,
predict, export, and Paddle Inference and ONNX Runtime (and OpenVINO where installed)
agreeing with Python on more than 99.5% of the label map's pixels."""

from __future__ import annotations

import pytest

import pxcore
from pxcore.testing.runtimes import usable_runtimes
from pxcore.testing.segmentation import check_segmentation_workflow, shapes_segmentation_data

pytestmark = [pytest.mark.uses_installed_plugins]

ROWS = [e for e in pxcore.zoo.entries("semantic_segmentation")]
PRESETS = sorted({e.model for e in ROWS})


def test_every_row_builds_by_its_zoo_name_with_its_class_count():
    assert len(ROWS) == 8 and len(PRESETS) == 6
    for entry in ROWS:
        model = pxcore.create_model(entry.id)
        assert model.task == "semantic_segmentation" and model.num_classes == entry.num_classes
        assert model.entry.id == entry.id and model.spec.name == entry.model


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return shapes_segmentation_data(tmp_path_factory.mktemp("seg-rows") / "data")


# The MobileNetV2 rows are what their zoo weights are (no ASPP, no decoder); PaddleX's
# DeepLabv3p class for that backbone has both, and is checked the same way.
PADDLEX_DEEPLAB_MOBILENETV2 = ("DeepLabv3_MobileNetV2_x1.0", {"encoder_with_aspp": True,
                                                              "enable_decoder": True})


@pytest.mark.slow
@pytest.mark.parity  # the runtimes' label maps and probabilities against Python
@pytest.mark.parametrize("preset, overrides", [*((p, {}) for p in PRESETS), PADDLEX_DEEPLAB_MOBILENETV2])
def test_preset_trains_evaluates_predicts_and_deploys(preset, overrides, shapes, tmp_path):
    report = check_segmentation_workflow(preset, tmp_path, data_dir=shapes,
                                         runtimes=("paddle", "onnxruntime",
                                                   *usable_runtimes(("openvino",))), **overrides)
    print(report)
