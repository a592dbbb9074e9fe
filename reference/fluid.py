"""One stand-in for the removed ``paddle.fluid`` API, so the Paddle 1.x static programs
the zoo's archives were saved from (PaddleClas release/static, PaddleX 1.3's nets) can
be built in Paddle 3's legacy static mode (``FLAGS_enable_pir_api=0``, set before Paddle
starts). Each layer call forwards to its ``paddle.static.nn`` / ``paddle`` equivalent
with the arguments that matter (ParamAttr names, shapes, strides, groups, activations),
so the program's persistable variables are the names the reference code sets.

Where callers need different semantics, ``install`` takes an explicit option:

- ``resize``: "fluid" resizes as Paddle 1.x's ops did (``align_corners`` True unless the
  caller says otherwise; bilinear with ``align_mode`` 1), "pxcore" as pxcore does
  (nearest: floor; bilinear: half-pixel centres);
- ``static_shapes``: ``layers.shape`` gives the input's sizes as ints (the image's size
  is fixed when the program is built) rather than a shape tensor;
- ``record(kind, variable)``: called with ("softmax", its input) and ("resize", its
  output), so a caller can fetch the logits, or an auxiliary output, of a program the
  reference's own code built.

Anything else a family's code calls is added to the returned module's ``layers`` by
that family (the extension point): ``install`` returns ``paddle.fluid``.

``recording()`` is the other kind: a ``paddle.fluid`` whose layers only record the
variables the code would create, for static code read without running Paddle.
"""

from __future__ import annotations

import contextlib
import math
import sys
import types
from collections.abc import Callable


def module(name: str, **attributes) -> types.ModuleType:
    """A module registered in ``sys.modules`` with ``attributes``."""
    made = types.ModuleType(name)
    made.__dict__.update(attributes)
    sys.modules[name] = made
    return made


def package(name: str, path) -> types.ModuleType:
    """A package whose ``__init__`` (which imports everything) never runs: its modules
    load from ``path`` one by one, as imported."""
    return module(name, __path__=[str(path)])


class Stub:
    """A class reference code only names (NMS settings, losses, target assigners)."""

    def __init__(self, *args, **kwargs):
        self.__dict__.update(kwargs)


RESIZES = ("fluid", "pxcore")
# Named in reference class bodies or default arguments, never run by the checks.
_UNUSED = ("box_coder", "generate_proposals", "rpn_target_assign", "roi_align", "roi_pool",
           "multiclass_nms", "generate_proposal_labels", "generate_mask_labels",
           "distribute_fpn_proposals", "collect_fpn_proposals", "sequence_expand", "box_clip")


