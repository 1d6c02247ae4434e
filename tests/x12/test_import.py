"""`import-837` against the real staging database: every field lands, whole file or nothing, nothing
twice, and a malformed file is named with its segment and reason."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from claims_tasks.config import Settings
from db.x12_import import import_files
from tests.workers import ROOT
from tests.x12.helpers import I_FILE, P_FILE, line_of, replace_once
from tests.x12.test_claim837 import MALFORMED


def counts(staging: psycopg.Connection) -> tuple[int, int, int, int]:
    row = staging.execute(
        "SELECT (SELECT count(*) FROM staging.claims), (SELECT count(*) FROM staging.claim_lines),"
        " (SELECT count(*) FROM staging.claim_diagnoses), (SELECT count(*) FROM staging.x12_interchanges)"
    ).fetchone()
    assert row is not None
    return row


def claim(staging: psycopg.Connection, account: str) -> dict:
    cur = staging.execute("SELECT * FROM staging.claims WHERE patient_account_number = %s", (account,))
    row = cur.fetchone()
    assert row is not None, account
    assert cur.description is not None
    return dict(zip([c.name for c in cur.description], row, strict=True))


def lines(staging: psycopg.Connection, claim_id: str) -> list[tuple]:
    return staging.execute(
        "SELECT line_number, procedure_code, modifiers, units, line_charge, service_date, place_of_service,"
        " diagnosis_pointers, service_date_to, revenue_code, unit_basis"
        " FROM staging.claim_lines WHERE claim_id = %s ORDER BY line_number",
        (claim_id,),
    ).fetchall()


def diagnoses(staging: psycopg.Connection, claim_id: str) -> list[tuple]:
    return staging.execute(
        "SELECT sequence, icd10_code, qualifier FROM staging.claim_diagnoses WHERE claim_id = %s ORDER BY 1",
        (claim_id,),
    ).fetchall()


def test_every_837p_field_lands_in_staging(x12_clean: Settings, staging: psycopg.Connection) -> None:
    [result] = import_files(x12_clean.staging_dsn, [P_FILE])

    assert (result.status, result.claims, result.duplicates, result.transaction_sets) == ("imported", 5, 0, 1)
    assert counts(staging) == (5, 9, 6, 1)
    c = claim(staging, "PCN-1001")
    assert c["claim_id"].startswith("X20180312")
    expected = {
        "facility_id": "F0001",
        "patient_account_number": "PCN-1001",
        "patient_first_name": "JANE",
        "patient_last_name": "DOE",
        "date_of_birth": date(1980, 2, 14),
        "sex": "F",
        "subscriber_id": "SUB0001",
        "payer_id": "AETNA",
        "financial_class": "CM",
        "billing_npi": "2121357281",
        "rendering_npi": "1987654328",
        "place_of_service": "11",
        "claim_frequency": "1",
        "service_from": date(2018, 3, 12),
        "service_to": date(2018, 3, 13),
        "total_charge": Decimal("185.00"),
        "prior_auth_number": "PA778899",
        "received_at": datetime(2018, 4, 2, 10, 23, tzinfo=UTC),
        "claim_type": "837P",
        "bill_type": None,
        "referring_npi": "1555666779",
        "attending_npi": None,
        "service_facility_npi": None,
        "status": "new",
        "batch_id": None,
        "attempts": 0,
        "queued_at": None,
    }
    assert {k: c[k] for k in expected} == expected
    assert c["x12_interchange_id"] == result.interchange_id
    day, day_to = date(2018, 3, 12), date(2018, 3, 13)
    assert lines(staging, c["claim_id"]) == [
        (1, "99214", ["25"], Decimal("1.000"), Decimal("140.00"), day, "11", [1, 2], None, None, "UN"),
        (2, "97110", ["GP"], Decimal("2.000"), Decimal("45.00"), day, "11", [1], day_to, None, "UN"),
    ]
    assert diagnoses(staging, c["claim_id"]) == [(1, "E11.9", "ABK"), (2, "I10", "ABF")]
    medicare = claim(staging, "PCN-1004")
    assert lines(staging, medicare["claim_id"])[1][3:4] + lines(staging, medicare["claim_id"])[1][10:] == (
        Decimal("45.000"),
        "MJ",
    )
    replacement = claim(staging, "PCN-2001")
    assert (replacement["facility_id"], replacement["claim_frequency"], replacement["service_facility_npi"]) == (
        "F0002",
        "7",
        "1444333227",
    )
    assert [ln[2] for ln in lines(staging, replacement["claim_id"])] == [["RT", "26", "GC", "59"], ["LT", "26"]]
    dependant = claim(staging, "PCN-1003")
    assert (dependant["patient_first_name"], dependant["date_of_birth"], dependant["subscriber_id"]) == (
        "EMMA",
        date(2010, 6, 5),
        "SUB0002",
    )
    row = staging.execute(
        "SELECT file_name, sender_qualifier, sender_id, receiver_id, control_number, usage, created_at,"
        " transaction_sets, claims, duplicates, length(sha256), bytes FROM staging.x12_interchanges"
    ).fetchone()
    assert row == (
        "837p_2018.x12", "ZZ", "CLINICSUB01", "CLAIMSTASKS", "000000101", "P",
        datetime(2018, 4, 2, 10, 23, tzinfo=UTC), 1, 5, 0, 64, P_FILE.stat().st_size,
    )  # fmt: skip


def test_every_837i_field_lands_in_staging(x12_clean: Settings, staging: psycopg.Connection) -> None:
    [result] = import_files(x12_clean.staging_dsn, [I_FILE])

    assert (result.status, result.claims) == ("imported", 3)
    assert counts(staging) == (3, 5, 6, 1)
    c = claim(staging, "HOSP-2001")
    assert (c["claim_type"], c["bill_type"], c["place_of_service"], c["claim_frequency"]) == ("837I", "131", None, "1")
    assert (c["facility_id"], c["payer_id"], c["financial_class"]) == ("F0003", "MCRB", "MC")
    assert (c["attending_npi"], c["rendering_npi"], c["referring_npi"]) == ("1333444556",) * 2 + ("1555666779",)
    assert (c["service_from"], c["service_to"]) == (date(2019, 6, 1), date(2019, 6, 1))
    assert c["received_at"] == datetime(2019, 6, 11, 8, 15, tzinfo=UTC)
    assert lines(staging, c["claim_id"]) == [
        (1, "85025", [], Decimal("1.000"), Decimal("50.00"), date(2019, 6, 1), None, [], None, "0300", "UN"),
        (2, "99283", ["25"], Decimal("1.000"), Decimal("300.00"), date(2019, 6, 1), None, [], None, "0450", "UN"),
    ]
    assert diagnoses(staging, c["claim_id"]) == [(1, "J06.9", "ABK"), (2, "I10", "ABF"), (3, "R50.9", "ABJ")]
    inpatient = claim(staging, "HOSP-2002")
    assert (inpatient["bill_type"], inpatient["service_from"], inpatient["service_to"]) == (
        "111",
        date(2019, 6, 3),
        date(2019, 6, 5),
    )
    assert [(ln[3], ln[8], ln[10]) for ln in lines(staging, inpatient["claim_id"])] == [
        (Decimal("1.000"), None, "DA"),
        (Decimal("2.000"), None, "UN"),
    ]


def test_reimporting_imports_nothing_twice(x12_clean: Settings, staging: psycopg.Connection, tmp_path: Path) -> None:
    first = import_files(x12_clean.staging_dsn, [P_FILE, I_FILE])
    before = counts(staging)

    again = import_files(x12_clean.staging_dsn, [P_FILE, I_FILE])
    # The same claims in a new interchange (new control number, other delimiters): skipped claim by claim.
    resent = tmp_path / "resent.x12"
    text = P_FILE.read_text().replace("000000101", "000000555").replace("*", "|").replace(":", ">")
    resent.write_text(text)
    [third] = import_files(x12_clean.staging_dsn, [resent])

    assert [r.status for r in first] == ["imported", "imported"]
    assert [(r.status, r.claims) for r in again] == [("already", 0), ("already", 0)]
    assert "already imported as interchange" in again[0].message
    assert (third.status, third.claims, third.duplicates) == ("imported", 0, 5)
    assert counts(staging) == (*before[:3], before[3] + 1)


def test_same_control_number_with_other_content_is_refused(
    x12_clean: Settings, staging: psycopg.Connection, tmp_path: Path
) -> None:
    import_files(x12_clean.staging_dsn, [P_FILE])
    before = counts(staging)
    changed = tmp_path / "changed.x12"
    changed.write_text(
        replace_once(P_FILE.read_text(), "CLM*PCN-1002*80*", "CLM*PCN-1002*81*").replace("*80*UN", "*81*UN")
    )

    [result] = import_files(x12_clean.staging_dsn, [changed])

    assert result.status == "failed"
    assert f"{changed}: segment 1 (ISA): interchange control number 000000101" in result.message
    assert counts(staging) == before


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_file_writes_nothing(
    case: str, x12_clean: Settings, staging: psycopg.Connection, tmp_path: Path
) -> None:
    mutate, where, reason = MALFORMED[case]
    text = mutate(P_FILE.read_text())
    bad = tmp_path / "bad.x12"
    bad.write_text(text)

    # One claim per block: a file found bad late has already sent blocks, which must not survive.
    [result] = import_files(x12_clean.staging_dsn, [bad], block_claims=1)

    assert result.status == "failed"
    assert result.message.startswith(f"{bad}: segment {where(text)} (") or where(text) == 1
    assert reason in result.message
    assert counts(staging) == (0, 0, 0, 0)


def test_other_files_still_import_when_one_is_rejected(
    x12_clean: Settings, staging: psycopg.Connection, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.x12"
    bad.write_text(replace_once(P_FILE.read_text(), "SE*96*", "SE*90*"))

    results = import_files(x12_clean.staging_dsn, [bad, I_FILE, tmp_path / "missing.x12"])

    assert [r.status for r in results] == ["failed", "imported", "failed"]
    assert "cannot read" in results[2].message
    assert counts(staging) == (3, 5, 6, 1)


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claims_tasks.cli", "import-837", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=dict(os.environ),
    )


def test_cli_exit_status_and_messages(x12_clean: Settings, staging: psycopg.Connection, tmp_path: Path) -> None:
    bad = tmp_path / "bad.x12"
    text = replace_once(P_FILE.read_text(), "DTP*472*D8*20180320", "DTP*472*D8*20180231")
    bad.write_text(text.replace("000000101", "000000102"))  # another interchange

    ok = run_cli(I_FILE)
    mixed = run_cli(P_FILE, bad)
    again = run_cli(P_FILE)

    assert ok.returncode == 0, ok.stderr
    assert "imported 3 claims" in ok.stdout
    assert mixed.returncode == 1
    assert "Traceback" not in mixed.stderr
    [error] = mixed.stderr.strip().splitlines()
    segment = line_of(text, "DTP*472*D8*20180231")
    assert error == (
        f"claims-tasks: {bad}: segment {segment} (DTP): DTP03 service date is not a calendar date; "
        "nothing of it was imported"
    )
    assert "imported 5 claims" in mixed.stdout
    assert again.returncode == 0 and "nothing imported: already imported" in again.stdout
    assert counts(staging) == (8, 14, 12, 2)


def test_an_old_interchange_keeps_its_received_at(x12_clean: Settings, staging: psycopg.Connection) -> None:
    import_files(x12_clean.staging_dsn, [P_FILE])

    received = staging.execute("SELECT DISTINCT received_at FROM staging.claims").fetchall()

    assert received == [(datetime(2018, 4, 2, 10, 23, tzinfo=UTC),)]


def test_backslashes_and_tabs_in_values_arrive_intact(
    x12_clean: Settings, staging: psycopg.Connection, tmp_path: Path
) -> None:
    # COPY's text format gives both a meaning: such blocks go as CSV instead.
    text = replace_once(P_FILE.read_text(), "NM1*IL*1*DOE*JANE", "NM1*IL*1*DO\\E*JANE")
    # A tab as the component separator can reach a value kept whole (REF02).
    text = text.replace(":~\n", "\t~\n", 1).replace(":", "\t").replace("REF*G1*PA778899", "REF*G1*PA\t778899")
    odd = tmp_path / "odd.x12"
    odd.write_text(text)

    [result] = import_files(x12_clean.staging_dsn, [odd])

    assert (result.status, result.claims) == ("imported", 5), result.message
    c = claim(staging, "PCN-1001")
    assert (c["patient_last_name"], c["prior_auth_number"]) == ("DO\\E", "PA\t778899")
    assert [ln[2] for ln in lines(staging, c["claim_id"])] == [["25"], ["GP"]]
    assert counts(staging) == (5, 9, 6, 1)
