"""Fast-SCNN: the zoo's Cityscapes row as a preset, shapes at non-square sizes, the
auxiliary heads in training, to_static and Paddle Inference (oneDNN) parity, the
pyramid pooling's adaptive pools, and the parameter count against the zoo's archive."""

from __future__ import annotations

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

import pxcore
from pxcore.testing import pytest_plugin as kit
from pxcore.testing.random_weights import randomise
from pxcore_fastscnn.fastscnn import FastSCNN, adaptive_avg_pool

DIST = "pxcore-fastscnn"
PRESET = "Fast-SCNN"


@pytest.fixture(scope="module")
def preset():
    paddle.seed(0)
    return randomise(pxcore.create_model("Fast-SCNN").net)


def test_the_zoo_name_builds_the_preset_with_its_class_count():
    model = pxcore.create_model("Fast-SCNN", task="semantic_segmentation", dataset="Cityscapes")
    assert model.spec.name == PRESET and model.spec.task == "semantic_segmentation"
    assert model.num_classes == 19 and model.net.num_classes == 19
    assert model.net.loss_weights == (1.0, 0.4)


def test_preset_registration():
    kit.check_segmenter_preset(PRESET, DIST, {"class": "FastSCNN"}, 1024)


test_conformance = kit.conformance_test(DIST)


@pytest.mark.parametrize("height, width", [(64, 96), (96, 160), (32, 64), (128, 64)])
def test_logits_at_the_input_size(preset, height, width):
    with paddle.no_grad():
        out = preset(paddle.rand([2, 3, height, width]))
    assert isinstance(out, paddle.Tensor) and list(out.shape) == [2, 19, height, width]


@pytest.mark.parametrize("weights", [[1.0], [1.0, 0.4], [1.0, 0.4, 0.16]])
def test_training_mode_returns_the_auxiliary_logits_with_their_weights(weights):
    paddle.seed(0)
    net = FastSCNN(num_classes=3, multi_loss_weight=weights)
    net.train()
    out = net(paddle.rand([2, 3, 64, 96]))
    outputs = [out] if isinstance(out, paddle.Tensor) else out
    assert len(outputs) == len(weights) and net.loss_weights == tuple(weights)
    assert all(list(o.shape) == [2, 3, 64, 96] for o in outputs)
    sum(w * o.mean() for w, o in zip(net.loss_weights, outputs, strict=True)).backward()
    assert net.downsample.conv.weight.grad is not None
    if len(weights) > 1:
        assert net.aux_higher.logit.weight.grad is not None
    net.eval()
    with paddle.no_grad():
        assert isinstance(net(paddle.rand([1, 3, 64, 64])), paddle.Tensor)  # eval: the logits alone


def test_multi_loss_weight_takes_one_to_three_weights():
    with pytest.raises(ValueError, match="multi_loss_weight"):
        FastSCNN(num_classes=3, multi_loss_weight=[1.0, 0.4, 0.16, 0.1])
    with pytest.raises(ValueError, match="multi_loss_weight"):
        FastSCNN(num_classes=3, multi_loss_weight=[])


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (4, 6), (5, 7), (13, 9), (32, 48)])
def test_adaptive_avg_pool_is_paddles(size):
    x = paddle.rand([2, 3, *size])
    for cells in (1, 2, 3, 6):
        np.testing.assert_allclose(adaptive_avg_pool(x, cells).numpy(),
                                   F.adaptive_avg_pool2d(x, cells).numpy(), rtol=1e-5, atol=1e-6)


# to_static with dynamic sizes (the eager logits at every size; conformance compares them
# at a fixed size), paddle.jit.save, then Paddle Inference with oneDNN (which rejects every
# interpolation and adaptive pool op it cannot size) and ONNX Runtime give the eager logits
exported, test_static_parity_and_paddle_inference_round_trip, test_onnx_runtime_round_trip = (
    kit.runtime_round_trips("preset", [(1, 3, 64, 96), (2, 3, 96, 64), (1, 3, 160, 96)]))


def _archive_bytes(net) -> int:
    """The size of a Paddle 1.x per-variable tar of ``net``'s tensors with a momentum
    velocity for each trainable one: a 512-byte tar header per file and the file (a
    header of about 40 bytes, then float32 values) padded to 512 bytes."""
    total = 0
    for key, tensor in net.state_dict().items():
        data = 40 + 4 * int(np.prod(tensor.shape))
        copies = 1 if key.endswith(("._mean", "._variance")) else 2
        total += copies * (512 + -(-data // 512) * 512)
    return total


def test_parameter_count_matches_the_zoo_size():
    """fast_scnn_cityscape.tar (9.8 MB, not compressed) holds the weights with the
    higher-branch auxiliary head and their momentum velocities: that estimate is within
    1% of it; without the head (9.66 MB) or with both heads (10.13 MB) it is not."""
    sizes = {}
    for weights in ([1.0], [1.0, 0.4], [1.0, 0.4, 0.16]):
        with paddle.LazyGuard():
            net = FastSCNN(num_classes=19, multi_loss_weight=weights)
        sizes[len(weights)] = _archive_bytes(net) / 1e6
    with paddle.LazyGuard():
        net = pxcore.create_model(PRESET).net
    values = sum(int(np.prod(t.shape)) for t in net.state_dict().values())
    assert values == 1_196_150
    assert abs(sizes[2] - 9.8) / 9.8 < 0.01 and _archive_bytes(net) / 1e6 == sizes[2]
    assert abs(sizes[1] - 9.8) / 9.8 > 0.01 and abs(sizes[3] - 9.8) / 9.8 > 0.01