def install(*, resize: str = "fluid", static_shapes: bool = False,
            record: Callable[[str, object], None] | None = None) -> types.ModuleType:
    """Register the stand-in as ``paddle.fluid`` (and its submodules); returns it."""
    if resize not in RESIZES:
        raise ValueError(f"resize={resize!r}: choose one of {RESIZES}")
    import paddle
    import paddle.nn.functional as F
    from paddle.base.layer_helper import LayerHelper

    note = record or (lambda kind, variable: None)

    def op(op_type, attrs=None, outputs=("Out",), dtype="float32", **inputs):
        # Paddle 3's generated multiply/sigmoid/argmax/... take no legacy static Variables
        helper = LayerHelper(op_type)
        made = {k: helper.create_variable_for_type_inference(dtype) for k in outputs}
        helper.append_op(type=op_type, inputs=inputs, outputs=made, attrs=attrs or {})
        return made[outputs[0]] if len(outputs) == 1 else [made[k] for k in outputs]

    acts = {None: lambda x: x, "relu": F.relu, "relu6": lambda x: op("relu6", {"threshold": 6.0}, X=x),
            "sigmoid": lambda x: op("sigmoid", X=x),
            # Paddle 1.x's hard_sigmoid: slope 0.2, offset 0.5
            "hard_sigmoid": lambda x: op("hard_sigmoid", {"slope": 0.2, "offset": 0.5}, X=x)}

    def activate(x, act):
        return acts[act](x) if act in acts else getattr(F, act)(x)

    def conv2d(input, num_filters, filter_size, stride=1, padding=0, dilation=1, groups=None,
               param_attr=None, bias_attr=None, use_cudnn=True, act=None, name=None):
        return activate(paddle.static.nn.conv2d(
            input, num_filters, filter_size, stride=stride, padding=padding, dilation=dilation,
            groups=groups, param_attr=param_attr, bias_attr=bias_attr), act)

    def batch_norm(input, act=None, param_attr=None, bias_attr=None, moving_mean_name=None,
                   moving_variance_name=None, epsilon=1e-5, momentum=0.9, name=None,
                   use_global_stats=False, **_):
        return activate(paddle.static.nn.batch_norm(
            input, epsilon=epsilon, momentum=momentum, param_attr=param_attr, bias_attr=bias_attr,
            moving_mean_name=moving_mean_name, moving_variance_name=moving_variance_name,
            use_global_stats=use_global_stats), act)

    def deformable_conv(input, offset, mask, num_filters, filter_size, stride=1, padding=0,
                        dilation=1, groups=None, deformable_groups=None, im2col_step=None,
                        param_attr=None, bias_attr=None, modulated=True, name=None):
        return paddle.static.nn.deform_conv2d(
            input, offset, mask, num_filters, filter_size, stride=stride, padding=padding,
            dilation=dilation, groups=groups or 1, deformable_groups=deformable_groups or 1,
            im2col_step=im2col_step or 1, weight_attr=param_attr, bias_attr=bias_attr)

    def conv2d_transpose(input, num_filters, output_size=None, filter_size=None, padding=0,
                         stride=1, dilation=1, groups=None, param_attr=None, bias_attr=None,
                         use_cudnn=True, act=None, name=None):
        return activate(paddle.static.nn.conv2d_transpose(
            input, num_filters, filter_size=filter_size, padding=padding, stride=stride,
            dilation=dilation, groups=groups, param_attr=param_attr, bias_attr=bias_attr), act)

    def fc(input, size, act=None, name=None, param_attr=None, bias_attr=None, num_flatten_dims=1):
        return activate(paddle.static.nn.fc(input, size, num_flatten_dims=num_flatten_dims,
                                            weight_attr=param_attr, bias_attr=bias_attr), act)

    def pool2d(input, pool_size=-1, pool_type="max", pool_stride=1, pool_padding=0,
               global_pooling=False, use_cudnn=True, ceil_mode=False, name=None, exclusive=True):
        if global_pooling:
            return F.adaptive_avg_pool2d(input, 1) if pool_type == "avg" else F.adaptive_max_pool2d(input, 1)
        if pool_type == "max":
            return F.max_pool2d(input, pool_size, pool_stride, pool_padding, ceil_mode=ceil_mode)
        return F.avg_pool2d(input, pool_size, pool_stride, pool_padding, ceil_mode=ceil_mode,
                            exclusive=exclusive)

    def adaptive_pool2d(input, pool_size, pool_type="max", require_index=False, name=None):
        if pool_type != "avg":
            raise NotImplementedError(f"adaptive_pool2d(pool_type={pool_type!r}): only 'avg' is forwarded")
        return F.adaptive_avg_pool2d(input, pool_size)

    def dropout(x, dropout_prob, is_test=None, seed=None, name=None,
                dropout_implementation="downgrade_in_infer"):
        mode = "downscale_in_infer" if dropout_implementation == "downgrade_in_infer" else "upscale_in_train"
        return F.dropout(x, p=dropout_prob, training=True, mode=mode)  # clone(for_test) turns it off

    def elementwise(function):
        def apply(x, y, axis=-1, act=None, name=None):
            return activate(function(x, y), act)
        return apply

    def affine_channel(x, scale=None, bias=None, data_layout="NCHW", name=None, act=None):
        return activate(op("affine_channel", {"data_layout": data_layout}, X=x, Scale=scale,
                           Bias=bias), act)

    def size_tensor(out_shape):
        parts = [paddle.cast(paddle.reshape(d, [1]), "int32") if not isinstance(d, int)
                 else paddle.full([1], d, "int32") for d in out_shape]
        return paddle.concat(parts)

    def interpolate(method, input, out_shape=None, scale=None, name=None, actual_shape=None,
                    align_corners=True, align_mode=1, data_format="NCHW"):
        dynamic = isinstance(out_shape, list | tuple) and not all(isinstance(d, int) for d in out_shape)
        dynamic = dynamic or (out_shape is not None and not isinstance(out_shape, list | tuple))
        if dynamic and resize == "pxcore":
            # a size read from another map's shape (HRFPN) which ``scale`` gives statically
            if scale is None or min(input.shape[2:]) < 0:
                raise NotImplementedError("resize='pxcore' takes static sizes, or a scale of a static map")
            out_shape, dynamic = None, False
        if dynamic:
            # Paddle 1.x's op with its size a tensor read from another's shape
            size = out_shape if not isinstance(out_shape, list | tuple) else size_tensor(out_shape)
            out = op(f"{method}_interp", {"interp_method": method, "align_corners": align_corners,
                                           "align_mode": align_mode, "out_h": -1, "out_w": -1,
                                           "data_layout": data_format},
                     X=input, OutSize=paddle.cast(size, "int32"))
        else:
            size = ([int(d) for d in out_shape] if out_shape is not None
                    else [int(input.shape[2] * scale), int(input.shape[3] * scale)])
            if resize == "pxcore":
                out = (F.interpolate(input, size=size, mode="nearest") if method == "nearest"
                       else F.interpolate(input, size=size, mode="bilinear", align_corners=False))
            else:
                out = op(f"{method}_interp", {"out_h": size[0], "out_w": size[1], "interp_method": method,
                                               "align_corners": align_corners, "align_mode": align_mode},
                         X=input)
        note("resize", out)
        return out

    def softmax(input, axis=-1, use_cudnn=False, name=None):
        note("softmax", input)
        return op("softmax", {"axis": axis}, X=input)

    def argmax(x, axis=0):  # the predicted class map
        return op("arg_max", {"axis": axis, "dtype": 3}, dtype="int64", X=x)  # dtype 3: int64

    def anchor_generator(input, anchor_sizes=None, aspect_ratios=None, variance=(0.1, 0.1, 0.2, 0.2),
                         stride=None, offset=0.5, name=None):
        return op("anchor_generator", {"anchor_sizes": [float(s) for s in anchor_sizes],
                                       "aspect_ratios": [float(r) for r in aspect_ratios],
                                       "variances": [float(v) for v in variance],
                                       "stride": [float(s) for s in stride], "offset": float(offset)},
                  outputs=("Anchors", "Variances"), Input=input)

    def shape(input):
        return [int(d) for d in input.shape] if static_shapes else paddle.shape(input)

    layers = types.SimpleNamespace(
        conv2d=conv2d, batch_norm=batch_norm, deformable_conv=deformable_conv,
        conv2d_transpose=conv2d_transpose, fc=fc, pool2d=pool2d, adaptive_pool2d=adaptive_pool2d,
        dropout=dropout, affine_channel=affine_channel, softmax=softmax, argmax=argmax,
        anchor_generator=anchor_generator, shape=shape,
        elementwise_add=elementwise(paddle.add),
        elementwise_mul=elementwise(lambda x, y: op("elementwise_mul", {"axis": -1}, X=x, Y=y)),
        leaky_relu=lambda x, alpha=0.02, name=None: F.leaky_relu(x, alpha),
        relu=F.relu, relu6=lambda x, threshold=6.0, name=None: acts["relu6"](x),
        sigmoid=lambda x, name=None: acts["sigmoid"](x),
        resize_nearest=lambda *a, **k: interpolate("nearest", *a, **k),
        resize_bilinear=lambda *a, **k: interpolate("bilinear", *a, **k),
        split=lambda input, num_or_sections, dim=-1, name=None: paddle.split(input, num_or_sections, dim),
        concat=lambda input, axis=0, name=None: paddle.concat(input, axis=axis),
        reshape=lambda x, shape, name=None: paddle.reshape(x, shape),
        transpose=lambda x, perm, name=None: paddle.transpose(x, perm),
        reduce_mean=lambda input, dim=None, keep_dim=False, name=None: paddle.mean(input, dim, keep_dim),
        slice=lambda input, axes, starts, ends: paddle.slice(input, axes, starts, ends),
        range=lambda start, end, step, dtype: paddle.arange(start, end, step, dtype),
        unsqueeze=lambda input, axes, name=None: paddle.unsqueeze(input, axes),
        expand=lambda x, expand_times, name=None: paddle.tile(x, expand_times),
        cast=lambda x, dtype: paddle.cast(x, dtype),
        create_parameter=lambda shape, dtype, name=None, attr=None, is_bias=False, default_initializer=None:
            paddle.static.create_parameter(shape, dtype, attr=attr, is_bias=is_bias,
                                           default_initializer=default_initializer),
        **dict.fromkeys(_UNUSED))

    def initializer(*args, **kwargs):  # every value is overwritten by the checks
        return paddle.nn.initializer.Constant(float(args[0]) if args else 0.0)

    main_block = lambda: paddle.static.default_main_program().global_block()  # noqa: E731
    fluid = module("paddle.fluid", __path__=[], layers=layers, name_scope=paddle.static.name_scope,
                   ParamAttr=paddle.ParamAttr)
    fluid.param_attr = module("paddle.fluid.param_attr", ParamAttr=paddle.ParamAttr)
    fluid.regularizer = module(
        "paddle.fluid.regularizer", L2Decay=paddle.regularizer.L2Decay,
        L2DecayRegularizer=lambda regularization_coeff=0.0: paddle.regularizer.L2Decay(regularization_coeff))
    fluid.initializer = module("paddle.fluid.initializer", **dict.fromkeys(
        ("Xavier", "XavierInitializer", "Normal", "NormalInitializer", "TruncatedNormal", "MSRA",
         "Constant", "ConstantInitializer", "Uniform"), initializer))
    fluid.framework = module("paddle.fluid.framework", Variable=paddle.static.Variable,
                             _get_var=lambda name: main_block().var(name))
    paddle.fluid = fluid
    return fluid


