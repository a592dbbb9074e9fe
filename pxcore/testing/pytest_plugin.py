"""pxcore's pytest plugin: the fixtures and helpers every plugin's test suite shares.

pytest loads it through the ``pytest11`` entry point of pxcore's distribution, so any
suite run where pxcore is installed (ours under plugins/, a third party's) has the
fixtures without a conftest; the helpers are imported from here. Loading it imports
neither paddle nor numpy: they are imported when a fixture or helper runs.

Fixtures: ``scratch``. Helpers: ``conformance_test``, ``by_model``, ``slow_marks``,
``runtime_round_trips``, ``layout_manifests``, ``check_entry_point``, ``check_classifier_presets``,
``check_segmenter_preset``, ``check_parameter_count``, ``check_weights_refused``,
``save_pdparams``, ``write_legacy_archive``, ``check_backbone_takes_classifier_weights``,
``check_backbone_takes_legacy_archive`` and ``check_detector_export``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

SlowNames = bool | Collection[str] | Callable[[str], bool]


def pytest_configure(config):
    # by_model and conformance_test mark big networks slow: a suite run on its own
    # (not under pxcore's pyproject, which declares it) knows the marker too
    config.addinivalue_line("markers", "slow: end-to-end tests that take more than a few seconds")


@pytest.fixture
def scratch(tmp_path):
    """``tmp_path``, removed when the test ends, passed or failed: for weight files of
    hundreds of MB that a failed test's kept folder would pile up."""
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


# --- parameters -----------------------------------------------------------------------

def slow_marks(name: str, slow: SlowNames = ()) -> list:
    """``[pytest.mark.slow]`` where ``slow`` (True for all, names, or a test on a name)
    names ``name``."""
    is_slow = slow if isinstance(slow, bool) else slow(name) if callable(slow) else name in slow
    return [pytest.mark.slow] if is_slow else []


def by_model(names: Iterable[str], slow: SlowNames = ()) -> list:
    """pytest params, one per model name, id'd by it, the ``slow`` ones marked slow."""
    return [pytest.param(name, id=name, marks=slow_marks(name, slow)) for name in names]


def conformance_test(distribution: str, slow: SlowNames = (), leave_out: Collection[str] = (),
                     only: Callable[[Any], bool] | None = None):
    """The conformance test of a plugin, one case per spec it registers (its
    ``pxcore.testing.check_spec`` checks), the ``slow`` specs marked slow, the
    ``leave_out`` ones (names: a weight variant building exactly another spec's network)
    and those ``only(spec)`` refuses not run. In a test module:
    ``test_conformance = conformance_test("my-plugin")``."""
    from . import check_spec, conformance_params

    params = [pytest.param(*p.values, id=p.id, marks=[*p.marks, *slow_marks(p.values[0].name, slow)])
              for p in conformance_params(distribution)
              if p.values[0].name not in leave_out and (only is None or only(p.values[0]))]

    @pytest.mark.parametrize("spec", params)
    def test_conformance(spec):
        check_spec(spec)

    return test_conformance


def runtime_round_trips(net_fixture: str, shapes: Iterable[tuple[int, int, int, int]]):
    """A network's export tests: a module-scoped ``exported`` fixture (the network that
    the fixture ``net_fixture`` gives, through to_static with dynamic sizes, its outputs
    the eager ones at every size of ``shapes``, then paddle.jit.save: (folder, images,
    eager outputs)), and two tests on it: Paddle Inference with oneDNN, and ONNX Runtime
    through paddle2onnx (slow; skipped without onnxruntime or pxcore-runtime-onnx), each
    giving the eager outputs at every size. In a test module::

        exported, test_paddle_inference_round_trip, test_onnx_runtime_round_trip = \\
            runtime_round_trips("net", [(1, 3, 64, 96), (2, 3, 96, 64)])
    """
    shapes = [tuple(shape) for shape in shapes]

    @pytest.fixture(scope="module")
    def exported(request, tmp_path_factory):
        import numpy as np

        from .runtimes import save_dynamic

        net = request.getfixturevalue(net_fixture)
        images = [np.random.default_rng(i).random(shape, np.float32) for i, shape in enumerate(shapes)]
        folder = tmp_path_factory.mktemp(f"{net_fixture}-export")
        return folder, images, save_dynamic(net, images, folder)

    def test_paddle_inference_round_trip(exported):
        from .runtimes import check_outputs, paddle_inference_outputs

        folder, images, eager = exported
        check_outputs(paddle_inference_outputs(folder, images), eager, "Paddle Inference")

    @pytest.mark.slow  # paddle2onnx in a child process: 5-10 s
    def test_onnx_runtime_round_trip(exported):
        pytest.importorskip("onnxruntime")
        pytest.importorskip("pxcore_runtime_onnx")
        from .runtimes import check_outputs, onnx_runtime_outputs

        folder, images, eager = exported
        check_outputs(onnx_runtime_outputs(folder, images), eager, "ONNX Runtime")

    return exported, test_paddle_inference_round_trip, test_onnx_runtime_round_trip


