"""Reference code read from a git clone's history: the Paddle 1.x-era files (PaddleClas
release/static and release/2.x, PaddleX release/1.3) that no installable package holds.
The tools take the clone as an argument and record the commit that last changed each
file, so a manifest says exactly which code it was checked against."""

from __future__ import annotations

import subprocess
import types
from pathlib import Path

from .loader import load_module


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


def last_commit(repo: Path, branch: str, *paths: str) -> str:
    """The commit on ``branch`` that last changed any of ``paths``."""
    return git(repo, "log", "-1", "--format=%H", branch, "--", *paths).strip()


def git_file(repo: Path, branch: str, path: str) -> tuple[str, str]:
    """The file's text on ``branch`` and the commit that last changed it there."""
    return git(repo, "show", f"{branch}:{path}"), last_commit(repo, branch, path)


def module_from_text(text: str, name: str, workdir: Path) -> types.ModuleType:
    """``text`` imported as the module ``name`` (written to ``workdir`` first)."""
    path = Path(workdir) / f"{name}.py"
    path.write_text(text)
    return load_module(name, path)


def git_tree(repo: Path, branch: str, files: dict[str, str], package: Path) -> str:
    """Write ``files`` ({path in the package: path in the repo}) of ``branch`` as a Python
    package; returns the commit that last changed any of them."""
    for inside, path in files.items():
        target = package / inside
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(git(repo, "show", f"{branch}:{path}"))
    for folder in [package, *(p for p in package.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()
    return last_commit(repo, branch, *files.values())
