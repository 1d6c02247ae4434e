"""The latent payer rules behind the generated history (docs/MODEL.md), claim by claim, and its noise."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import numpy as np
import pytest

from claims_tasks.records import Claim
from claims_tasks.synthetic import ReferenceCodes
from ml import history
from tests.ml.claims import claim, line


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        pytest.param(claim(), [], id="clean office visit"),
        pytest.param(claim(payer_id="MCD", age=70), ["eligibility"], id="medicaid after 65: medicare first"),
        pytest.param(claim(payer_id="TRICARE", age=66), ["eligibility"], id="tricare after 65"),
        pytest.param(claim(payer_id="KPHMO", facility_id="F0003"), ["eligibility"], id="hmo out of network"),
        pytest.param(claim(payer_id="KPHMO", facility_id="F0004"), [], id="hmo in network"),
        pytest.param(claim(payer_id="WCOMP"), ["eligibility"], id="workers comp without an injury"),
        pytest.param(claim(payer_id="WCOMP", dx=("S93.401A",)), [], id="workers comp injury"),
        pytest.param(claim(payer_id="MCD", lag=31), ["timely_filing"], id="medicaid filed after 30 days"),
        pytest.param(claim(payer_id="MCD", lag=30), [], id="medicaid filed on day 30"),
        pytest.param(claim(payer_id="HUMANA", lag=36), ["timely_filing"], id="humana filed after 35 days"),
        pytest.param(claim(payer_id="UHC", lag=300), [], id="other payers allow longer"),
        pytest.param(
            claim(line(1, "45378", "900.00"), dx=("K57.30",), payer_id="AETNA"),
            ["authorization"],
            id="colonoscopy without authorisation",
        ),
        pytest.param(
            claim(line(1, "45378", "900.00"), dx=("K57.30",), payer_id="AETNA", prior_auth_number="PA1"),
            [],
            id="colonoscopy authorised",
        ),
        pytest.param(claim(line(1, "99215", "800.00"), dx=("E11.9", "I10")), ["authorization"], id="over $750"),
        pytest.param(
            claim(line(1, "99215", "800.00"), payer_id="MCRB"), [], id="over $750 at a payer without that rule"
        ),
        pytest.param(
            claim("99213", line(2, "20610", modifiers=("RT",)), dx=("M17.11",)), ["coding"], id="visit without 25"
        ),
        pytest.param(
            claim(line(1, "99213", modifiers=("25",)), line(2, "20610", modifiers=("RT",)), dx=("M17.11",)),
            [],
            id="visit with 25",
        ),
        pytest.param(claim("73030", dx=("M25.511",)), ["coding"], id="paired anatomy without a side"),
        pytest.param(claim(line(1, "73030", modifiers=("LT",)), dx=("M25.511",)), [], id="side given"),
        pytest.param(claim(line(1, "97110", modifiers=()), dx=("M54.50",)), ["coding"], id="therapy without GP"),
        pytest.param(claim("99215", dx=("I10",)), ["coding"], id="top-level visit, one diagnosis"),
        pytest.param(claim(line(1, "97110", modifiers=("GP",))), ["medical_necessity"], id="therapy, no M/S dx"),
        pytest.param(claim("93000", dx=("E11.9",)), ["medical_necessity"], id="ecg, no circulatory dx"),
        pytest.param(claim("93000", dx=("R07.9",)), [], id="ecg for chest pain"),
        pytest.param(
            claim(line(1, "45378", "900.00"), payer_id="MCRB", dx=("I10",)),
            ["medical_necessity"],
            id="colonoscopy, no digestive or screening dx",
        ),
        pytest.param(
            claim(line(1, "97110"), payer_id="MCD", age=70, lag=40),
            ["eligibility", "timely_filing", "coding", "medical_necessity"],
            id="several, in adjudication order",
        ),
    ],
)
def test_latent_rules(subject: Claim, expected: list[str]) -> None:
    assert history.applicable_filters(subject) == expected


def test_labels_follow_the_first_rule_that_fires_with_documented_noise() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    denied = claim(payer_id="MCD", age=70)  # eligibility only
    clean = claim()
    labels = history.label_claims([denied] * n + [clean] * n, rng)
    on_denied, on_clean = Counter(labels[:n]), Counter(labels[n:])
    # eligibility unless the rule missed (5 %) or noise relabelled it (2 %, a fifth of that to eligibility)
    expected_hit = history.RULE_HIT_RATE * (1 - history.LABEL_NOISE * 0.8)
    assert on_denied["eligibility"] / n == pytest.approx(expected_hit, abs=0.01)
    assert on_clean["clean"] / n == pytest.approx(1 - history.LABEL_NOISE, abs=0.005)
    assert set(on_clean) == set(history.CLASSES)  # noise reaches every filter


def test_history_is_deterministic_for_a_seed(ref: ReferenceCodes) -> None:
    a = history.generate_history(500, 42, ref)
    b = history.generate_history(500, 42, ref)
    c = history.generate_history(500, 43, ref)
    assert a.labels == b.labels and a.claims == b.claims
    assert a.labels != c.labels
    assert all(isinstance(cl.total_charge, Decimal) for cl in a.claims)
    shares = Counter(a.labels)
    assert shares["clean"] > 250 and len(shares) == len(history.CLASSES)
