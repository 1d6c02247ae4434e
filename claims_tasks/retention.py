"""`claims-tasks retention`: past their configured days, failed-claim PHI is purged and final staging claims
are retired, optionally archived first (encrypted), always audited (production.retention_runs).

Dry run by default: it opens an audit row, counts, and changes nothing. With `execute`, each kind of data is
handled in batches, one transaction per batch and database; a batch's archive lines are written and
fsynced before its transaction commits, so nothing is removed that the archive does not hold (a crash can
leave archived lines whose removal rolled back; key them by claim id). What stays keeps the ledger whole:
see db/retention.py.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from cryptography.fernet import MultiFernet

from claims_tasks.errors import ClaimsError
from claims_tasks.records import claim_to_payload
from db import engines, staging
from db import retention as rows

BATCH = 2_000


@dataclass(frozen=True)
class Policy:
    failed_phi_days: int
    staging_days: int
    change_log_days: int

    def cutoffs(self, now: datetime) -> dict[str, datetime]:
        return {
            "failed_phi": now - timedelta(days=self.failed_phi_days),
            "staging": now - timedelta(days=self.staging_days),
            "change_log": now - timedelta(days=self.change_log_days),
        }


@dataclass
class Report:
    run_id: int
    dry_run: bool
    cutoffs: dict[str, str]
    counts: dict[str, int] = field(default_factory=dict)
    archive: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "dry_run": self.dry_run, "cutoffs": self.cutoffs, "counts": self.counts,
                "archive": self.archive}  # fmt: skip


@contextmanager
def _archive_file(directory: Path | None, name: str) -> Iterator[IO[str] | None]:
    if directory is None:
        yield None
        return
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)  # PHI, even encrypted: owner only
    with os.fdopen(fd, "w") as handle:
        yield handle


def _sync(handle: IO[str] | None) -> None:
    if handle is not None:
        handle.flush()
        os.fsync(handle.fileno())


def run(
    staging_dsn: str,
    production_dsn: str,
    policy: Policy,
    *,
    execute: bool,
    actor: str,
    archive_dir: Path | None = None,
    cipher: MultiFernet | None = None,
    now: datetime | None = None,
) -> Report:
    if archive_dir is not None and cipher is None:
        raise ClaimsError("retention: --archive needs CLAIMS_ENCRYPTION_KEY (archives are encrypted)")
    cut = policy.cutoffs(now or datetime.now(UTC))
    with engines.connection(staging_dsn, "staging") as sconn, engines.connection(production_dsn, "production") as pconn:
        pconn.autocommit = True
        run_id = rows.open_run(pconn, actor, not execute, {k: v.isoformat() for k, v in cut.items()})
        pconn.autocommit = False
        report = Report(run_id, not execute, {k: v.isoformat() for k, v in cut.items()})
        if not execute:
            report.counts = {
                "failed_claims_phi_purged": rows.count_failed_phi(pconn, cut["failed_phi"]),
                "staging_claims_retired": rows.count_retirable(sconn, cut["staging"]),
                "dead_letters_deleted": rows.count_dead_letters(sconn, cut["staging"]),
                "change_log_deleted": rows.count_change_log(pconn, cut["change_log"]),
            }
            sconn.rollback()
            pconn.rollback()
        else:
            prefix = f"retention-{run_id}"
            with _archive_file(archive_dir, f"{prefix}-failed-phi.jsonl") as out:
                report.counts["failed_claims_phi_purged"] = _purge_failed_phi(pconn, cut["failed_phi"], out)
            with _archive_file(archive_dir, f"{prefix}-staging.jsonl") as out:
                report.counts["staging_claims_retired"] = _retire_staging(sconn, cut["staging"], run_id, out, cipher)
            with sconn.transaction():
                report.counts["dead_letters_deleted"] = rows.delete_dead_letters(sconn, cut["staging"])
            with pconn.transaction():
                report.counts["change_log_deleted"] = rows.delete_change_log(pconn, cut["change_log"])
            if archive_dir is not None:
                report.archive = str(archive_dir / f"{prefix}-*.jsonl")
        pconn.autocommit = True
        rows.close_run(pconn, run_id, report.counts, report.archive)
    return report


def _purge_failed_phi(conn: Any, cutoff: datetime, out: IO[str] | None) -> int:
    total = 0
    while True:
        with conn.transaction():
            batch = rows.failed_phi_batch(conn, cutoff, BATCH)
            if not batch:
                return total
            if out is not None:
                for failed_id, claim_id, payload in batch:
                    # Already Fernet ciphertext: archived as it is, opened with the same keys.
                    line = {"failed_claim_id": failed_id, "claim_id": claim_id,
                            "encrypted_payload": base64.b64encode(payload).decode()}  # fmt: skip
                    out.write(json.dumps(line) + "\n")
                _sync(out)
            total += rows.purge_failed_phi(conn, [b[0] for b in batch])


def _retire_staging(conn: Any, cutoff: datetime, run_id: int, out: IO[str] | None, cipher: MultiFernet | None) -> int:
    total = 0
    while True:
        with conn.transaction():
            ids = rows.pick_retirable(conn, cutoff, BATCH)
            if not ids:
                return total
            if out is not None and cipher is not None:
                for claim in staging.load_claims(conn, ids):
                    token = cipher.encrypt(claim_to_payload(claim)).decode()
                    out.write(json.dumps({"claim_id": claim.claim_id, "encrypted_claim": token}) + "\n")
                _sync(out)
            total += rows.retire(conn, ids, run_id)
