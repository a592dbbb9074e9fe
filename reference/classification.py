"""Classification rows against PaddleClas 2.6's dygraph models, whose ``.pdparams``
the zoo's dygraph weights are.

Random weights (batch-norm statistics calibrated) go by key into PaddleClas's model and
through pxcore's loading rules into the row's model; their logits must agree. Where
PaddleClas 2.6 builds every tensor with a ``ParamAttr`` name (its Paddle 1.x variable
name, the zoo's .tar archives), the same weights under those names go through
``weight_aliases()`` too.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from .harness import calibrated_state, load_exactly, relative_difference
from .loader import import_module


class Network(NamedTuple):
    module: str   # under ppcls/arch/backbone/ of PaddleClas 2.6
    factory: str
    size: int     # input size: the smallest that keeps every stage's map at 2x2 or more


_RESNET = "legendary_models.resnet"
# Zoo row model -> its PaddleClas 2.6 network. The _ssld rows are the same networks
# (weights distilled from a larger teacher), so they map to the same factories.
NETWORKS = {
    "AlexNet": Network("model_zoo.alexnet", "AlexNet", 224),  # its fc layers take 224 px
    "DarkNet53": Network("model_zoo.darknet", "DarkNet53", 64),
    "ShuffleNetV2": Network("model_zoo.shufflenet_v2", "ShuffleNetV2_x1_0", 64),
    "MobileNetV1": Network("legendary_models.mobilenet_v1", "MobileNetV1", 64),
    "MobileNetV2": Network("model_zoo.mobilenet_v2", "MobileNetV2", 64),
    "MobileNetV3_large": Network("legendary_models.mobilenet_v3", "MobileNetV3_large_x1_0", 64),
    "MobileNetV3_small": Network("legendary_models.mobilenet_v3", "MobileNetV3_small_x1_0", 64),
    "MobileNetV3_large_ssld": Network("legendary_models.mobilenet_v3", "MobileNetV3_large_x1_0", 64),
    "MobileNetV3_small_ssld": Network("legendary_models.mobilenet_v3", "MobileNetV3_small_x1_0", 64),
    "ResNet18": Network(_RESNET, "ResNet18", 64),
    "ResNet34": Network(_RESNET, "ResNet34", 64),
    "ResNet50": Network(_RESNET, "ResNet50", 64),
    "ResNet101": Network(_RESNET, "ResNet101", 64),
    "ResNet50_vd": Network(_RESNET, "ResNet50_vd", 64),
    "ResNet101_vd": Network(_RESNET, "ResNet101_vd", 64),
    "ResNet50_vd_ssld": Network(_RESNET, "ResNet50_vd", 64),
    "ResNet101_vd_ssld": Network(_RESNET, "ResNet101_vd", 64),
    "Xception41": Network("model_zoo.xception_deeplab", "Xception41_deeplab", 64),
    "Xception65": Network("model_zoo.xception_deeplab", "Xception65_deeplab", 64),
    "DenseNet121": Network("model_zoo.densenet", "DenseNet121", 64),
    "DenseNet161": Network("model_zoo.densenet", "DenseNet161", 64),
    "DenseNet201": Network("model_zoo.densenet", "DenseNet201", 64),
    "HRNet_W18": Network("legendary_models.hrnet", "HRNet_W18_C", 64),
}

# ppcls/utils/save_load.py imports the download code; the models only use it for
# pretrained=True, which the checks never ask for.
_STUBS = {"ppcls.utils.save_load": {"load_dygraph_pretrain": None}}


def paddleclas_network(network: Network):
    """PaddleClas 2.6's model, built in a fresh parameter-name scope (dygraph Paddle
    refuses a ParamAttr name already used in the process, and several rows share one)."""
    import logging

    import paddle

    logger = import_module("paddleclas", "ppcls.utils.logger")
    module = import_module("paddleclas", f"ppcls.arch.backbone.{network.module}", _STUBS)
    if logger._logger is None:  # PaddleClas's training entry sets it up; the models warn through it
        logger.init_logger(log_level=logging.ERROR)
    with paddle.utils.unique_name.guard():
        return getattr(module, network.factory)(class_num=1000)


def _logits(net, image: np.ndarray) -> np.ndarray:
    import paddle

    net.eval()
    with paddle.no_grad():
        return net(paddle.to_tensor(image)).numpy()


def legacy_names(net) -> dict[str, str] | None:
    """{Paddle 1.x variable name: key} when the model names every tensor itself (a name
    Paddle made up, ``conv2d_0.w_0``, means it set none), else None."""
    names = {t.name: key for key, t in net.state_dict().items()}
    if len(names) < len(net.state_dict()) or any(re.fullmatch(r"\w+_\d+\.(w|b)_\d+", n) for n in names):
        return None
    return names


def check(model: str, seed: int = 0, swap: tuple[str, str] | None = None) -> dict[str, float]:
    """Relative differences of pxcore's logits from PaddleClas 2.6's: by key, and through
    ``weight_aliases()`` where the reference names its tensors. ``swap`` exchanges two
    same-shaped tensors (by key) in what pxcore gets: the check must then fail."""
    import paddle

    import pxcore

    network = NETWORKS[model]
    reference = paddleclas_network(network)
    rng = np.random.default_rng(seed)
    image = rng.standard_normal((2, 3, network.size, network.size)).astype("float32")
    state = calibrated_state(reference, image, seed)
    reference.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    expected = _logits(reference, image)

    if swap is not None:
        state = {**state, swap[0]: state[swap[1]], swap[1]: state[swap[0]]}
    ours = pxcore.create_model(model, num_classes=1000).net
    load_exactly(ours, state, f"PaddleClas 2.6 {network.factory} state by key")
    differences = {"by key": relative_difference(_logits(ours, image), expected)}
    names = legacy_names(reference)
    if names is not None:
        ours = pxcore.create_model(model, num_classes=1000).net
        load_exactly(ours, {name: state[key] for name, key in names.items()},
                     f"{network.factory} by Paddle 1.x name")
        differences["by Paddle 1.x name"] = relative_difference(_logits(ours, image), expected)
    return differences
