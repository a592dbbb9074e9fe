"""Each bench script owns one section of bench/RESULTS.md, between its own markers.

    write_section(BEGIN, END, section)   # section: the whole text, markers included

RESULTS.md is read right before writing (other scripts write their sections too); a
section not there yet is appended.
"""

from __future__ import annotations

import re
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
