from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from claims_tasks.rules import RuleContext, validate_claim

from .builders import CTX, TODAY, case, check, make_claim, with_line

V, DQ = "validation", "data_quality"


def filed(received: datetime, **changes) -> object:
    """The valid claim with a service period a year back, received at `received`."""
    claim = make_claim(service_from=date(2024, 6, 1), service_to=date(2024, 6, 2), received_at=received)
    lines = tuple(replace(ln, service_date=date(2024, 6, 1 + i)) for i, ln in enumerate(claim.lines))
    return replace(claim, lines=lines, **changes)


FAILING = [
    case(make_claim(service_from=date(2025, 6, 3)), [("DATE_RANGE_INVERTED", V, "service_from")], "inverted"),
    case(make_claim(date_of_birth=date(2025, 6, 5)), [("DOB_AFTER_SERVICE", V, "date_of_birth")], "dob-after"),
    case(make_claim(service_to=date(2025, 7, 5)), [("DATE_IN_FUTURE", V, "service_to")], "future-to"),
    case(
        make_claim(date_of_birth=date(2025, 7, 1)),
        [("DOB_AFTER_SERVICE", V, "date_of_birth"), ("DATE_IN_FUTURE", V, "date_of_birth")],
        "future-dob",
    ),
    case(
        make_claim(received_at=datetime(2025, 7, 1, tzinfo=UTC)),
        [("DATE_IN_FUTURE", V, "received_at")],
        "future-received",
    ),
    case(
        with_line(0, service_date=date(2025, 7, 1)),
        [
            ("DATE_IN_FUTURE", V, "lines[0].service_date"),
            ("LINE_DATE_OUTSIDE_CLAIM", V, "lines[0].service_date"),
        ],
        "future-line",
    ),
    case(make_claim(date_of_birth=date(1899, 12, 31)), [("DATE_IMPLAUSIBLE", DQ, "date_of_birth")], "dob-1899"),
    case(make_claim(date_of_birth=date(1, 1, 1)), [("DATE_IMPLAUSIBLE", DQ, "date_of_birth")], "dob-year-1"),
    case(
        make_claim(service_from=date(1, 1, 1)),
        [("DOB_AFTER_SERVICE", V, "date_of_birth"), ("DATE_IMPLAUSIBLE", DQ, "service_from")],
        "from-year-1",
    ),
    case(
        make_claim(received_at=datetime(1, 1, 1, tzinfo=UTC)),
        [("DATE_IMPLAUSIBLE", DQ, "received_at")],
        "received-year-1",
    ),
    case(
        with_line(1, service_date=date(1, 1, 1)),
        [
            ("DATE_IMPLAUSIBLE", DQ, "lines[1].service_date"),
            ("LINE_DATE_OUTSIDE_CLAIM", V, "lines[1].service_date"),
        ],
        "line-year-1",
    ),
    case(
        make_claim(service_to=date(9999, 12, 31), received_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        [("DATE_IN_FUTURE", V, "service_to"), ("DATE_IN_FUTURE", V, "received_at")],
        "year-9999",
    ),
    case(
        make_claim(received_at=datetime(9999, 12, 31, 23, 59, 59)),
        [("DATE_IN_FUTURE", V, "received_at"), ("TIMELY_FILING", V, "received_at")],
        "received-9999-naive",
    ),
    case(
        with_line(1, service_date=date(2025, 6, 3)),
        [("LINE_DATE_OUTSIDE_CLAIM", V, "lines[1].service_date")],
        "line-after-claim",
    ),
    case(
        with_line(0, service_date=date(2025, 5, 31)),
        [("LINE_DATE_OUTSIDE_CLAIM", V, "lines[0].service_date")],
        "line-before-claim",
    ),
    case(filed(datetime(2025, 6, 3, tzinfo=UTC)), [("TIMELY_FILING", V, "received_at")], "timely-366-days"),
    case(
        filed(datetime(2024, 9, 1, tzinfo=UTC)),
        [("TIMELY_FILING", V, "received_at")],
        "timely-custom-limit",
        ctx=replace(CTX, timely_filing_days=90),
    ),
]


@pytest.mark.parametrize(("claim", "ctx", "expected"), FAILING)
def test_failing(claim, ctx, expected):
    assert check(claim, ctx) == expected


@pytest.mark.parametrize(
    "claim",
    [
        pytest.param(
            replace(with_line(0, service_date=date(2025, 6, 2)), service_from=date(2025, 6, 2)),
            id="same-day-claim",
        ),
        pytest.param(make_claim(date_of_birth=date(2025, 6, 1)), id="born-on-service-day"),
        pytest.param(make_claim(date_of_birth=date(1900, 1, 1)), id="dob-1900-01-01"),
        pytest.param(make_claim(received_at=datetime.combine(TODAY, datetime.max.time())), id="received-today"),
        pytest.param(make_claim(received_at=None), id="no-received-at"),
        pytest.param(with_line(0, service_date=None), id="line-without-date"),
        pytest.param(filed(datetime(2025, 6, 2, tzinfo=UTC)), id="timely-365-days"),
        pytest.param(make_claim(received_at=datetime(2025, 5, 1, tzinfo=UTC)), id="received-before-service"),
    ],
)
def test_passing(claim):
    assert check(claim) == []


def test_line_dates_not_checked_when_claim_range_inverted_or_partial():
    inverted = replace(with_line(0, service_date=date(2020, 1, 1)), service_from=date(2025, 6, 3))
    assert [c for c, _, _ in check(inverted)] == ["DATE_RANGE_INVERTED"]
    partial = replace(with_line(0, service_date=date(2020, 1, 1)), service_from=None)
    assert [c for c, _, _ in check(partial)] == ["REQUIRED_FIELD"]


def test_extreme_dates_everywhere_do_not_raise():
    for day in (date(1, 1, 1), date(9999, 12, 31)):
        claim = make_claim(
            date_of_birth=day,
            service_from=day,
            service_to=day,
            received_at=datetime.combine(day, datetime.min.time()),
            lines=tuple(replace(ln, service_date=day) for ln in make_claim().lines),
        )
        codes = {c for c, _, _ in check(claim)}
        assert "SYSTEM_RULE_ERROR" not in codes
        assert codes <= {"DATE_IN_FUTURE", "DATE_IMPLAUSIBLE"}
        for ctx in (
            RuleContext(today=date(1, 1, 1)),
            RuleContext(today=date(9999, 12, 31), timely_filing_days=0),
        ):
            assert "SYSTEM_RULE_ERROR" not in {c for c, _, _ in check(claim, ctx)}


def test_messages_do_not_show_dates():
    claim = make_claim(date_of_birth=date(2025, 6, 5), service_to=date(2025, 7, 5))
    for failure in validate_claim(claim, CTX):
        assert "2025-06-05" not in failure.message
        assert "2025-07-05" not in failure.message
