"""The fault-injection suite's report: each test records one line `fault, claims, lost, duplicated, seconds`,
printed as it happens and again together at the end of the run (so CI logs show the table even with
output captured). CLAIMS_RELIABILITY_REPORT=path also appends them there as CSV (docs/RELIABILITY.md)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest

from tests.reliability.harness import Tally

HEADER = "fault, claims, lost, duplicated, seconds"

Report = Callable[[str, Tally, float], str]


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Iterator[Report]:
    def record(fault: str, t: Tally, started: float) -> str:
        line = f"{fault}, {t.claims}, {t.lost}, {t.duplicated}, {time.monotonic() - started:.1f}"
        request.node.user_properties.append(("fault", line))  # tests/conftest.py prints the table
        print(f"\n{HEADER}\n{line}")
        path = os.environ.get("CLAIMS_RELIABILITY_REPORT")
        if path:
            new = not os.path.exists(path)
            with open(path, "a") as out:
                out.write((HEADER + "\n" if new else "") + line + "\n")
        return line

    yield record


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # One pytest-xdist worker runs the whole fault suite, one test at a time: the faults are real (a killed
    # worker, a database refusing connections) and timed, and two at once would only measure each other.
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.xdist_group("reliability"))