# --- registration ---------------------------------------------------------------------

def check_entry_point(distribution: str, provides: Mapping[str, list[str]], zoo: list[str] | None = None):
    """The plugin was found through its ``pxcore.plugins`` entry point (not registered
    by hand), loaded without error and registered exactly ``provides`` (kind -> names,
    in order) and, if given, the zoo rows ``zoo``. Returns its record."""
    from ..plugins import plugin_records

    records = plugin_records()
    record = next((r for r in records if r.name == distribution), None)
    assert record is not None, (
        f"no plugin {distribution!r} among {[r.name for r in records]}: install it "
        "(pip install -e <its folder>) so that its entry point is seen")
    assert record.source == "entry-point", (
        f"{distribution} was registered from {record.source!r}, not found through its entry point")
    assert record.ok, f"{distribution} failed to load: {record.error}"
    assert record.provides == dict(provides), f"{distribution} registers {record.provides}"
    if zoo is not None:
        assert record.zoo == zoo, f"{distribution} registers the zoo rows {record.zoo}"
    return record


def check_classifier_presets(names: Iterable[str], input_size: int = 224, num_classes: int = 1000) -> None:
    """Each name is a classification preset that PaddleX knows by that class name, at
    ImageNet's defaults (``num_classes`` classes, ``input_size`` px)."""
    from ..plugins import get_registry

    for name in names:
        spec = get_registry().get("model", name)
        assert spec.task == "classification" and spec.paddlex == {"class": name}, name
        assert spec.defaults["num_classes"] == num_classes and spec.metadata["input_size"] == input_size, name


def check_segmenter_preset(name: str, distribution: str, paddlex: Mapping, input_size: int):
    """``name`` is a semantic segmentation preset of ``distribution`` that PaddleX knows
    as ``paddlex``, trained at ``input_size`` px, tested at a multiple of 32, on images
    normalised by mean and std 0.5 (PaddleSeg's). Returns its spec."""
    from ..plugins import get_registry

    spec = get_registry().get("model", name)
    assert spec.distribution == distribution and spec.task == "semantic_segmentation", (
        f"{name}: a {spec.task} preset of {spec.distribution}")
    assert spec.paddlex == dict(paddlex), f"{name}: PaddleX's description is {spec.paddlex}"
    meta = spec.metadata
    assert meta["input_size"] == input_size and meta["test_input_size"] % 32 == 0, (
        f"{name}: input_size {meta['input_size']}, test_input_size {meta['test_input_size']}")
    assert meta["mean"] == meta["std"] == [0.5] * 3, f"{name}: mean {meta['mean']}, std {meta['std']}"
    return spec


# --- building and weights -------------------------------------------------------------

def layout_manifests(test_file: str | Path) -> Callable[[str], dict]:
    """``manifest_for(name)``: the layout manifest ``layouts/<name>.json`` beside the test
    module ``test_file`` (its ``__file__``), read by ``pxcore.testing.layouts.load_manifest``
    (a fresh dict each call). In a test module: ``manifest_for = layout_manifests(__file__)``."""
    folder = Path(test_file).parent / "layouts"

    def manifest_for(name: str) -> dict:
        from .layouts import load_manifest

        return load_manifest(folder / f"{name}.json")

    return manifest_for


def check_parameter_count(name: str, expected: int, manifest: Mapping) -> None:
    """The preset ``name`` (its defaults) has ``expected`` values, BatchNorm statistics
    included, as the layout manifest's ``pdparams`` has: counted on shapes only
    (``paddle.LazyGuard``, no values initialised)."""
    import paddle

    from ..api import create_model
    from .layouts import manifest_parameter_count

    with paddle.LazyGuard():
        count = create_model(name).num_parameters()
    assert count == expected == manifest_parameter_count(manifest), (
        f"{name}: {count} values built, {expected} expected, "
        f"{manifest_parameter_count(manifest)} in the manifest")


def check_weights_refused(name: str, *parts: str, **model_args: Any) -> str:
    """``create_model(name, **model_args)`` (a ``pretrained=`` that does not fit) raises
    WeightsError, and its message holds every one of ``parts``; returns the message."""
    from ..api import create_model
    from ..errors import WeightsError

    with pytest.raises(WeightsError) as failure:
        create_model(name, **model_args)
    message = str(failure.value)
    for part in parts:
        assert part in message, f"{part!r} is not in the message:\n{message}"
    return message


def save_pdparams(state: Mapping[str, Any], path: Path) -> Path:
    """``state`` (name -> numpy array or tensor) as a .pdparams at ``path``; returns it."""
    import paddle

    paddle.save({key: paddle.to_tensor(value) for key, value in state.items()}, str(path))
    return Path(path)


