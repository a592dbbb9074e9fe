"""Each bench script owns one section of bench/RESULTS.md, between its own markers.

    write_section(BEGIN, END, section)   # section: the whole text, markers included

RESULTS.md is read right before writing (other scripts write their sections too); a
section not there yet is appended. ``cpu_name`` and ``load_average`` are what each
section says of the machine it measured on.
"""

from __future__ import annotations

import platform
import re
import subprocess
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def write_section(begin: str, end: str, section: str) -> Path:
    text = RESULTS.read_text()
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text)
    return RESULTS


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        name = re.search(r"Model name:\s*(.+)", out)
        return name.group(1).strip() if name else platform.processor()
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown CPU"


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages now, as "a, b, c"."""
    try:
        return ", ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"
