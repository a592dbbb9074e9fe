"""pxcore-deeplab: the zoo's DeepLabv3+ presets against pxcore's conformance checks,
their shapes, training outputs, export, and PaddleX 1.3's per-backbone options."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

import pxcore
from pxcore import zoo
from pxcore.errors import PxError
from pxcore.testing import check_static_parity
from pxcore.testing import pytest_plugin as kit
from pxcore_deeplab.deeplabv3p import DeepLabV3P
from pxcore_deeplab.plugin import PADDLESEG_PRESETS, PRESETS, options, paddlex_description, presets

DIST = "pxcore-deeplab"
# (preset, dataset) -> classes: every zoo row
ROWS = {("DeepLabv3_MobileNetV2_x1.0", "COCO"): 81, ("DeepLabv3_MobileNetV2_x1.0", "Cityscapes"): 19,
        ("DeepLabv3_Xception65", "COCO"): 81, ("DeepLabv3_Xception65", "Cityscapes"): 19,
        ("DeepLabv3_MobileNetV3_large_x1_0_ssld", "Cityscapes"): 19}
# With 19 classes, BatchNorm statistics included (= the manifests' pdparams).
PARAMETERS = {"DeepLabv3_MobileNetV2_x1.0": 1_850_515, "DeepLabv3_Xception65": 41_257_699,
              "DeepLabv3_MobileNetV3_large_x1_0_ssld": 1_520_858}
# The zoo's sizes (MB) and how far our tensors explain them.
ZOO_MB = {"DeepLabv3_MobileNetV2_x1.0": 14.7, "DeepLabv3_Xception65": 329.3,
          "DeepLabv3_MobileNetV3_large_x1_0_ssld": 9.3}


@pytest.fixture(scope="module")
def nets():
    """One network per preset at 19 classes (Cityscapes), built once."""
    paddle.seed(0)
    return {name: pxcore.create_model(name, task="semantic_segmentation", dataset="Cityscapes").net
            for name in PRESETS}


test_conformance = kit.conformance_test(DIST)


def test_registers_the_zoo_names():
    # the zoo rows' presets, and PaddleX's own network where a row's differs
    kit.check_entry_point(DIST, {"model": [*PRESETS, "DeepLabv3_MobileNetV2_x1.0-paddlex",
                                          *PADDLESEG_PRESETS]})
    for name, (backbone, crop) in PRESETS.items():
        paddlex = zoo.lookup(name, "semantic_segmentation")[0].paddlex
        spec = kit.check_segmenter_preset(name, DIST, paddlex, crop)
        assert paddlex == paddlex_description(backbone)
        assert paddlex["class"] == "DeepLabv3p" and paddlex["backbone"] == backbone
        assert spec.metadata["size_divisor"] == 32


@pytest.mark.parametrize(("name", "dataset"), list(ROWS))
def test_zoo_rows_give_their_class_counts(name, dataset):
    spec = pxcore.get_registry().get("model", name)
    entry, found = pxcore.api.resolve_model(name, task="semantic_segmentation", dataset=dataset)
    assert entry.num_classes == ROWS[name, dataset] and found is spec
    if name == "DeepLabv3_Xception65":
        return  # slow to build; its class layers' shapes are in test_deeplab_weights
    net = spec.build(num_classes=entry.num_classes)
    assert net.num_classes == ROWS[name, dataset]
    classes = net.logit.conv._out_channels if net.logit is not None else net.decoder.conv._out_channels
    assert classes == ROWS[name, dataset]


def test_create_model_takes_the_rows_class_count():
    model = pxcore.create_model("DeepLabv3_MobileNetV2_x1.0", task="semantic_segmentation",
                                dataset="COCO")
    assert model.num_classes == 81 and model.net.logit.conv.weight.shape[0] == 81


def test_paddlex_options_per_backbone(nets):
    v2, xception, v3 = (nets[n] for n in PRESETS)
    assert xception.output_stride == 16 and xception.encoder.dilations == (6, 12, 18)
    assert type(xception.decoder).__name__ == "ConcatDecoder" and xception.logit is not None
    assert xception.encoder.dropout is not None and xception.encoder.dropout.p == 0.9
    assert xception.encoder_kind.low_level_channels == 256 and xception.encoder_kind.channels == 2048
    # MobileNetV2: as its zoo weights, no ASPP and no decoder: a logit conv on 320 channels
    assert v2.output_stride == 16 and v2.encoder is None and v2.decoder is None
    assert v2.logit.conv.weight.shape == [19, 320, 1, 1]
    assert v2.encoder_kind.low_level_channels == 144 and v2.encoder_kind.channels == 320
    # MobileNetV3: LR-ASPP-like: stride 32, one 1x1 branch gated by the quick-sigmoid
    # image pooling, sum-merge decoder to the classes, no logit conv
    assert v3.output_stride == 32 and v3.encoder.dilations == () and v3.encoder.with_se
    assert v3.encoder.concat is None and not v3.encoder.image_level_feature
    assert v3.encoder.image_pool.bn is None and v3.logit is None
    assert type(v3.decoder).__name__ == "SumDecoder" and v3.decoder.out_channels == 19
    assert v3.encoder_kind.low_level_channels == 120 and v3.encoder_kind.channels == 480


def test_paddlex_mobilenetv2_network_with_aspp_and_decoder():
    """PaddleX's own DeepLabv3p(backbone="MobileNetV2_x1.0"): ASPP and decoder on."""
    args = options("MobileNetV2_x1.0", zoo_weights=False)
    assert args["encoder_with_aspp"] and args["enable_decoder"]
    net = DeepLabV3P(19, **{k: v for k, v in args.items()})
    assert net.encoder.dilations == (6, 12, 18) and type(net.decoder).__name__ == "ConcatDecoder"
    assert sum(int(np.prod(v.shape)) for v in net.state_dict().values()) == 2_764_995


