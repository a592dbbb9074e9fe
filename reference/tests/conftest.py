"""The measured differences of every reference check, printed at the end of the run
(README's "Reference checks" quotes them)."""

from __future__ import annotations

import pytest

_MEASURED: list[tuple[str, dict[str, float]]] = []


@pytest.fixture
def measured(request):
    """``measured(differences)`` records a check's differences under the test's id."""
    def record(differences: dict[str, float]) -> None:
        _MEASURED.append((request.node.callspec.id, dict(differences)))
    return record


def pytest_terminal_summary(terminalreporter):
    if not _MEASURED:
        return
    terminalreporter.section("reference checks: max |pxcore - reference| / max |reference|")
    for row, differences in _MEASURED:
        terminalreporter.write_line(
            f"{row}: " + ", ".join(f"{how} {value:.2g}" for how, value in differences.items()))
