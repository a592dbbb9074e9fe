"""``python -m reference.install [NAME ...]``: unpack the reference packages (all by
default) with ``pip install --no-deps --target`` under ``reference_dir()``.

Needs the package registry (PyPI); nothing else in pxcore does. A folder is marked
complete only after pip succeeded, so an interrupted install is redone."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

from . import PACKAGES, folder, requirement


def install(name: str) -> None:
    root, wanted = folder(name), requirement(name)
    if (root / ".complete").is_file():
        print(f"{wanted}: already in {root}")
        return
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(root), wanted], check=True)
    (root / ".complete").write_text(f"{wanted}\n")
    print(f"{wanted}: installed in {root}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference.install", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"packages to install (default: all of {', '.join(PACKAGES)})")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(PACKAGES))
    if unknown:
        parser.error(f"unknown reference package(s) {', '.join(unknown)}; "
                     f"choose from {', '.join(PACKAGES)}")
    for name in args.names or PACKAGES:
        install(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
