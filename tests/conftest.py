"""Core tests run against the builtin plugin plus what each test registers: entry-point
autoloading is off, so installing a plugin in the environment never changes them.
A test that wants the installed plugins marks itself ``uses_installed_plugins``."""

from __future__ import annotations

import pytest

import pxcore.plugins
from pxcore.plugins import ENV_DISABLE, ENV_DISABLE_AUTOLOAD, ENV_EXTRA


def pytest_configure(config):
    config.addinivalue_line("markers", "uses_installed_plugins: load entry-point plugins")


@pytest.fixture(autouse=True)
def isolated_plugins(request, monkeypatch):
    for var in (ENV_DISABLE, ENV_EXTRA):
        monkeypatch.delenv(var, raising=False)
    if request.node.get_closest_marker("uses_installed_plugins"):
        monkeypatch.delenv(ENV_DISABLE_AUTOLOAD, raising=False)
    else:
        monkeypatch.setenv(ENV_DISABLE_AUTOLOAD, "1")
    pxcore.plugins.reset()
    yield
    pxcore.plugins.reset()


@pytest.fixture
def good_plugin():
    import fixture_plugins

    return pxcore.register_plugin(fixture_plugins.Good(), name="fixture-good")


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory):
    """scikit-learn's real digits as an ImageNet-format data set of 16 px images."""
    from pxcore.datasets.digits import write_digits
    from pxcore.datasets.split import split_image_folders

    root = tmp_path_factory.mktemp("digits")
    write_digits(root, size=16)
    split_image_folders(root, val=0.2, test=0.1, seed=0)
    return root


@pytest.fixture
def digits(digits_dir):
    """(train, val) data sets of the digits, normalised, no augmentation."""
    from pxcore import datasets, transforms

    t = transforms.Compose([transforms.Normalize()])
    labels = digits_dir / "labels.txt"
    return (datasets.ImageNet(digits_dir, digits_dir / "train_list.txt", labels, t, shuffle=True),
            datasets.ImageNet(digits_dir, digits_dir / "val_list.txt", labels, t))


@pytest.fixture(scope="module")
def cls_export(tmp_path_factory):
    """The px serve tests' classifier export (serve_exports.export_classifier)."""
    from serve_exports import export_classifier

    return export_classifier(tmp_path_factory.mktemp("serve") / "cls")