def variables(program) -> dict[str, list[int]]:
    """The program's persistable variables (its weights), name -> shape."""
    return {v.name: [int(d) for d in v.shape] for v in program.list_vars()
            if v.persistable and v.name not in ("feed", "fetch")}


def run(main, startup, archive: dict, feed: dict, fetch: list) -> list:
    """Run ``startup``, set ``archive``'s arrays by variable name (those the program has:
    the callers compare the names themselves), then the test-mode clone of ``main``
    (dropout off, batch norms on their statistics); returns ``fetch``'s values. They are
    fetched as tensors and converted here: RoIs and detections carry LoD, which Paddle's
    own conversion to arrays refuses."""
    import numpy as np
    import paddle

    executor = paddle.static.Executor(paddle.CPUPlace())
    executor.run(startup)
    scope = paddle.static.global_scope()
    names = variables(main)
    for name, value in archive.items():
        if name in names:
            scope.find_var(name).get_tensor().set(value, paddle.CPUPlace())
    return [np.asarray(v) for v in executor.run(main.clone(for_test=True), feed=feed, fetch_list=fetch,
                                                return_numpy=False)]


# --- recording: Paddle 1.x code run without Paddle -------------------------------------
# Where the reference's static code cannot run (or need not), ``recording()`` puts a
# ``paddle`` / ``paddle.fluid`` in place whose layers only record the variables they
# would create, (name, shape) in creation order, and pass shapes along.

