"""Name matching shared by the registry, the zoo catalog and the CLI."""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable


def normalize(name: str) -> str:
    """Case and spaces do not tell zoo names apart: ``densenet121`` is ``DenseNet121`` and
    ``FasterRCNN - HRNet_W18-FPN`` is ``FasterRCNN-HRNet_W18-FPN``. Underscores and
    hyphens do, so ``ResNet50vd`` is not ``ResNet50_vd``."""
    return re.sub(r"\s+", "", name).lower()


def closest(name: str, candidates: Iterable[str], n: int = 5) -> list[str]:
    """The candidates most like ``name``, best first."""
    by_norm: dict[str, str] = {}
    for candidate in candidates:
        by_norm.setdefault(normalize(candidate), candidate)
    matches = difflib.get_close_matches(normalize(name), list(by_norm), n=n, cutoff=0.6)
    return [by_norm[m] for m in matches]


def matches(name: str, pattern: str | None) -> bool:
    """Shell-style wildcard match, ignoring case (``ResNet*``, ``*_ssld``)."""
    return pattern is None or fnmatch.fnmatchcase(name.lower(), pattern.lower())


def natural_key(name: str):
    """Sort ResNet18 before ResNet101."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]
