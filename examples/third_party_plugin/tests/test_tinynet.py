"""The plugin's own tests: pxcore's conformance checks, run against this plugin."""

import numpy as np
import paddle

import pxcore
from pxcore.testing import pytest_plugin as kit
from pxcore.testing.zoo import check_zoo_rows

DIST = "px-tinynet"


test_conformance = kit.conformance_test(DIST)


def test_found_through_its_entry_point():
    kit.check_entry_point(DIST, {"backbone": ["TinyNet"], "model": ["TinyNet_x1_0"]}, zoo=["TinyNet_x1_0.digits"])


def test_zoo_row():
    check_zoo_rows(DIST)  # its preset is registered, its metric keys are known
    (row,) = pxcore.zoo.lookup("TinyNet_x1_0")
    assert row.dataset == "digits" and row.num_classes == 10 and row.metrics["top1"] == 97.8


def test_classifier_learns_a_fixed_batch():
    paddle.seed(0)
    model = pxcore.create_model("TinyNet_x1_0", num_classes=4)
    x = paddle.rand([8, 3, 32, 32])
    y = paddle.to_tensor(np.arange(8) % 4)
    opt = paddle.optimizer.Adam(1e-2, parameters=model.parameters())
    losses = []
    for _ in range(5):
        loss = paddle.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.clear_grad()
        losses.append(float(loss))
    assert losses[-1] < losses[0]