@pytest.mark.parametrize("size", [(64, 96), (96, 160), (96, 64)])
def test_logits_at_the_input_size(nets, size):
    image = paddle.rand([1, 3, *size])
    for name, net in nets.items():
        net.eval()
        with paddle.no_grad():
            out = net(image)
        assert list(out.shape) == [1, 19, *size], name


def test_training_mode_gives_logits_at_the_input_size(nets):
    net = nets["DeepLabv3_MobileNetV2_x1.0"]
    net.train()
    out = net(paddle.rand([2, 3, 64, 96]))
    net.eval()
    assert isinstance(out, paddle.Tensor) and list(out.shape) == [2, 19, 64, 96]
    assert net.loss_weights == (1.0,)
    out.mean().backward()
    assert net.backbone.conv1._conv.weight.grad is not None
    net.clear_gradients()


def test_aspp_dropout_scales_by_a_tenth_at_inference():
    """PaddleX's fluid.layers.dropout(x, 0.9): inference multiplies by 0.1."""
    net = DeepLabV3P(3, backbone="MobileNetV2_x0.25")
    net.eval()
    x = paddle.rand([1, 8, 4, 4]) + 1.0
    np.testing.assert_allclose(net.encoder.dropout(x).numpy(), 0.1 * x.numpy(), rtol=1e-6)


def test_static_parity_at_a_non_square_size(nets):
    net = nets["DeepLabv3_MobileNetV3_large_x1_0_ssld"]
    check_static_parity(net, [paddle.rand([1, 3, 128, 64])], "MobileNetV3 128x64")


def test_export_runs_in_onnx_runtime(tmp_path):
    """model.export() and pxcore.Predictor on ONNX Runtime: the same logits (the image
    pooling broadcasts by an add: paddle2onnx's expand_as breaks ONNX Runtime). Paddle
    Inference: test_paddle_inference_round_trip."""
    # PaddleX's MobileNetV2 network (with ASPP and decoder) at width 0.5
    model = pxcore.create_model("DeepLabv3_MobileNetV2_x1.0", num_classes=4,
                                task="semantic_segmentation", dataset="Cityscapes",
                                backbone="MobileNetV2_x0.5", encoder_with_aspp=True,
                                enable_decoder=True)
    assert model.net.encoder is not None and model.net.decoder is not None
    model.export(tmp_path / "exported")
    batch = np.random.default_rng(0).uniform(-1, 1, (1, 3, 64, 96)).astype("float32")
    model.net.eval()
    with paddle.no_grad():
        expected = model.net(paddle.to_tensor(batch)).numpy()
    got, labels = pxcore.Predictor(tmp_path / "exported", runtime="onnxruntime").run(batch)
    assert got.shape == expected.shape == (1, 4, 64, 96)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    # the export's second output: each pixel's class, the argmax of those logits
    assert labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, got.argmax(1))


def test_paddle_inference_round_trip(nets, tmp_path):
    """paddle.jit.save with a dynamic input, then Paddle Inference with oneDNN: the same
    logits at two sizes (MobileNetV3: the sum-merge decoder, the quick-sigmoid gate)."""
    from paddle import inference

    net = nets["DeepLabv3_MobileNetV3_large_x1_0_ssld"]
    net.eval()
    spec = [paddle.static.InputSpec([None, 3, None, None], "float32", "images")]
    static = paddle.jit.to_static(net, input_spec=spec, full_graph=True)
    prefix = str(tmp_path / "model")
    paddle.jit.save(static, prefix, input_spec=spec)
    model_file = prefix + (".json" if (tmp_path / "model.json").exists() else ".pdmodel")
    config = inference.Config(model_file, prefix + ".pdiparams")
    config.disable_gpu()
    config.enable_mkldnn()
    config.set_cpu_math_library_num_threads(1)
    predictor = inference.create_predictor(config)
    for size in ((64, 96), (96, 64)):
        image = np.random.default_rng(0).uniform(-1, 1, (1, 3, *size)).astype("float32")
        with paddle.no_grad():
            expected = net(paddle.to_tensor(image)).numpy()
        handle = predictor.get_input_handle(predictor.get_input_names()[0])
        handle.copy_from_cpu(image)
        predictor.run()
        got = predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("name", list(PRESETS))