class Var:
    """A variable's shape; sums keep the left operand's."""

    def __init__(self, shape):
        self.shape = list(shape)

    def __add__(self, other):
        return self


class ParamAttr:
    def __init__(self, name=None, initializer=None, learning_rate=1.0, regularizer=None, **_):
        self.name = name


def _attr_name(attr):
    return attr if isinstance(attr, str) or attr is None else attr.name


class RecordingLayers:
    """The ``fluid.layers`` the classification backbones call. ``params``: (name, shape)
    in creation order; ``convs``: weight name -> (stride, dilation, padding); ``norms``:
    scale name -> (epsilon, momentum)."""

    def __init__(self):
        self.params: list[tuple[str, list[int]]] = []
        self.convs: dict[str, tuple] = {}
        self.norms: dict[str, tuple] = {}
        self._fc_count = 0

    def conv2d(self, input, num_filters, filter_size, stride=1, padding=0, dilation=1, groups=None,
               param_attr=None, bias_attr=None, **_):
        assert bias_attr is False, "the reference convs have no bias"
        name = _attr_name(param_attr)
        self.params.append((name, [num_filters, input.shape[1] // (groups or 1), filter_size, filter_size]))
        self.convs[name] = (stride, dilation, padding)
        return Var([input.shape[0], num_filters, -1, -1])

    def batch_norm(self, input, param_attr=None, bias_attr=None, moving_mean_name=None,
                   moving_variance_name=None, epsilon=1e-5, momentum=0.9, **_):
        names = (_attr_name(param_attr), _attr_name(bias_attr), moving_mean_name, moving_variance_name)
        self.params.extend((name, [input.shape[1]]) for name in names)
        self.norms[names[0]] = (epsilon, momentum)
        return input

    def pool2d(self, input, global_pooling=False, **_):
        return Var(input.shape[:2] + ([1, 1] if global_pooling else [-1, -1]))

    def concat(self, input, axis=1, **_):
        return Var([input[0].shape[0], sum(v.shape[1] for v in input), -1, -1])

    def reduce_mean(self, input, dim=None, keep_dim=False, **_):
        return Var(input.shape[:2] + ([1, 1] if keep_dim else []))

    def elementwise_add(self, x, y, **_):
        return x

    def relu(self, x, *_, **__):
        return x

    def dropout(self, x, *_, **__):
        return x

    def fc(self, input, size, param_attr=None, bias_attr=None, **_):
        # fluid names an unnamed fc's tensors fc_<n>.w_0 / fc_<n>.b_0
        default = f"fc_{self._fc_count}"
        self._fc_count += 1
        self.params.append((_attr_name(param_attr) or f"{default}.w_0", [math.prod(input.shape[1:]), size]))
        self.params.append((_attr_name(bias_attr) or f"{default}.b_0", [size]))
        return Var([input.shape[0], size])


@contextlib.contextmanager
def recording(layers: RecordingLayers):
    """``paddle`` and ``paddle.fluid`` (``layers`` its layers) in ``sys.modules`` for the
    block; the real ones (if imported) come back after."""
    def ignored(*args, **kwargs):
        return None

    fluid = types.ModuleType("paddle.fluid")
    fluid.layers = layers
    fluid.ParamAttr = ParamAttr
    fluid.param_attr = types.ModuleType("paddle.fluid.param_attr")
    fluid.param_attr.ParamAttr = ParamAttr
    fluid.regularizer = types.SimpleNamespace(L2DecayRegularizer=ignored)
    fluid.initializer = types.SimpleNamespace(Uniform=ignored, TruncatedNormal=ignored,
                                              ConstantInitializer=ignored)
    fake_paddle = types.ModuleType("paddle")
    fake_paddle.fluid = fluid
    stand_ins = {"paddle": fake_paddle, "paddle.fluid": fluid, "paddle.fluid.param_attr": fluid.param_attr}
    saved = {name: sys.modules.get(name) for name in stand_ins}
    sys.modules.update(stand_ins)
    try:
        yield layers
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
