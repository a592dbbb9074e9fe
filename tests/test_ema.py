"""pxcore.engine.ema.ModelEMA: PaddleDetection's decay schedule and bias correction by
hand, BatchNorm statistics averaged, apply() swapping and restoring, checkpoints."""

import numpy as np
import paddle
import pytest

from pxcore.engine.ema import ModelEMA
from pxcore.errors import PxError


class TinyNet(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.fc = paddle.nn.Linear(2, 1)
        self.bn = paddle.nn.BatchNorm1D(1)


def set_all(net, value: float) -> None:
    """Every entry of the state dict (weights and BatchNorm statistics) to ``value``."""
    net.set_state_dict({k: np.full(v.shape, value, np.float32) for k, v in net.state_dict().items()})


def numpy_state(state) -> dict:
    return {k: np.asarray(v.numpy()) for k, v in state.items()}


def test_threshold_decay_and_bias_correction_by_hand():
    net = TinyNet()
    ema = ModelEMA(net, decay=0.9998)
    # exact on purpose: (1 + s) / (10 + s) in Python floats, the same division as here
    assert [ema.decay_at(s) for s in (0, 1, 2)] == [1 / 10, 2 / 11, 3 / 12]
    assert ema.decay_at(44990) == pytest.approx(44991 / 45000) and ema.decay_at(45000) == 0.9998
    average = 0.0
    for step, w in enumerate([1.0, 3.0, 5.0]):
        set_all(net, w)
        ema.update()
        d = (1 + step) / (10 + step)
        average = d * average + (1 - d) * w
    assert ema.step == 3
    # 0.9 * 1 = 0.9; 2/11 * 0.9 + 9/11 * 3 = 2.61818; 0.25 * 2.61818 + 0.75 * 5 = 4.40455;
    # corrected with the last decay: 4.40455 / (1 - 0.25 ** 3) = 4.47446
    expected = average / (1 - (3 / 12) ** 3)
    assert expected == pytest.approx(4.47446, abs=1e-5)
    for key, value in numpy_state(ema.averaged()).items():  # BatchNorm statistics included
        np.testing.assert_allclose(value, expected, rtol=1e-6, err_msg=key)


def test_constant_decay_is_an_exact_weighted_mean():
    net = TinyNet()
    ema = ModelEMA(net, decay=0.5, use_thres_step=False)
    for w in (1.0, 4.0):
        set_all(net, w)
        ema.update()
    # 0.25 * 1 + 0.5 * 4 over 0.75: weights 1/3 and 2/3
    for value in numpy_state(ema.averaged()).values():
        np.testing.assert_allclose(value, 3.0, rtol=1e-6)


def test_apply_swaps_in_the_average_and_restores():
    paddle.seed(0)
    net = TinyNet()
    ema = ModelEMA(net, decay=0.9)
    for _ in range(3):
        net.set_state_dict({k: v + 1.0 for k, v in net.state_dict().items()})
        ema.update()
    trained, averaged = numpy_state(net.state_dict()), numpy_state(ema.averaged())
    x = paddle.randn([4, 2])
    with ema.apply() as swapped:
        assert swapped is net
        inside = numpy_state(net.state_dict())
        for key in trained:
            np.testing.assert_array_equal(inside[key], averaged[key])
            assert not np.array_equal(inside[key], trained[key])
        net.eval()
        np.testing.assert_allclose(net.fc(x).numpy(),
                                   x.numpy() @ averaged["fc.weight"] + averaged["fc.bias"],
                                   rtol=1e-5)
    for key, value in numpy_state(net.state_dict()).items():
        np.testing.assert_array_equal(value, trained[key])
    with pytest.raises(RuntimeError), ema.apply():
        raise RuntimeError("evaluation failed")
    for key, value in numpy_state(net.state_dict()).items():
        np.testing.assert_array_equal(value, trained[key])


def test_before_any_update_apply_keeps_the_weights():
    net = TinyNet()
    before = numpy_state(net.state_dict())
    with ModelEMA(net).apply():
        for key, value in numpy_state(net.state_dict()).items():
            np.testing.assert_array_equal(value, before[key])


@pytest.mark.parity
def test_checkpoint_round_trip(tmp_path):
    paddle.seed(1)
    net = TinyNet()
    ema = ModelEMA(net)
    for _ in range(4):
        net.set_state_dict({k: v * 1.5 + 0.1 for k, v in net.state_dict().items()})
        ema.update()
    path = tmp_path / "ema.pdparams"
    paddle.save(ema.state_dict(), str(path))
    resumed = ModelEMA(net)
    resumed.set_state_dict(paddle.load(str(path)))
    assert resumed.step == 4
    for key, value in numpy_state(ema.averaged()).items():
        # exact: float32 saved and read back bit for bit
        np.testing.assert_array_equal(numpy_state(resumed.averaged())[key], value)
    net.set_state_dict({k: v - 2.0 for k, v in net.state_dict().items()})
    ema.update()
    resumed.update()
    for key, value in numpy_state(ema.averaged()).items():
        np.testing.assert_allclose(numpy_state(resumed.averaged())[key], value, rtol=1e-6)


def test_a_state_of_another_network_is_refused():
    ema = ModelEMA(TinyNet())
    other = ModelEMA(paddle.nn.Linear(3, 1))
    with pytest.raises(PxError, match=r"missing \['bn\._mean'"):
        ema.set_state_dict(other.state_dict())
    with pytest.raises(PxError, match="no 'step' and 'average'"):
        ema.set_state_dict({"fc.weight": np.zeros((2, 1))})
    with pytest.raises(PxError, match="decay 1.0"):
        ModelEMA(TinyNet(), decay=1.0)
