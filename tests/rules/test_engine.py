from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from claims_tasks.records import CATEGORIES, RuleFailure
from claims_tasks.rules import RULES, RuleContext, failure_category, validate_chunk, validate_claim
from claims_tasks.rules.catalogue import failure
from claims_tasks.rules.required import check_required_fields, check_sex

from .builders import CTX, TODAY, check, make_claim, triples


def boom(claim, ctx):
    return [1 / 0]


def boom_for_bad(claim, ctx):
    if claim.claim_id == "C-BAD":
        raise KeyError(claim.patient_last_name)  # exception text carrying patient data must not leak
    return []


def yields_then_raises(claim, ctx):
    yield failure("SEX_INVALID", "sex", "partial")
    raise RuntimeError("half way")


def test_valid_claim_has_no_failures():
    assert validate_claim(make_claim(), CTX) == []


def test_raising_rule_becomes_system_rule_error_and_other_rules_still_run():
    claim = make_claim(facility_id=None, sex="X")
    failures = validate_claim(claim, CTX, rules=(check_required_fields, boom, check_sex))
    assert triples(failures) == [
        ("REQUIRED_FIELD", "validation", "facility_id"),
        ("SYSTEM_RULE_ERROR", "system", "boom"),
        ("SEX_INVALID", "data_quality", "sex"),
    ]
    assert failures[1].message == "rule boom raised ZeroDivisionError"


def test_partial_output_of_a_raising_rule_is_dropped():
    failures = validate_claim(make_claim(), CTX, rules=(yields_then_raises,))
    assert triples(failures) == [("SYSTEM_RULE_ERROR", "system", "yields_then_raises")]
    assert failures[0].message == "rule yields_then_raises raised RuntimeError"


def test_one_bad_claim_fails_alone_in_a_chunk():
    good, bad = make_claim(claim_id="C-1", sex="X"), make_claim(claim_id="C-BAD", patient_last_name="Zebedee")
    other = make_claim(claim_id="C-2")
    results = validate_chunk([good, bad, other], CTX, rules=(*RULES, boom_for_bad))
    assert list(results) == ["C-1", "C-BAD", "C-2"]
    assert triples(results["C-1"]) == [("SEX_INVALID", "data_quality", "sex")]
    assert triples(results["C-BAD"]) == [("SYSTEM_RULE_ERROR", "system", "boom_for_bad")]
    assert "Zebedee" not in results["C-BAD"][0].message
    assert results["C-2"] == []


def test_a_broken_rule_is_logged_once_per_chunk_without_data(caplog):
    claims = [make_claim(claim_id=f"C-{i}", patient_last_name="Zebedee") for i in range(5)]
    with caplog.at_level("WARNING", logger="claims_tasks.rules.engine"):
        results = validate_chunk(claims, CTX, rules=(boom,))
    assert all(triples(v) == [("SYSTEM_RULE_ERROR", "system", "boom")] for v in results.values())
    assert [r.getMessage() for r in caplog.records] == [
        "rule boom raised ZeroDivisionError on 5 of 5 claims (first C-0)"
    ]


def test_malformed_value_inside_a_real_rule_is_contained():
    # An int where a str belongs makes the rules reading billing_npi raise; the others still report.
    bad = make_claim(claim_id="C-BAD", billing_npi=1234567893, sex="X")  # type: ignore[arg-type]
    results = validate_chunk([make_claim(claim_id="C-1"), bad, make_claim(claim_id="C-2")], CTX)
    assert results["C-1"] == results["C-2"] == []
    assert triples(results["C-BAD"]) == [
        ("SYSTEM_RULE_ERROR", "system", "check_required_fields"),
        ("SEX_INVALID", "data_quality", "sex"),
        ("SYSTEM_RULE_ERROR", "system", "check_npi"),
    ]
    assert failure_category(results["C-BAD"]) == "system"


def test_chunk_keeps_every_claim_and_concatenates_repeated_ids():
    a = make_claim(claim_id="A", sex="X")
    a_again = make_claim(claim_id="A", payer_id="PAY99")
    results = validate_chunk([a, make_claim(claim_id="B"), a_again], CTX)
    assert list(results) == ["A", "B"]
    assert [f.code for f in results["A"]] == ["SEX_INVALID", "PAYER_UNKNOWN"]
    assert results["B"] == []
    assert validate_chunk([], CTX) == {}


def fails(*categories: str) -> list[RuleFailure]:
    return [RuleFailure("X", c, "f", "m") for c in categories]


@pytest.mark.parametrize(
    ("categories", "expected"),
    [
        (("data_quality",), "data_quality"),
        (("data_quality", "coding", "validation"), "coding"),
        (("validation", "eligibility", "coding"), "eligibility"),
        (("duplicate", "coding"), "duplicate"),
        (("eligibility", "system", "data_quality"), "system"),
        (("validation", "no_such_category"), "system"),
    ],
)
def test_failure_category_picks_the_most_severe(categories, expected):
    assert failure_category(fails(*categories)) == expected


def test_failure_category_follows_records_order():
    for i, category in enumerate(CATEGORIES):
        assert failure_category(fails(*CATEGORIES[i:])) == category


def test_failure_category_of_a_real_claim():
    claim = make_claim(sex="X", payer_id="PAY99", total_charge=None)
    assert failure_category(validate_claim(claim, CTX)) == "eligibility"


def test_failure_category_needs_failures():
    with pytest.raises(ValueError, match="at least one failure"):
        failure_category([])


def test_rules_are_named_documented_and_cite_a_source():
    names = [r.__name__ for r in RULES]
    assert len(set(names)) == len(names)
    for rule in RULES:
        assert rule.__name__.startswith("check_")
        assert rule.__doc__ and "Source" in rule.__doc__, rule.__name__


def test_validate_claim_does_not_mutate_or_depend_on_call_order():
    claim = make_claim(sex="X")
    first = validate_claim(claim, CTX)
    validate_claim(make_claim(payer_id="PAY99"), CTX)
    assert validate_claim(claim, CTX) == first
    assert claim == make_claim(sex="X")


def test_context_normalises_its_inputs():
    ctx = RuleContext(today=datetime(2025, 6, 30, 23, 0), facilities={"F1"}, payers=["P1"])  # type: ignore[arg-type]
    assert ctx.today == date(2025, 6, 30) and type(ctx.today) is date
    assert ctx.facilities == frozenset({"F1"}) and isinstance(ctx.payers, frozenset)
    assert check(make_claim(), replace(CTX, today=datetime(2025, 6, 30, 1, 0))) == []  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timely_filing_days"):
        RuleContext(today=TODAY, timely_filing_days=-1)
    with pytest.raises(TypeError, match="today"):
        RuleContext(today="2025-06-30")  # type: ignore[arg-type]
