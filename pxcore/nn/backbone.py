"""The Backbone base class: a network that returns several feature levels and says what
each one is, so that necks and heads can be built from that report."""

from __future__ import annotations

from collections.abc import Sequence

import paddle

from ..errors import IncompatiblePartsError, PxError
from .features import FeatureInfo


def tap_levels(x, blocks, taps, hidden_taps=()) -> list:
    """Run ``blocks`` in order on ``x`` and return the outputs of the blocks whose index
    is in ``taps``: the feature levels of a chain of blocks. A block whose index is in
    ``hidden_taps`` runs as ``block.forward_with_hidden(x)`` -> (output, hidden) and
    gives its hidden map as the level instead (an inverted residual's expanded
    depthwise output, the map DeepLabv3+ decodes from)."""
    levels = []
    for index, block in enumerate(blocks):
        if index in hidden_taps:
            x, hidden = block.forward_with_hidden(x)
            levels.append(hidden)
            continue
        x = block(x)
        if index in taps:
            levels.append(x)
    return levels


class Backbone(paddle.nn.Layer):
    """Subclasses set ``self.feature_info`` (every level, shallow to deep) in ``__init__``
    and implement ``forward_features(x)`` returning one tensor per level. ``forward``
    returns the levels picked by ``out_indices`` (default: all), negative indices allowed.
    """

    feature_info: list[FeatureInfo]

    def __init__(self, out_indices: Sequence[int] | None = None) -> None:
        super().__init__()
        self._requested_out_indices = None if out_indices is None else tuple(out_indices)

    @property
    def out_indices(self) -> tuple[int, ...]:
        levels = len(self.feature_info)
        if self._requested_out_indices is None:
            return tuple(range(levels))
        picked = []
        for index in self._requested_out_indices:
            if not isinstance(index, int) or not -levels <= index < levels:
                names = ", ".join(f"{i}={f.name}" for i, f in enumerate(self.feature_info))
                raise PxError(
                    f"{type(self).__name__}: out_indices {self._requested_out_indices} asks for "
                    f"level {index!r}; it has {levels} levels ({names}); negative indices count "
                    "from the deepest"
                )
            picked.append(index % levels)
        return tuple(picked)

    @property
    def out_features(self) -> list[FeatureInfo]:
        """The levels ``forward`` returns: name, channels, stride."""
        return [self.feature_info[i] for i in self.out_indices]

    def select_strides(self, strides: Sequence[int], consumer: str) -> list[FeatureInfo]:
        """Return only the levels at ``strides`` from now on (the deepest level of each
        stride, as a dilated backbone repeats its last stride) and report them: how a
        neck or head picks what it needs, as detectron2's ``in_features`` do by name.
        ``consumer`` names the part asking, for the error when a stride is missing."""
        picked, missing = [], []
        for stride in strides:
            at = [i for i, info in enumerate(self.feature_info) if info.stride == stride]
            (picked.append(at[-1]) if at else missing.append(stride))
        if missing:
            report = ", ".join(f"{f.name} (stride {f.stride}, {f.channels} ch)"
                               for f in self.feature_info)
            raise IncompatiblePartsError(
                f"{consumer} needs backbone levels at strides {list(strides)}, and "
                f"{type(self).__name__} has none at stride {', '.join(map(str, missing))}: "
                f"it reports {report}. Use a backbone that reports those strides, or "
                "backbone_args that change its strides")
        self._requested_out_indices = tuple(picked)
        return self.out_features

    def forward_features(self, x):  # pragma: no cover - the subclass's job
        raise NotImplementedError(f"{type(self).__name__} must implement forward_features(x)")

    def forward(self, x):
        levels = self.forward_features(x)
        return [levels[i] for i in self.out_indices]
