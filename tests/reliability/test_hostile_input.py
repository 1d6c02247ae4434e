"""Fault 5: hostile input. 20,000 claims with fields fuzzed (tests/reliability/hostile.py) written straight
into staging with COPY: every claim ends in exactly one place (production, or failed_claims with rule
codes), no chunk fails as a whole, no worker process dies, and text comes out byte for byte as it went in.

Also what staging itself refuses, and what the loaders do about it: NUL characters and duplicate line
numbers."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from claims_tasks.config import Settings
from claims_tasks.records import Claim
from claims_tasks.rules.catalogue import RULE_CATALOGUE
from claims_tasks.rules.required import REQUIRED_TEXT, REQUIRED_VALUE, blank
from db.models import OPEN_FAILED
from db.x12_import import import_files
from tests.factories import make_valid_claims
from tests.reliability.conftest import Report
from tests.reliability.harness import database_timezone, scaled, start_worker, tally
from tests.reliability.hostile import HTML, KINDS, SQL, date_beyond_python, hostile_claims, write_staging
from tests.workers import wait_for_ledger
from tests.x12.helpers import P_FILE, line_of, replace_once

# Codes the pipeline itself gives a claim it could not validate, score or write (claims_tasks/pipeline.py).
SYSTEM_CODES = {"SYSTEM_RULE_ERROR", "SYSTEM_SCORING_ERROR", "SYSTEM_WRITE_ERROR"}


@pytest.mark.slow
def test_hostile_claims_each_end_in_one_place_with_a_rule_code(
    clean: Settings, staging: psycopg.Connection, production: psycopg.Connection, tmp_path: Path, report: Report
) -> None:
    from claims_tasks.tasks import run_dispatch

    n = scaled(20_000)
    started = time.monotonic()
    hostile = hostile_claims(make_valid_claims(staging, n, facilities=8, prefix="H"))
    write_staging(staging, hostile)
    assert date_beyond_python(staging, hostile) > 0
    assert staging.execute("SELECT count(*) FROM staging.claims").fetchone() == (n,)

    # A server not in UTC: year-1 and year-9999 timestamps must still load.
    with database_timezone(clean.staging_dsn, "America/New_York"):
        worker = start_worker(tmp_path, "worker", {})
        try:
            batch = run_dispatch()
            assert batch is not None and batch.claims == n
            ledger = wait_for_ledger(clean.staging_dsn, clean.production_dsn, batch.batch_id, timeout=240)
            assert worker.proc.poll() is None
        finally:
            worker.stop()
    log = worker.log.read_text(errors="replace")
    # No pool process died: billiard logs "Process 'ForkPoolWorker-1' pid:.. exited with 'signal 9 ..'"
    # (or an exit code) for one that did. (One that passed worker_max_memory_per_child after a chunk of
    # 500-line claims is replaced quietly, by design: that is not a death.)
    assert " exited with " not in log and "WorkerLostError" not in log, log[-3000:]

    t = tally(clean.staging_dsn, clean.production_dsn)
    report(f"hostile input: {len(KINDS)} kinds of fuzzed field", t, started)
    assert (t.lost, t.duplicated) == (0, 0)
    assert ledger.states["done"] + ledger.states["failed"] == n, ledger.as_dict()

    # No chunk failed as a whole: none retried, none dead-lettered, every chunk logged its counts.
    assert "Retry in" not in log and "gave up" not in log, log[-3000:]
    assert staging.execute("SELECT count(*) FROM staging.dead_letters").fetchone() == (0,)
    assert log.count("chunk batch=") == batch.chunks

    by_id = {h.claim.claim_id: h for h in hostile}
    # Exactly one place each, and every failed claim carries codes from the catalogue.
    # (A failure the automated repair fixed is closed, 'repaired', and its claim is in production.)
    done = {cid for (cid,) in production.execute("SELECT claim_id FROM claims")}
    rows = production.execute("SELECT claim_id, rule_codes, status FROM failed_claims").fetchall()
    failed = {cid: codes for cid, codes, status in rows if status in OPEN_FAILED}
    repaired = {cid for cid, _codes, status in rows if status == "repaired"}
    assert len(done) + len(failed) == n and not done & failed.keys() and repaired <= done
    assert all(codes for _cid, codes, _status in rows)
    codes = {c for _cid, cs, _status in rows for c in cs}
    assert codes <= RULE_CATALOGUE.keys() | SYSTEM_CODES, codes - RULE_CATALOGUE.keys()
    # No rule raised and the model scored every valid claim; production refused only index entries too
    # large for its btree (a random 10 kB subscriber_id), each claim alone.
    system = {cid: c for cid, cs, _status in rows for c in cs if c in SYSTEM_CODES}
    assert set(system.values()) <= {"SYSTEM_WRITE_ERROR"}, system
    assert all("10kB" in by_id[cid].kinds for cid in system), [by_id[cid].kinds for cid in system]

    # The defects a rule must catch were caught: the claim has a failure row with its codes, open, or closed
    # by the automated repair (a total that disagrees with the lines is repaired from the lines).
    caught = {cid: set(codes) for cid, codes, _status in rows}
    must_fail = {"0 lines", "negative", "duplicate line", "unknown code"}
    slipped = [(cid, h.kinds) for cid, h in by_id.items() if (h.kinds[0] in must_fail or _incomplete(h.claim))
               and cid not in caught]  # fmt: skip
    assert not slipped, slipped[:10]
    beyond = [cid for cid, h in by_id.items() if "beyond Python's dates" in h.kinds]
    undated = [(cid, by_id[cid].kinds, len(by_id[cid].claim.lines), caught.get(cid)) for cid in beyond
               if not caught.get(cid, set()) & {"DATE_IMPLAUSIBLE", "DATE_IN_FUTURE"}]  # fmt: skip
    assert not undated
    dropped = [cid for cid, h in by_id.items() if h.dropped_lines]
    assert dropped and all("CHARGE_TOTAL_MISMATCH" in caught.get(cid, ()) or cid in failed for cid in dropped)

    # What went in is what came out: hostile text in claims that went through is stored verbatim.
    tricky = [cid for cid in done if any(k in by_id[cid].kinds for k in ("sql", "html", "control", "10kB"))]
    assert tricky, "some claims with hostile but legal text should have gone through"
    stored = production.execute(
        "SELECT claim_id, patient_first_name, patient_last_name, patient_account_number, prior_auth_number"
        " FROM claims WHERE claim_id = ANY(%s)",
        (tricky,),
    ).fetchall()
    for cid, *values in stored:
        c = by_id[cid].claim
        expected = [c.patient_first_name, c.patient_last_name, c.patient_account_number, c.prior_auth_number]
        assert values == [v.replace("\x00", "\ufffd") if v else v for v in expected], cid
    assert any(h.nul for h in hostile), "the generator should have produced NULs for the writer to replace"
    assert any(cid.endswith(tuple(SQL + HTML)) for cid in done | failed.keys())
    # And the tables the fragments named are still there.
    assert staging.execute("SELECT count(*) FROM staging.claims").fetchone() == (n,)


def test_staging_refuses_nul_and_duplicate_line_numbers_as_a_whole(staging: psycopg.Connection) -> None:
    """Why the loaders must decide: PostgreSQL refuses a NUL in text and staging's primary key refuses a
    second line with the same number, and either refusal fails the whole COPY, nothing of it stored."""
    staging.execute("TRUNCATE staging.claims, staging.claim_lines")
    into_claims = "COPY staging.claims (claim_id, patient_last_name) FROM STDIN"
    # psycopg refuses to send a NUL; sent anyway (COPY's octal escape), the server refuses it.
    with pytest.raises(psycopg.DataError, match="NUL"), staging.cursor().copy(into_claims) as copy:
        copy.write_row(("N1", "fine"))
        copy.write_row(("N2", "DO\x00E"))
    with pytest.raises(psycopg.errors.CharacterNotInRepertoire), staging.cursor().copy(into_claims) as copy:
        copy.write(b"N1\tfine\nN2\tDO\\000E\n")
    with pytest.raises(psycopg.errors.UniqueViolation), staging.cursor().copy(
        "COPY staging.claim_lines (claim_id, line_number, procedure_code) FROM STDIN"
    ) as copy:  # fmt: skip
        copy.write_row(("N1", 1, "99213"))
        copy.write_row(("N1", 1, "J1100"))
    assert staging.execute(
        "SELECT (SELECT count(*) FROM staging.claims), (SELECT count(*) FROM staging.claim_lines)"
    ).fetchone() == (0, 0)


def test_the_837_importer_refuses_a_nul_naming_the_segment(
    clean: Settings, staging: psycopg.Connection, tmp_path: Path
) -> None:
    """The 837 importer's decision: a NUL (any control character) in a segment rejects the file, with one
    line naming the file and segment, and nothing of the file written; LX numbering (duplicate line
    numbers) likewise (tests/x12/test_claim837.py MALFORMED["LX numbering"])."""
    staging.execute("TRUNCATE staging.x12_interchanges")
    text = replace_once(P_FILE.read_text(), "NM1*IL*1*DOE*", "NM1*IL*1*DO\x00E*")
    bad = tmp_path / "nul.x12"
    bad.write_bytes(text.encode())

    [result] = import_files(clean.staging_dsn, [bad])

    assert result.status == "failed"
    segment = line_of(text, "NM1*IL*1*DO")
    assert result.message == f"{bad}: segment {segment}: control character '\\x00' in a segment"
    assert staging.execute("SELECT count(*) FROM staging.claims").fetchone() == (0,)


def _incomplete(claim: Claim) -> bool:
    return any(blank(getattr(claim, f)) for f in REQUIRED_TEXT) or any(
        getattr(claim, f) is None for f in REQUIRED_VALUE
    )
