"""The loop tracker: each segment finds its loop, or the file is refused with the reason."""

from __future__ import annotations

import re

import pytest

from claims_tasks.x12 import loops
from claims_tasks.x12.loops import LoopError, LoopTracker

HEAD = ["BHT", "NM1*41", "PER", "NM1*40", "HL*20", "NM1*85", "N3", "N4", "HL*22", "SBR", "NM1*IL", "NM1*PR"]


def walk(keys: list[str], root_factory=loops.professional) -> list[str]:
    tracker = LoopTracker(root_factory())
    return [tracker.step(key).id for key in keys]


def test_segments_land_in_their_loops() -> None:
    claim = ["CLM", "HI", "NM1*82", "PRV", "LX", "SV1", "DTP", "NM1*82", "LX", "SV1"]
    keys = [*HEAD, *claim, "HL*23", "PAT", "NM1*QC", "CLM"]
    assert walk(keys) == [
        "header", "1000A", "1000A", "1000B", "2000A", "2010AA", "2010AA", "2010AA", "2000B", "2000B",
        "2010BA", "2010BB", "2300", "2300", "2310B", "2310B", "2400", "2400", "2400", "2420A", "2400",
        "2400", "2000C", "2000C", "2010CA", "2300",
    ]  # fmt: skip


def test_the_same_key_means_another_loop_in_837i() -> None:
    keys = [*HEAD, "CLM", "NM1*71", "NM1*82", "LX", "SV2", "NM1*82"]
    assert walk(keys, loops.institutional)[-6:] == ["2300", "2310A", "2310D", "2400", "2400", "2420C"]


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        ([*HEAD, "CLM", "NM1*XX"], "unexpected segment NM1*XX in loop 2300"),
        ([*HEAD, "CLM", "SV1"], "unexpected segment SV1 in loop 2300"),
        ([*HEAD, "CLM", "NM1*82", "NM1*DN"], "loop 2310A (referring provider) is out of order"),
        ([*HEAD, "CLM", "LX", "SV1", "SBR"], "loop 2320 (other subscriber information) is out of order"),
        ([*HEAD, "CLM", "NM1*82", "HI"], "HI belongs to loop 2300 (claim information) but comes after"),
        ([*HEAD[:4], "BHT"], "BHT belongs to loop header"),
        ([*HEAD, "DMG"], "unexpected segment DMG in loop 2010BB"),
    ],
)
def test_unknown_and_out_of_order_loops_are_refused(keys: list[str], reason: str) -> None:
    with pytest.raises(LoopError, match=re.escape(reason)):
        walk(keys)
