"""Every zoo row has a reference check, or is listed in reference/rows.py's UNCHECKED
with its reason."""

from __future__ import annotations

import pytest

from reference.rows import UNCHECKED, catalog, covering

pytestmark = pytest.mark.reference


def test_every_row_has_a_check():
    rows = catalog()
    assert rows, "the zoo catalog is empty: are the plugins installed?"
    problems = []
    for row in rows:
        families = covering(row)
        if len(families) > 1:
            problems.append(f"{row.id}: checked by {families}, one is enough")
        elif not families and row.id not in UNCHECKED:
            problems.append(f"{row.id} ({row.task}, model {row.model!r}): no reference check covers "
                            "it; add its model to a family's map in reference/ or list it in "
                            "reference/rows.py UNCHECKED with the reason")
    ids = {row.id for row in rows}
    problems += [f"UNCHECKED lists {key!r}, which is not a zoo row" for key in UNCHECKED if key not in ids]
    problems += [f"UNCHECKED lists {key!r} without a reason" for key, why in UNCHECKED.items() if not why]
    assert not problems, "\n".join(problems)
