"""The operators' failure commands as they are run: real `claims-tasks` subprocesses on the test databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest

from claims_tasks.config import Settings
from claims_tasks.resources import WorkerResources, build_resources
from db import dead_letters
from db.ledger import reconcile
from tests.factories import insert_claims, make_valid_claims
from tests.failures.helpers import process_all
from tests.test_cli import run


@pytest.fixture
def res(clean: Settings) -> Iterator[WorkerResources]:
    resources = build_resources(clean)
    yield resources
    resources.close()


def test_review_commands_and_stats(
    clean: Settings, res: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    claims = make_valid_claims(staging, 4, facilities=1)
    insert_claims(staging, [replace(c, billing_npi="1234567890") for c in claims])
    process_all(clean, res)
    a, b, c, d = (x.claim_id for x in claims)

    listed = run("failed", "list", "--status", "review")
    assert listed.returncode == 0, listed.stderr
    assert {line.split()[0] for line in listed.stdout.splitlines()} == {a, b, c, d}
    assert run("failed", "assign", a, "--to", "dana", "--actor", "lead").returncode == 0
    assert run("failed", "void", b, "--actor", "dana", "--notes", "duplicate").returncode == 0
    fixed = run("failed", "resubmit", c, "--set", "billing_npi=1234567893", "--actor", "dana")
    assert fixed.returncode == 0, fixed.stderr
    batch_id = fixed.stdout.strip().splitlines()[-1]
    assert staging.execute("SELECT status, batch_id FROM staging.claims WHERE claim_id = %s", (c,)).fetchone() == (
        "queued",
        batch_id,
    )
    from claims_tasks.pipeline import process_chunk

    process_chunk(res, batch_id, [c])

    shown = run("failed", "show", a)
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert (doc["assigned_to"], doc["status"]) == ("dana", "review")
    assert [x["action"] for x in doc["actions"]] == ["assign"]
    assert "claim" not in doc, "decrypted data only when asked for"
    decrypted = json.loads(run("failed", "show", a, "--decrypt").stdout)
    assert decrypted["claim"]["billing_npi"] == "1234567890"

    stats = json.loads(run("failed", "stats", "--json").stdout)
    [row] = stats
    assert (row["failure_category"], row["failed"], row["closed"], row["voided"], row["resolved"]) == (
        "data_quality", 4, 2, 1, 1,
    )  # fmt: skip
    assert row["resolution_rate"] == 0.5 and row["mean_hours"] is not None
    report = reconcile(clean.staging_dsn, clean.production_dsn)
    assert report.ok, report.as_dict()
    assert (report.states["done"], report.states["failed"], report.states["resolved"]) == (1, 2, 1)

    refused = run("failed", "void", c)
    assert refused.returncode == 2 and "no open failure" in refused.stderr and "Traceback" not in refused.stderr


def test_amend_and_reprocess_commands(
    clean: Settings, res: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    claims = make_valid_claims(staging, 2, facilities=1)
    insert_claims(staging, claims)
    process_all(clean, res)
    target = claims[0].claim_id

    amended = run("amend", target, "--frequency", "7", "--set", "prior_auth_number=PA123", "--actor", "dana")
    assert amended.returncode == 0, amended.stderr
    assert "version 2" in amended.stdout
    assert production.execute("SELECT prior_auth_number, version FROM claims WHERE claim_id = %s",
                              (target,)).fetchone() == ("PA123", 2)  # fmt: skip
    bad = run("amend", target, "--frequency", "7", "--set", "total_charge=abc")
    assert bad.returncode == 2 and "total_charge" in bad.stderr and "Traceback" not in bad.stderr
    done = run("reprocess", claims[1].claim_id, "--set", "sex=M")
    assert done.returncode == 2 and "amend a processed claim instead" in done.stderr


def test_dead_letter_commands(clean: Settings, staging: psycopg.Connection) -> None:
    letter = dead_letters.record(staging, task_name="claims_tasks.process_chunk", args=["b-x", 0, ["C1"]],
                                 queue="claims.shard.0", batch_id="b-x", exception="OperationalError: down",
                                 traceback="...", attempts=6)  # fmt: skip
    listed = run("dlq", "list")
    assert listed.returncode == 0 and f"{letter:>6} dead" in listed.stdout
    shown = json.loads(run("dlq", "show", str(letter)).stdout)
    assert shown["args"] == ["b-x", 0, ["C1"]] and shown["attempts"] == 6
    replayed = run("dlq", "replay", str(letter))
    assert replayed.returncode == 0, replayed.stderr
    assert staging.execute("SELECT status, replays FROM staging.dead_letters").fetchone() == ("replayed", 1)
    assert run("dlq", "purge", str(letter)).stdout.strip() == "purged 1 dead letter(s)"
    assert run("dlq", "replay").returncode == 2
    missing = run("dlq", "show", "999999")
    assert missing.returncode == 2 and "no dead letter 999999" in missing.stderr
