"""Backup and restore of both databases around pg_dump / pg_restore (custom format), with a manifest.

`backup` writes <dir>/staging.dump, <dir>/production.dump and <dir>/manifest.json (sizes, SHA-256, server
version, Alembic revisions, row counts of the tables that make the ledger). `restore` checks the
checksums, creates the target databases when missing, refuses targets that already hold tables unless
`force` (then pg_restore --clean), restores, and compares the row counts with the manifest.

Passwords never appear on a command line (where `ps` shows them): the DSN is passed without it and the
password through PGPASSWORD in the child's environment. Partitions, triggers (claim-id registry, change
capture) and materialized views restore as they were: data is loaded into each partition directly, which
fires none of the parent's statement triggers, and the registry and change log come from the dump.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg

from claims_tasks.errors import ClaimsError
from db import engines

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
# Counted at backup and after restore: the ledger's tables on each side.
COUNTED = {
    "staging": ("staging.claims", "staging.claim_lines", "staging.claim_diagnoses", "staging.batches",
                "staging.retired_claims"),
    "production": ("claims", "claim_ids", "claim_lines", "claim_diagnoses", "failed_claims", "change_log"),
}  # fmt: skip


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ClaimsError(f"{name} is not installed (PostgreSQL client tools: apt-get install postgresql-client-15)")
    return path


def _libpq(dsn: str) -> tuple[str, dict[str, str]]:
    """(DSN without its password, environment carrying it)."""
    parts = urlsplit(dsn)
    env = dict(os.environ)
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0]
        parts = parts._replace(netloc=f"{user}@{netloc[1]}")
    return urlunsplit(parts._replace(scheme="postgresql")), env


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ClaimsError(f"{what} failed (exit {done.returncode}): {detail}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _counts(dsn: str, role: str) -> dict[str, int]:
    with engines.connection(dsn, role, autocommit=True) as conn:
        return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in COUNTED[role]}  # type: ignore[index]  # nosec B608 # table names are this module's constants


def _facts(dsn: str, role: str) -> dict[str, Any]:
    table = "staging.alembic_version" if role == "staging" else "alembic_version"
    with engines.connection(dsn, role, autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        revisions = [r[0] for r in conn.execute(f"SELECT version_num FROM {table} ORDER BY 1")]  # nosec B608 # table names are this module's constants
    return {"server_version": version[0] if version else None, "revisions": revisions}


def backup(staging_dsn: str, production_dsn: str, out_dir: Path) -> dict[str, Any]:
    pg_dump = _tool("pg_dump")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ClaimsError(f"backup: {out_dir} is not empty; give a new directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(out_dir, 0o700)  # the dumps hold PHI
    manifest: dict[str, Any] = {"format": FORMAT_VERSION, "created_at": datetime.now(UTC).isoformat(), "databases": {}}
    for role, dsn in (("staging", staging_dsn), ("production", production_dsn)):
        target = out_dir / f"{role}.dump"
        plain, env = _libpq(dsn)
        # The manifest's counts and the dump read one exported snapshot, so they agree while writers run.
        with engines.connection(dsn, role) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()
            counts = {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in COUNTED[role]}  # type: ignore[index]  # nosec B608 # table names are this module's constants
            _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot[0]}",  # type: ignore[index]
                  f"--file={target}", f"--dbname={plain}"],
                 env, f"pg_dump of the {role} database at {engines.describe(dsn)}")  # fmt: skip
            conn.rollback()
        os.chmod(target, 0o600)
        manifest["databases"][role] = {
            "file": target.name, "bytes": target.stat().st_size, "sha256": _sha256(target),
            "database": engines.database_name(dsn), "counts": counts, **_facts(dsn, role),
        }  # fmt: skip
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(backup_dir: Path) -> dict[str, Any]:
    path = backup_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ClaimsError(f"restore: {path} does not exist (not a `claims-tasks backup` directory)") from None
    except ValueError as exc:
        raise ClaimsError(f"restore: {path} is not valid JSON: {exc}") from None
    if manifest.get("format") != FORMAT_VERSION or set(manifest.get("databases", {})) != set(COUNTED):
        raise ClaimsError(f"restore: {path} is not a format-{FORMAT_VERSION} manifest of both databases")
    for entry in manifest["databases"].values():
        dump = backup_dir / entry["file"]
        if not dump.is_file():
            raise ClaimsError(f"restore: {dump} is missing")
        if _sha256(dump) != entry["sha256"]:
            raise ClaimsError(f"restore: {dump} does not match its checksum in the manifest (corrupt or altered)")
    return manifest


def _has_tables(dsn: str, role: str) -> bool:
    with engines.connection(dsn, role, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
    return bool(row and row[0])


def restore(
    backup_dir: Path, staging_dsn: str, production_dsn: str, *, force: bool = False
) -> dict[str, dict[str, int]]:
    pg_restore = _tool("pg_restore")
    manifest = read_manifest(backup_dir)
    targets = {"staging": staging_dsn, "production": production_dsn}
    for role, dsn in targets.items():
        engines.ensure_database(dsn, role)
        if _has_tables(dsn, role) and not force:
            raise ClaimsError(
                f"restore: the {role} database at {engines.describe(dsn)} already has tables; "
                "restore into an empty one, or give --force to replace them"
            )
    checked: dict[str, dict[str, int]] = {}
    for role, dsn in targets.items():
        entry = manifest["databases"][role]
        plain, env = _libpq(dsn)
        argv = [pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                f"--dbname={plain}"]  # fmt: skip
        if force:
            argv += ["--clean", "--if-exists"]
        _run(
            [*argv, str(backup_dir / entry["file"])],
            env,
            f"pg_restore into the {role} database at {engines.describe(dsn)}",
        )
        counts = _counts(dsn, role)
        if counts != entry["counts"]:
            diff = {t: (entry["counts"].get(t), n) for t, n in counts.items() if entry["counts"].get(t) != n}
            raise ClaimsError(f"restore: {role} row counts differ from the manifest (backup, restored): {diff}")
        checked[role] = counts
    return checked
