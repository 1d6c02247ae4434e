"""Failed claims as a workflow, on the real databases: repair, review actions with their audit trail,
re-processing one claim, amendments with history, key rotation, compensation. Each ends with the ledger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import psycopg
import pytest
from cryptography.fernet import Fernet

from claims_tasks import failures, pipeline
from claims_tasks.amend import amend_claim
from claims_tasks.config import Settings
from claims_tasks.crypto import make_cipher
from claims_tasks.errors import ClaimsError
from claims_tasks.keys import rotate_payloads
from claims_tasks.records import claim_from_payload
from claims_tasks.resources import WorkerResources, build_resources
from db.ledger import reconcile
from tests.factories import insert_claims, make_valid_claims
from tests.failures.helpers import process_all, retry_ids


@pytest.fixture
def res(clean: Settings) -> Iterator[WorkerResources]:
    resources = build_resources(clean)
    yield resources
    resources.close()


def _ledger_ok(settings: Settings) -> dict:
    report = reconcile(settings.staging_dsn, settings.production_dsn)
    assert report.ok, report.as_dict()
    return report.states


def test_repairable_claim_is_repaired_into_production_and_logged(
    clean: Settings, res: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    claims = make_valid_claims(staging, 3, facilities=1)
    mismatch = replace(claims[0], total_charge=Decimal("1.00"))
    bad_npi = replace(claims[1], billing_npi="1234567890")
    insert_claims(staging, [mismatch, bad_npi, claims[2]])
    _batch, counts = process_all(clean, res)
    queued = retry_ids(counts)
    assert [cid for ids in queued.values() for cid in ids] == [mismatch.claim_id]
    statuses = dict(production.execute("SELECT claim_id, status FROM failed_claims").fetchall())
    assert statuses == {mismatch.claim_id: "retrying", bad_npi.claim_id: "review"}

    result = failures.repair_claims(res, [mismatch.claim_id])
    again = failures.repair_claims(res, [mismatch.claim_id])  # the same message delivered twice

    assert (result.repaired, result.review, again.repaired, again.healed) == (1, 0, 0, 1)
    row = production.execute(
        "SELECT f.status, f.repairs, c.total_charge FROM failed_claims f JOIN claims c USING (claim_id)"
        " WHERE claim_id = %s",
        (mismatch.claim_id,),
    ).fetchone()
    assert row is not None
    assert row[0] == "repaired" and row[2] == Decimal("150.00")
    assert row[1] == [{"repair": "REPAIR_TOTAL_FROM_LINES", "fields": ["total_charge"]}]
    audit = production.execute(
        "SELECT actor, action, before->>'status', after->>'status' FROM review_actions WHERE claim_id = %s",
        (mismatch.claim_id,),
    ).fetchall()
    assert audit == [("system:repair", "repair", "retrying", "repaired")]
    assert production.execute("SELECT count(*) FROM claims").fetchone() == (2,)
    states = _ledger_ok(clean)
    assert (states["done"], states["failed"]) == (2, 1)
    batch = staging.execute("SELECT done, failed FROM staging.batches").fetchone()
    assert batch == (2, 1)


def test_repair_that_does_not_fix_goes_to_review(
    clean: Settings, res: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    [claim] = make_valid_claims(staging, 1)
    # Swapped dates are repairable, but a line outside the swapped range means no repair applies: it goes
    # straight to review; a lower-case ICD code that is also unknown is repaired in form, still invalid.
    odd = replace(claim, service_from=claim.service_to, service_to=claim.service_from,
                  diagnoses=(replace(claim.diagnoses[0], icd10_code="zz9.9"), claim.diagnoses[1]))  # fmt: skip
    insert_claims(staging, [odd])
    _batch, counts = process_all(clean, res)
    ids = [cid for v in retry_ids(counts).values() for cid in v]
    if ids:
        result = failures.repair_claims(res, ids)
        assert result.review == 1 and result.repaired == 0
    status = production.execute("SELECT status FROM failed_claims").fetchone()
    assert status == ("review",)
    assert production.execute("SELECT count(*) FROM claims").fetchone() == (0,)
    _ledger_ok(clean)


def test_review_actions_assign_accept_void_resubmit(
    clean: Settings, res: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    claims = make_valid_claims(staging, 3, facilities=1)
    broken = [replace(c, rendering_npi="1234567890") for c in claims]
    insert_claims(staging, broken)
    process_all(clean, res)
    a, b, c = (x.claim_id for x in broken)

    failures.assign(res, a, "dana", actor="lead")
    failures.accept(res, a, actor="dana", notes="payer confirmed the NPI")
    failures.void(res, b, actor="dana", notes="duplicate submission")
    sent: list[tuple[str, int, list[str], int]] = []
    batch_id = failures.reprocess(res, c, lambda *m: sent.append(m), shards=clean.shards,
                                  chunk_size=clean.chunk_size, actor="dana",
                                  changes={"rendering_npi": "1234567893"})  # fmt: skip
    [(sent_batch, _shard, sent_ids, priority)] = sent
    assert (sent_batch, sent_ids, priority) == (batch_id, [c], 0)
    pipeline.process_chunk(res, batch_id, [c])

    rows = dict(production.execute("SELECT claim_id, status || '/' || resolution FROM failed_claims").fetchall())
    assert rows == {a: "resolved/accepted", b: "voided/voided", c: "resolved/resubmitted"}
    in_prod = dict(production.execute("SELECT claim_id, rendering_npi FROM claims").fetchall())
    assert in_prod == {a: "1234567890", c: "1234567893"}
    trail = production.execute(
        "SELECT claim_id, actor, action, after->>'status' FROM review_actions ORDER BY id"
    ).fetchall()
    assert trail == [
        (a, "lead", "assign", "review"),
        (a, "dana", "accept", "resolved"),
        (b, "dana", "void", "voided"),
        (c, "dana", "resubmit", "resolved"),
    ]
    resubmit = production.execute("SELECT after FROM review_actions WHERE action = 'resubmit'").fetchone()
    assert resubmit is not None and resubmit[0]["fields"] == ["rendering_npi"]
    states = _ledger_ok(clean)
    assert (states["done"], states["resolved"], states["failed"]) == (2, 1, 0)
    with pytest.raises(ClaimsError, match="no open failure"):
        failures.void(res, c, actor="dana")


def test_resubmit_that_still_fails_fails_again_alone(
    clean: Settings, res: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    [claim] = make_valid_claims(staging, 1)
    insert_claims(staging, [replace(claim, billing_npi="1234567890")])
    process_all(clean, res)
    sent: list[tuple] = []
    batch_id = failures.reprocess(res, claim.claim_id, lambda *m: sent.append(m), shards=clean.shards,
                                  chunk_size=clean.chunk_size, actor="dana",
                                  changes={"billing_npi": "1234567891"})  # fmt: skip
    counts = pipeline.process_chunk(res, batch_id, [claim.claim_id])
    assert counts.failed == 1
    rows = production.execute("SELECT status, resolution FROM failed_claims ORDER BY id").fetchall()
    assert rows == [("resolved", "resubmitted"), ("review", None)]
    _ledger_ok(clean)


def test_amendments_keep_history(
    clean: Settings, res: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    [claim] = make_valid_claims(staging, 1)
    insert_claims(staging, [claim])
    process_all(clean, res)

    v2 = amend_claim(res, claim.claim_id, "7", actor="dana", changes={"total_charge": "175.00"},
                     line_changes={2: {"line_charge": "75.00"}})  # fmt: skip
    with pytest.raises(ClaimsError, match="CHARGE_TOTAL_MISMATCH"):
        amend_claim(res, claim.claim_id, "7", actor="dana", changes={"total_charge": "1.00"})
    v3 = amend_claim(res, claim.claim_id, "8", actor="dana", notes="patient never seen")

    assert (v2, v3) == (2, 3)
    row = production.execute(
        "SELECT version, status, claim_frequency, total_charge FROM claims WHERE claim_id = %s", (claim.claim_id,)
    ).fetchone()
    assert row == (3, "voided", "8", Decimal("175.00"))
    history = production.execute(
        "SELECT version, reason, claim->>'total_charge', jsonb_array_length(lines) FROM claim_history ORDER BY version"
    ).fetchall()
    assert history == [(1, "replaced", "150.00", 2), (2, "voided", "175.00", 2)]
    with pytest.raises(ClaimsError, match="already voided"):
        amend_claim(res, claim.claim_id, "8", actor="dana")
    _ledger_ok(clean)


def test_rotate_key_keeps_every_payload_readable(
    clean: Settings, res: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    claims = make_valid_claims(staging, 30, facilities=2)
    insert_claims(staging, [replace(c, billing_npi="1234567890") for c in claims])
    process_all(clean, res)
    old = clean.encryption_keys()
    new = Fernet.generate_key().decode()

    assert rotate_payloads(clean.production_dsn, make_cipher([new, *old])) == 30

    only_new = make_cipher([new])
    for claim_id, blob in production.execute("SELECT claim_id, encrypted_payload FROM failed_claims"):
        assert claim_from_payload(only_new.decrypt(bytes(blob))).claim_id == claim_id
    with pytest.raises(ClaimsError, match="no key"):
        rotate_payloads(clean.production_dsn, make_cipher(old))


def test_failed_staging_write_is_compensated(
    clean: Settings, res: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    claims = make_valid_claims(staging, 20, facilities=1)
    claims[3] = replace(claims[3], billing_npi="1234567890")
    insert_claims(staging, claims)
    chunks: list[tuple[str, list[str]]] = []
    from claims_tasks.dispatch import dispatch

    dispatch(clean.staging_dsn, lambda b, _s, ids, _p: chunks.append((b, ids)), shards=1, chunk_size=100,
             page_size=100)  # fmt: skip
    [(batch_id, ids)] = chunks
    # The second write (staging's status flip) fails on purpose, after production committed.
    staging.execute(
        "CREATE FUNCTION staging.refuse() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'staging refuses the flip (test)'; END $$"
    )
    staging.execute(
        "CREATE TRIGGER refuse BEFORE UPDATE OF status ON staging.claims FOR EACH ROW"
        " WHEN (NEW.status <> 'queued') EXECUTE FUNCTION staging.refuse()"
    )
    try:
        with pytest.raises(psycopg.errors.RaiseException):
            pipeline.process_chunk(res, batch_id, ids)
        assert production.execute(
            "SELECT (SELECT count(*) FROM claims) + (SELECT count(*) FROM claim_lines)"
            " + (SELECT count(*) FROM failed_claims)"
        ).fetchone() == (0,), "the production half was not rolled back"
        assert staging.execute("SELECT count(*) FROM staging.claims WHERE status = 'queued'").fetchone() == (20,)
        consistent = reconcile(clean.staging_dsn, clean.production_dsn)
        assert consistent.consistent and consistent.in_flight == 20
    finally:
        staging.execute("DROP TRIGGER refuse ON staging.claims")
        staging.execute("DROP FUNCTION staging.refuse()")

    counts = pipeline.process_chunk(res, batch_id, ids)
    assert (counts.done, counts.failed) == (19, 1)
    _ledger_ok(clean)


def test_a_rule_that_raises_fails_only_its_claim(
    clean: Settings, res: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    claims = make_valid_claims(staging, 10, facilities=1)
    insert_claims(staging, claims)
    poison = claims[4].claim_id

    def explode_on_poison(claim, ctx):  # type: ignore[no-untyped-def]
        if claim.claim_id == poison:
            raise ZeroDivisionError("poison")
        return []

    from claims_tasks.rules import RULES

    # A rule the pre-screen does not know: every claim of the chunk is validated by the rules themselves.
    monkeypatch.setattr(pipeline, "CHUNK_RULES", (*RULES, explode_on_poison))
    _batch, counts = process_all(clean, res)

    assert sum(c.done for c in counts) == 9 and sum(c.failed for c in counts) == 1
    row = production.execute("SELECT claim_id, failure_category, failures FROM failed_claims").fetchone()
    assert row is not None and row[0] == poison and row[1] == "system"
    assert "ZeroDivisionError" in json.dumps(row[2])
    _ledger_ok(clean)


def test_a_claim_the_model_cannot_score_fails_alone(
    clean: Settings, res: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    claims = make_valid_claims(staging, 12, facilities=1)
    insert_claims(staging, claims)
    poison = claims[7].claim_id
    real = res.scorer()

    class Fussy:
        """The served model, except that it chokes on one claim (as on a feature value it never saw)."""

        def score(self, chunk):  # type: ignore[no-untyped-def]
            if any(c.claim_id == poison for c in chunk):
                raise ValueError("Input contains NaN")
            return real.score(chunk)

    monkeypatch.setattr(res, "scorer", lambda: Fussy())
    _batch, counts = process_all(clean, res)

    assert sum(c.done for c in counts) == 11 and sum(c.failed for c in counts) == 1
    row = production.execute("SELECT claim_id, failure_category, rule_codes FROM failed_claims").fetchone()
    assert row == (poison, "system", ["SYSTEM_SCORING_ERROR"])
    scored = production.execute("SELECT count(*) FROM claims WHERE model_version IS NOT NULL").fetchone()
    assert scored == (11,)
    _ledger_ok(clean)
