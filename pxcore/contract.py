"""What pxcore asks of a network, in one place: the attributes the tasks, the export and
weight loading read, each a ``typing.Protocol`` documented once here.

A network is a ``paddle.nn.Layer``; everything below beyond that is what some networks
declare. The required parts are per task (a detector's ``loss`` and ``postprocess``);
the rest are capabilities a network opts into by having the attribute, and the code that
reads one asks ``isinstance(net, Protocol)`` (all are ``runtime_checkable``) or
``declared(net, name)`` instead of probing with ``getattr``. ``check_network``
(run by ``pxcore.testing``'s conformance kit on every model and backbone) checks that a
declared attribute has the documented form, so a typo'd or mistyped one fails a
plugin's own tests instead of being silently ignored.

No paddle here: the inference layer and the CLI import this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

# --- any network or backbone ------------------------------------------------------


@runtime_checkable
class ReportsFeatures(Protocol):
    """A backbone (or neck) reports its output levels, detectron2-style: one
    ``pxcore.nn.FeatureInfo`` (name, channels, stride) per tensor it returns, in order;
    heads are built from this report."""

    out_features: list


@runtime_checkable
class NamesWeights(Protocol):
    """``weight_aliases()``: {another layout's tensor name: this network's state-dict key}
    (Paddle 1.x variable names of the zoo's archives, PaddleClas / PaddleDetection /
    PaddleSeg 2.x keys); weight loading looks a name up here when the network lacks it."""

    def weight_aliases(self) -> dict[str, str]: ...


@runtime_checkable
class ConvertsWeights(Protocol):
    """``convert_weights(state)``: a layout that differs by more than names (PaddleDetection
    0.x's background class first), converted to this network's before the renames; other
    layouts are returned unchanged."""

    def convert_weights(self, state: Mapping[str, Any]) -> Mapping[str, Any]: ...


@runtime_checkable
class HasHead(Protocol):
    """``head_prefixes``: state-dict prefixes of the class-count-dependent head; weights
    whose head shape differs (another class count) leave it at its fresh initialisation."""

    head_prefixes: tuple[str, ...]


@runtime_checkable
class DropsUnusedWeights(Protocol):
    """``unused_prefixes``: prefixes of tensors the weights may carry and the network lacks
    (a backbone's classifier head, an auxiliary branch); they are dropped on loading."""

    unused_prefixes: tuple[str, ...]


@runtime_checkable
class GivesExampleInputs(Protocol):
    """``example_inputs(batch)``: the inputs a forward pass takes when they are not one
    image tensor [batch, 3, H, W] (the conformance kit and static-graph checks use them)."""

    def example_inputs(self, batch: int) -> Sequence[Any]: ...


# --- training ----------------------------------------------------------------------


@runtime_checkable
class Detector(Protocol):
    """Required of a detection or instance-segmentation network: ``loss(outputs, *fields)``
    returns a dict whose "loss" is the scalar to minimise; ``postprocess`` is the decoder
    (called with the outputs, the scale factors and the original sizes; ``to_config()``
    records it in deploy.yml, ``strides`` its levels; where it has ``takes_im_info``
    true, predict and evaluate call the network with ``im_info=`` [B, 3] too: each
    image's resized height and width before padding and its resize factor)."""

    postprocess: Any

    def loss(self, outputs: Any, *fields: Any) -> Mapping[str, Any]: ...


@runtime_checkable
class TakesLossFields(Protocol):
    """``loss_fields``: the batch fields ``loss`` takes after the outputs, when not a
    detector's default ``DEFAULT_LOSS_FIELDS`` (Mask R-CNN adds "gt_mask")."""

    loss_fields: tuple[str, ...]


DEFAULT_LOSS_FIELDS = ("gt_bbox", "gt_class", "gt_score")


@runtime_checkable
class WeighsOutputs(Protocol):
    """``loss_weights``: a segmenter whose training forward returns several logits
    (auxiliary heads) weighs each one's loss by these, in order; one output weighs 1."""

    loss_weights: tuple[float, ...]


# --- export ------------------------------------------------------------------------


@runtime_checkable
class NamesOutputs(Protocol):
    """``output_names``: the exported graph's outputs by name (deploy.yml); without it a
    detector exports its raw output levels as level0, level1, ..."""

    output_names: Sequence[str]


@runtime_checkable
class FixesExportBatch(Protocol):
    """``export_batch_size``: the only batch size the export takes (R-CNN's graphs run one
    image at a time)."""

    export_batch_size: int


@runtime_checkable
class NeedsGraphOps(Protocol):
    """``deploy_ops``: operators in the exported graph that not every runtime converts;
    deploy.yml lists them so a runtime that cannot run one refuses with the name."""

    deploy_ops: Sequence[str]


@runtime_checkable
class ExportsGraphs(Protocol):
    """A network exported as several graphs with numpy steps between them (R-CNN):
    ``deploy_graphs(image_shape)`` gives {name: {"layer", "inputs", "outputs"}} and
    ``deploy_pipeline()`` the numpy steps' description for deploy.yml."""

    def deploy_graphs(self, image_shape: Sequence[int | None]) -> dict[str, dict[str, Any]]: ...

    def deploy_pipeline(self) -> dict[str, Any]: ...


@runtime_checkable
class RefusesLegacyExport(Protocol):
    """``legacy_export_refusal``: why the network has no pre-PIR program (what Paddle Lite
    reads); ``export(legacy=True)`` refuses with it."""

    legacy_export_refusal: str


# --- a detector's decoder (its ``postprocess``) ------------------------------------


@runtime_checkable
class TakesImageInfo(Protocol):
    """``takes_im_info = True``: predict and evaluate run the network with ``im_info``
    (each image's resized height and width before padding, and its scale: Paddle 1.x's
    input), so it can clip to the image rather than its padding (R-CNN's decoder)."""

    takes_im_info: bool


@runtime_checkable
class SizesBoxes(Protocol):
    """``box_size_offset``: added to x2 - x1 and y2 - y1 when a box becomes [x, y, w, h].
    1 where the weights' code counted boxes in whole pixels, corners inclusive
    (PaddleDetection 0.x / PaddleX 1.x's R-CNN, whose evaluation and predictions report
    x2 - x1 + 1); 0 otherwise."""

    box_size_offset: float


# What each optional attribute must be, for ``check_network``: (protocol, form, check).
def _strings(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str) and all(
        isinstance(v, str) and v for v in value)


def _weights(value: Any) -> bool:
    return isinstance(value, Sequence) and len(value) > 0 and all(
        isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value)


FORMS: dict[str, tuple[type, str, Any]] = {
    "head_prefixes": (HasHead, "a tuple of state-dict prefixes", _strings),
    "unused_prefixes": (DropsUnusedWeights, "a tuple of tensor-name prefixes", _strings),
    "loss_fields": (TakesLossFields, "a tuple of batch field names", _strings),
    "loss_weights": (WeighsOutputs, "a non-empty tuple of non-negative numbers", _weights),
    "output_names": (NamesOutputs, "a sequence of output names", _strings),
    "export_batch_size": (FixesExportBatch, "a positive int",
                          lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0),
    "deploy_ops": (NeedsGraphOps, "a sequence of operator names", _strings),
    "legacy_export_refusal": (RefusesLegacyExport, "a non-empty string saying why",
                              lambda v: isinstance(v, str) and bool(v.strip())),
    "takes_im_info": (TakesImageInfo, "a bool", lambda v: isinstance(v, bool)),
    "box_size_offset": (SizesBoxes, "0 or 1", lambda v: v in (0, 1) and not isinstance(v, bool)),
}


def declared(net: Any, name: str, default: Any = None) -> Any:
    """The optional attribute ``name`` (a key of ``FORMS``) of ``net``, or ``default`` when
    the network does not declare it."""
    protocol = FORMS[name][0]  # a KeyError here is a misspelt name in pxcore itself
    return getattr(net, name) if isinstance(net, protocol) else default


def check_network(net: Any, label: str) -> list[str]:
    """What is wrong with the contract attributes ``net`` declares (empty when nothing):
    each declared attribute in its documented form, ``weight_aliases()`` mapping onto the
    network's own tensors, the prefixes matching some of them."""
    problems = []
    parts = [(net, label)]
    if isinstance(net, Detector):
        parts.append((net.postprocess, f"{label}'s postprocess"))
    for part, where in parts:
        for name, (_, form, ok) in FORMS.items():
            if hasattr(part, name) and not ok(getattr(part, name)):
                problems.append(f"{where}: {name} must be {form} (pxcore.contract), "
                                f"got {getattr(part, name)!r}")
    state = getattr(net, "state_dict", None)
    keys = set(state()) if callable(state) else set()
    if isinstance(net, HasHead) and keys and _strings(net.head_prefixes):
        if not any(k.startswith(tuple(net.head_prefixes)) for k in keys):
            problems.append(f"{label}: head_prefixes {tuple(net.head_prefixes)} match none of "
                            "the network's tensors")
    if isinstance(net, NamesWeights) and keys:
        aliases = net.weight_aliases()
        unused = tuple(net.unused_prefixes) if isinstance(net, DropsUnusedWeights) else ()
        if not isinstance(aliases, Mapping):
            problems.append(f"{label}: weight_aliases() must return a dict, got "
                            f"{type(aliases).__name__}")
        else:
            strays = sorted(v for v in aliases.values()
                            if v not in keys and not (unused and str(v).startswith(unused)))
            if strays:
                problems.append(f"{label}: weight_aliases() maps onto {len(strays)} names the "
                                f"network does not have, e.g. {strays[:3]}")
    return problems
