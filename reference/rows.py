"""The zoo rows the reference checks run over, read from pxcore's catalog (so a new row
gets a check, or fails reference/tests/test_reference_coverage.py, without anyone
editing a list of ids)."""

from __future__ import annotations

# Rows no check covers, with the reason (the coverage test fails for any other row
# without a check). Empty: every row has one.
UNCHECKED: dict[str, str] = {}


def rows_of(task: str) -> list:
    """The catalog's rows of ``task``, in catalog order."""
    import pxcore

    return [row for row in pxcore.zoo.catalog() if row.task == task]