def write_legacy_archive(folder: Path, aliases: Mapping[str, str], state: Mapping[str, Any]) -> Path:
    """A Paddle 1.x per-variable archive in ``folder`` (created): one file per legacy
    name of ``aliases`` (legacy name -> tensor name) holding ``state``'s tensor."""
    from ..weights import write_legacy_tensor

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for legacy, key in aliases.items():
        write_legacy_tensor(folder / legacy, state[key])
    return folder


def check_backbone_takes_classifier_weights(name: str, folder: Path, *, legacy: str | None = None,
                                            head: tuple[str, ...] = (), aliases: Mapping[str, str] | None = None,
                                            **backbone_args: Any) -> None:
    """``create_backbone(name, pretrained=...)`` takes a 10-class classifier's
    checkpoint (written in ``folder``): every tensor of the backbone holds the
    classifier's value. ``legacy="archive"`` also gives it the classifier as a Paddle 1.x
    per-variable archive, ``legacy="pdparams"`` as a .pdparams keyed by the legacy names
    (``aliases``, by default the classifier's ``weight_aliases()``). With ``head`` (the
    prefixes of the classifier's own tensors) the backbone has exactly the others."""
    import numpy as np
    import paddle

    from ..api import create_backbone, create_model

    classifier = create_model(name, num_classes=10).net
    state = {key: value.numpy() for key, value in classifier.state_dict().items()}
    sources = [Path(folder) / "classifier.pdparams"]
    paddle.save(classifier.state_dict(), str(sources[0]))
    aliases = classifier.weight_aliases() if aliases is None else aliases
    if legacy == "archive":
        sources.append(write_legacy_archive(Path(folder) / "legacy", aliases, state))
    elif legacy == "pdparams":
        sources.append(save_pdparams({old: state[key] for old, key in aliases.items()},
                                     Path(folder) / "paddle1.pdparams"))
    elif legacy is not None:
        raise ValueError(f"legacy={legacy!r}: use 'archive', 'pdparams' or None")
    for source in sources:
        loaded = create_backbone(name, pretrained=source, **backbone_args).state_dict()
        if head:
            expected = {key for key in state if not key.startswith(head)}
            assert set(loaded) == expected, (
                f"{source}: the backbone differs from the classifier less its head {head} in "
                f"{sorted(set(loaded) ^ expected)}")
        for key, value in loaded.items():
            np.testing.assert_array_equal(value.numpy(), state[key])


def check_backbone_takes_legacy_archive(name: str, manifest: Mapping, folder: Path, head: tuple[str, ...]) -> None:
    """The backbone takes its classifier's Paddle 1.x archive (every variable of the
    manifest's ``legacy``, the head's included, each filled with its own index so that a
    misplaced tensor shows): it has exactly the tensors not under ``head`` and each holds
    the value written for it."""
    import numpy as np

    from ..api import create_backbone

    value_of = {key: index for index, key in enumerate(manifest["legacy"].values())}
    state = {key: np.full(manifest["pdparams"][key], index, "float32") for key, index in value_of.items()}
    write_legacy_archive(folder, manifest["legacy"], state)
    loaded = create_backbone(name, pretrained=folder).state_dict()
    expected = {key for key in value_of if not key.startswith(head)}
    assert set(loaded) == expected, (
        f"the backbone differs from the classifier less its head {head} in {sorted(set(loaded) ^ expected)}")
    for key, value in loaded.items():
        assert np.all(value.numpy() == value_of[key]), key


# --- detectors --------------------------------------------------------------------------

def check_detector_export(model, folder: Path, keep_top_k: int, size: int = 64, runtime: str = "onnxruntime",
                          images: int = 2) -> None:
    """``model`` (a detector built with ``keep_top_k`` and score threshold 0, its eval
    transforms set to a resize to ``size`` and normalisation) exported to ``folder`` and
    run by ``runtime`` gives ``model.predict``'s detections on ``images`` seeded 48 x 80
    images, and some: scores within 1e-3, corners within 0.1 px."""
    import numpy as np

    from .. import transforms as T
    from ..inference.predictor import Predictor
    from .detections import assert_same_detection_lists

    model.eval_transforms = T.Compose([T.Resize(size), T.Normalize()])
    inputs = [np.random.default_rng(i).integers(0, 255, (48, 80, 3), dtype=np.uint8) for i in range(images)]
    expected = model.predict(inputs)
    predictor = Predictor(model.export(Path(folder) / "inference"), runtime=runtime)
    assert predictor.runtime == runtime, f"the export ran on {predictor.runtime}, not {runtime}"
    assert_same_detection_lists(predictor.predict(inputs), expected, require_nonempty=True, threshold=0.0,
                                keep_top_k=keep_top_k, score_atol=1e-3, coord_atol=0.1)
