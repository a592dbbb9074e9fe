"""The exceptions pxcore raises. Each message names the thing and the fix."""

from __future__ import annotations


class PxError(Exception):
    """Base of every error pxcore raises on purpose."""


class UnknownNameError(PxError, KeyError):
    """A name that no registry (and no zoo row) knows.

    Also a KeyError so that ``name in``-style callers that catch KeyError keep working.
    """

    def __init__(self, message: str, *, name: str = "", kind: str = "", suggestions=()):
        super().__init__(message)
        self.name = name
        self.kind = kind
        self.suggestions = tuple(suggestions)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class PluginNotInstalledError(UnknownNameError):
    """A zoo model whose providing plugin distribution is not installed."""

    def __init__(self, message: str, *, name: str = "", kind: str = "", packages=()):
        super().__init__(message, name=name, kind=kind)
        self.packages = tuple(packages)


class DuplicateNameError(PxError):
    """Two plugins registered the same name for the same kind of part."""


class SpecError(PxError):
    """A spec that is malformed, or whose factory cannot be imported or called."""


class PluginError(PxError):
    """A plugin that failed to import or whose registration hook raised."""


class ConfigError(PxError):
    """A config dict or YAML file that cannot be built."""


class WeightsError(PxError):
    """A weight file that is missing, unreadable, unsafe, or does not fit the model."""


class IncompatiblePartsError(PxError):
    """Parts that cannot be composed: a head needs a feature level (a stride) or an
    ability (running a stage on its own) that the backbone does not have."""