def test_parameter_count(nets, name):
    """Exact counts; the zoo's sizes are the archives': the weights plus one momentum
    velocity per trainable tensor (which loading skips): 329.3 MB for Xception65 and
    14.7 MB for MobileNetV2 (19 classes, no ASPP and decoder). MobileNetV3's 9.3 MB lies
    between its weights (6.1 MB) and weights with velocities (12.1 MB): not matched."""
    net = nets[name]
    count = sum(int(np.prod(v.shape)) for v in net.state_dict().values())
    assert count == PARAMETERS[name]
    trainable = sum(int(np.prod(p.shape)) for p in net.parameters() if not p.stop_gradient)
    with_momentum_mb = (count + trainable) * 4 / 1e6
    if name != "DeepLabv3_MobileNetV3_large_x1_0_ssld":
        assert abs(with_momentum_mb - ZOO_MB[name]) < 0.1
    else:
        assert count * 4 / 1e6 < ZOO_MB[name] < with_momentum_mb


def test_options_are_checked():
    with pytest.raises(PxError, match="output_stride"):
        DeepLabV3P(3, backbone="MobileNetV2_x1.0", output_stride=4)
    with pytest.raises(PxError, match="backbone"):  # any registered backbone builds; not this
        DeepLabV3P(3, backbone="ResNet9000")
    with pytest.raises(PxError, match="output_stride must be 32"):
        DeepLabV3P(3, backbone="MobileNetV3_large_x1_0_ssld", output_stride=16)


def test_other_options_build_and_run():
    """Plain (not separable) convs, output stride 8, no decoder, pooled image features."""
    image = paddle.rand([1, 3, 64, 96])
    for args in ({"aspp_with_sep_conv": False, "decoder_use_sep_conv": False},
                 {"output_stride": 8}, {"enable_decoder": False}, {"encoder_with_aspp": False}):
        net = DeepLabV3P(5, backbone="MobileNetV2_x0.5", **args)
        net.eval()
        assert list(net(image).shape) == [1, 5, 64, 96], args
        assert set(net.weight_aliases().values()) == set(net.state_dict())
    args = {n: a for n, a, *_ in presets()}["DeepLabv3_MobileNetV3_large_x1_0_ssld"]
    net = DeepLabV3P(**{**args, "num_classes": 4, "pooling_crop_size": [65, 33],
                        "pooling_stride": (1, 1)})
    net.eval()
    assert net.encoder.pool_size == (2, 3)
    assert list(net(image).shape) == [1, 4, 64, 96]


def test_mobilenetv2_output_stride_and_decoder_feature():
    """What DeepLab added to pxcore's MobileNetV2: PaddleX's output stride (stages past
    it keep the resolution) and the depthwise output of conv3's last block."""
    from pxcore_mobilenet.mobilenet_v2 import MobileNetV2, stage_strides

    assert stage_strides() == [1, 2, 2, 2, 1, 2, 1]
    assert stage_strides(16) == [1, 2, 2, 2, 1, 1, 1] and stage_strides(8) == [1, 2, 2, 1, 1, 1, 1]
    net = MobileNetV2(scale=0.5, output_stride=16)
    net.eval()
    assert [f.stride for f in net.feature_info] == [4, 8, 16]
    image = paddle.rand([1, 3, 64, 96])
    deep, low = net.forward_with_hidden(image, 1)
    assert list(low.shape) == [1, 72, 16, 24] and list(deep.shape) == [1, 160, 4, 6]
    np.testing.assert_allclose(deep.numpy(), net.forward_features(image)[-1].numpy(), rtol=1e-6)
    assert set(MobileNetV2(scale=0.5).state_dict()) == set(net.state_dict())


def test_mobilenetv3_segmentation_variant():
    """pxcore's MobileNetV3 config "large_seg" (PaddleX's for_seg): the last three blocks
    at half width; block 5's depthwise output is the decoder's map."""
    from pxcore_mobilenet.mobilenet_v3 import MobileNetV3

    net = MobileNetV3(config="large_seg")
    net.eval()
    assert [(f.stride, f.channels) for f in net.feature_info] == [(4, 24), (8, 40), (16, 112), (32, 80)]
    image = paddle.rand([1, 3, 64, 96])
    deep, low = net.forward_with_hidden(image, 5)
    assert list(low.shape) == [1, 120, 8, 12] and list(deep.shape) == [1, 80, 2, 3]
    np.testing.assert_allclose(deep.numpy(), net.forward_features(image)[-1].numpy(), rtol=1e-6)
