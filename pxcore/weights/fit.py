"""Fitting a state to a network: renaming it to the network's keys (its aliases and
conversion), leaving out what the network does not use, re-initialising a head of
another shape, naming every tensor that does not fit, and loading it."""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..contract import ConvertsWeights, NamesWeights, declared
from ..errors import WeightsError
from .formats import read_state

logger = logging.getLogger("pxcore")

# Training bookkeeping that legacy archives sometimes carry beside the weights.
_BOOKKEEPING = re.compile(r"(@LR_DECAY_COUNTER@|learning_rate_\d+|.*_velocity_\d+|"
                          r".*_moment\d*_\d+|.*_beta\d_pow_acc_\d+)$")


class WeightsReport(list):
    """What loading did: the notes (sentences, each also logged; the list ``load_weights``
    returns) and ``left_at_init``, the network's tensors the weights did not set, which
    keep their initial values: a head re-initialised for another class count, and with
    ``partial=True`` every tensor the weights lack. A list, so that callers reading the
    notes keep working."""

    def __init__(self, notes: Iterable[str] = (), left_at_init: Iterable[str] = ()) -> None:
        super().__init__(notes)
        self.left_at_init: tuple[str, ...] = tuple(left_at_init)


def fit_state(net: Any, state: Mapping[str, np.ndarray], source: str, *,
              reinit_head: bool = True,
              partial: bool = False) -> tuple[dict[str, np.ndarray], WeightsReport]:
    """Rename ``state`` to the network's keys and check that it fits.

    A network with ``convert_weights(state)`` converts the state first (tensors another
    layout stores differently, not only under other names). Names the network does not
    use are then looked up in ``net.weight_aliases()`` (a map from another layout's
    names to the network's, e.g. Paddle 1.x variable names).
    Tensors under ``net.head_prefixes`` whose shape differs (another class count) are
    left out so the head keeps its fresh initialisation. Tensors under
    ``net.unused_prefixes`` that the network lacks are dropped: a backbone declares its
    classifier's head there, so it loads that classifier's checkpoint.
    With ``partial=True`` the network's tensors that the weights lack keep their initial
    values and are reported (a backbone's weights under a head they never had); the
    weights' own tensors must still all fit. Returns the state to load and a
    ``WeightsReport``; raises naming every tensor that does not fit.
    """
    # A layout that differs by more than names (PaddleDetection 0.x puts R-CNN's
    # background class first) is converted by the network first; it passes the others.
    if isinstance(net, ConvertsWeights):
        state = net.convert_weights(state)
    expected = {k: tuple(int(d) for d in v.shape) for k, v in net.state_dict().items()}
    aliases = net.weight_aliases() if isinstance(net, NamesWeights) else {}
    renamed: dict[str, np.ndarray] = {}
    notes: list[str] = []
    skipped = []
    for key, value in state.items():
        ours = key if key in expected else aliases.get(key)
        if ours is None and _BOOKKEEPING.match(key):
            skipped.append(key)
            continue
        ours = ours or key
        if ours in renamed:
            raise WeightsError(f"weights {source!r}: {key!r} and another entry both map to {ours!r}")
        renamed[ours] = value
    if skipped:
        notes.append(f"ignored {len(skipped)} training bookkeeping entries ({', '.join(skipped[:3])}...)")
    unused = tuple(declared(net, "unused_prefixes", ()))
    dropped = [k for k in renamed if k not in expected and unused and k.startswith(unused)]
    if dropped:
        for key in dropped:
            del renamed[key]
        notes.append(f"left out {len(dropped)} tensors this network does not use "
                     f"({', '.join(sorted(dropped)[:4])}{'...' if len(dropped) > 4 else ''})")
    head = tuple(declared(net, "head_prefixes", ()))
    left_at_init: list[str] = []
    if reinit_head and head:
        reset = [k for k, v in renamed.items()
                 if k in expected and k.startswith(head) and tuple(np.shape(v)) != expected[k]]
        if reset:
            shapes = ", ".join(f"{k} {list(np.shape(renamed[k]))} -> {list(expected[k])}" for k in reset)
            notes.append(f"the head's shapes differ from the weights' (another class count, "
                         f"or another head), so it was re-initialised ({shapes})")
            for key in reset:
                del renamed[key]
                expected.pop(key)
            left_at_init += reset
    if partial:
        missing = sorted(set(expected) - set(renamed))
        if not set(renamed) & set(expected):
            raise WeightsError(
                f"weights {source!r} hold none of {type(net).__name__}'s tensors under its "
                "names or its known aliases, so partial=True would load nothing; check that "
                "they are for this model")
        if missing:
            total = len(net.state_dict())
            notes.append(f"partial=True: {len(missing)} of the network's {total} tensors are "
                         f"not in the weights and keep their initial values: {', '.join(missing)}")
            for key in missing:
                expected.pop(key)
            left_at_init += missing
    check_fit(expected, renamed, source, type(net).__name__)
    return renamed, WeightsReport(notes, left_at_init)


def check_fit(expected: Mapping[str, tuple], state: Mapping[str, Any], source: str,
              owner: str = "the model") -> None:
    """Raise naming every missing, unexpected and wrongly shaped tensor, if any."""
    given = {k: tuple(np.shape(v)) for k, v in state.items()}
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    wrong = sorted(k for k in set(expected) & set(given) if tuple(expected[k]) != given[k])
    if not (missing or unexpected or wrong):
        return
    lines = [f"weights {source!r} do not fit {owner}:"]
    for key in wrong:
        lines.append(f"  shape of {key}: file {list(given[key])}, model {list(expected[key])}")
    for key in missing:
        lines.append(f"  missing from the file: {key} {list(expected[key])}")
    for key in unexpected:
        lines.append(f"  not in the model: {key} {list(given[key])}")
    if missing and not (unexpected or wrong):
        # Every tensor of the file fits: it may cover part of the network on purpose.
        lines.append(
            f"The weights' {len(given)} tensors all fit, and {len(missing)} are missing. If "
            "they are meant to cover only part of the model (a backbone's weights under another "
            "head), pass partial=True to load them and keep the missing tensors at their "
            "initial values (listed in the report it returns and logs).")
    else:
        lines.append("Check that the weights are for this model and variant.")
    raise WeightsError("\n".join(lines))


def load_weights(net: Any, path: str | os.PathLike, *, reinit_head: bool = True,
                 state: Mapping[str, np.ndarray] | None = None,
                 partial: bool = False) -> WeightsReport:
    """Load weights from any layout ``read_state`` reads into ``net`` (``state``: the
    tensors already read from ``path``). Every tensor of the file is placed and every
    tensor of the network is set (but a re-initialised head).

    ``partial=True`` loads weights that cover only part of the network (a zoo archive's
    backbone under a head it was not trained with): every tensor of the file must still
    fit, and the network's tensors the file lacks keep their initial values. Without it
    such weights are refused, naming what is missing. Returns a ``WeightsReport``: the
    notes (also logged) and ``left_at_init``, the tensors the weights did not set."""
    state, notes = fit_state(net, read_state(path) if state is None else state, str(path),
                             reinit_head=reinit_head, partial=partial)
    current = net.state_dict()
    with warnings.catch_warnings():  # Paddle warns per re-initialised tensor; we noted them
        warnings.filterwarnings("ignore", message="Skip loading for")
        net.set_state_dict({k: np.asarray(v).astype(str(current[k].numpy().dtype), copy=False)
                            for k, v in state.items()})
    for note in notes:
        logger.warning("%s: %s", path, note)
    return notes
