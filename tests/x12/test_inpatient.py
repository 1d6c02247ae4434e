"""An 837I inpatient claim whose lines carry revenue codes only (SV201; no SV202 HCPCS, as room and board
is billed) goes the whole way: `claims-tasks import-837`, a real `celery worker`, production with its
revenue codes. Its companion with a malformed revenue code fails REVENUE_CODE_INVALID."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from claims_tasks.config import Settings
from claims_tasks.tasks import run_dispatch
from db.ledger import reconcile
from tests.workers import WorkerProcess, ready_worker, wait_for_batch, wait_for_ledger
from tests.x12.helpers import FIXTURES
from tests.x12.test_import import run_cli

pytestmark = pytest.mark.slow

INPATIENT_FILE = FIXTURES / "837i_inpatient_2026.x12"


@pytest.fixture
def worker(x12_clean: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    with ready_worker(tmp_path / "worker.log") as proc:
        yield proc


def test_revenue_code_only_inpatient_claim_reaches_production(
    x12_clean: Settings, worker: WorkerProcess, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    imported = run_cli(INPATIENT_FILE)
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 claims" in imported.stdout
    ids = dict(staging.execute("SELECT patient_account_number, claim_id FROM staging.claims").fetchall())
    staged = staging.execute(
        "SELECT procedure_code, revenue_code FROM staging.claim_lines WHERE claim_id = %s ORDER BY line_number",
        (ids["INPT-3001"],),
    ).fetchall()
    assert staged == [(None, "0120"), (None, "0250"), (None, "0300")]

    result = run_dispatch()
    assert result is not None and result.claims == 2
    total, done, failed, review = wait_for_batch(x12_clean.staging_dsn, result.batch_id)
    assert (total, done, failed, review) == (2, 1, 1, 0)
    wait_for_ledger(x12_clean.staging_dsn, x12_clean.production_dsn, result.batch_id)

    claim = production.execute(
        "SELECT total_charge, expected_reimbursement FROM claims WHERE claim_id = %s", (ids["INPT-3001"],)
    ).fetchone()
    # Revenue-code-only lines are valid but unpriced (no RVU for a revenue code).
    assert claim == (Decimal("1700.00"), Decimal("0.00"))
    lines = production.execute(
        "SELECT line_number, procedure_code, revenue_code, units, line_charge FROM claim_lines"
        " WHERE claim_id = %s ORDER BY line_number",
        (ids["INPT-3001"],),
    ).fetchall()
    assert lines == [
        (1, None, "0120", Decimal("3.000"), Decimal("1500.00")),
        (2, None, "0250", Decimal("4.000"), Decimal("120.00")),
        (3, None, "0300", Decimal("2.000"), Decimal("80.00")),
    ]
    failures = production.execute(
        "SELECT rule_codes, failures FROM failed_claims WHERE claim_id = %s", (ids["INPT-3002"],)
    ).fetchall()
    assert [codes for codes, _ in failures] == [["REVENUE_CODE_INVALID"]]
    [(_, found)] = failures
    assert [(f["field"], f["message"]) for f in found] == [
        ("lines[0].revenue_code", "line 1 revenue_code '012' is not a 4-digit NUBC revenue code")
    ]
    report = reconcile(x12_clean.staging_dsn, x12_clean.production_dsn)
    assert report.ok and (report.states["done"], report.states["failed"]) == (1, 1), report.as_dict()
