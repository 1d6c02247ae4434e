"""`claims-tasks partition | retention | backup | restore | cdc`: the production data's lifecycle (issue 9).

Each command reads settings here, at the edge, and hands plain values to db/ and claims_tasks/ modules.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from claims_tasks.config import get_settings
from claims_tasks.errors import ClaimsError


@click.command()
@click.option("--years", default=None, help="Years to partition: 2024, 2019-2023 or 2019-2023,2026.")
@click.option("--list", "show", is_flag=True, help="List claims' partitions (bounds, estimated rows) and exit.")
@click.option("--lock-timeout", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="Seconds to wait for the default partition's lock before retrying.")  # fmt: skip
def partition(years: str | None, show: bool, lock_timeout: float) -> None:
    """Create and attach yearly partitions of production claims; a year's claims already in the default
    partition move into it in one transaction (readers see each claim exactly once throughout)."""
    from db import engines, partitions

    if years is None and not show:
        raise ClaimsError("partition: give --years (e.g. --years 2019-2026) or --list")
    try:
        wanted = partitions.parse_years(years) if years else []
    except ValueError as exc:
        raise ClaimsError(f"--years: {exc}") from None
    with engines.connection(get_settings().production_dsn, "production") as conn:
        if not partitions.is_partitioned(conn):
            raise ClaimsError("production claims is not partitioned: run `claims-tasks init` (migration p0006)")
        for result in partitions.ensure_years(conn, wanted, lock_timeout_s=lock_timeout):
            name = partitions.partition_name(result.year)
            if result.action == "moved":
                click.echo(f"{name}: moved {result.rows_moved:,} claims from claims_default in {result.seconds}s")
            else:
                click.echo(f"{name}: {result.action}")
        if show:
            for info in partitions.list_partitions(conn):
                click.echo(f"{info.name:<16} {info.bound:<55} ~{info.rows:,} rows")


@click.command()
@click.option("--execute", is_flag=True, help="Do it. Without this flag: a dry run that only counts.")
@click.option(
    "--archive",
    "archive_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Before removing anything, write it (encrypted) to a JSON-lines file in this directory.",
)
@click.option(
    "--failed-phi-days",
    type=click.IntRange(min=1),
    default=None,
    help="Purge payloads of failed claims closed more than this many days ago "
    "[default: CLAIMS_RETENTION_FAILED_PHI_DAYS].",
)
@click.option(
    "--staging-days",
    type=click.IntRange(min=1),
    default=None,
    help="Retire final (done/resolved) staging claims older than this [default: CLAIMS_RETENTION_STAGING_DAYS].",
)
@click.option(
    "--change-log-days",
    type=click.IntRange(min=1),
    default=None,
    help="Delete change-capture rows older than this [default: CLAIMS_RETENTION_CHANGE_LOG_DAYS].",
)
@click.option("--actor", default=None, help="Who runs it, for the audit row [default: the OS user].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def retention(execute: bool, archive_dir: Path | None, failed_phi_days: int | None, staging_days: int | None,
              change_log_days: int | None, actor: str | None, as_json: bool) -> None:  # fmt: skip
    """Purge or archive failed-claim PHI and old staging rows past the configured days. Dry run by default;
    every run, dry or not, is a production.retention_runs row. The ledger stays whole (docs/OPERATIONS_RUNBOOK.md)."""
    import getpass

    from claims_tasks import retention as lifecycle
    from claims_tasks.crypto import make_cipher

    settings = get_settings()
    policy = lifecycle.Policy(
        failed_phi_days=failed_phi_days or settings.retention_failed_phi_days,
        staging_days=staging_days or settings.retention_staging_days,
        change_log_days=change_log_days or settings.retention_change_log_days,
    )
    cipher = make_cipher(settings.encryption_keys()) if archive_dir is not None else None
    report = lifecycle.run(
        settings.staging_dsn, settings.production_dsn, policy, execute=execute, archive_dir=archive_dir,
        cipher=cipher, actor=actor or getpass.getuser(),
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps(report.as_dict()))
        return
    click.echo(f"retention run {report.run_id} ({'executed' if execute else 'dry run: nothing changed'})")
    for name, n in report.counts.items():
        click.echo(f"  {name:<28} {n:>10,}")
    if report.archive:
        click.echo(f"  archive: {report.archive}")


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for the dumps and manifest.json (created; must be empty).")  # fmt: skip
def backup(out_dir: Path) -> None:
    """pg_dump both databases (custom format) with a manifest: sizes, checksums, revisions, row counts."""
    from claims_tasks.backup import backup as run_backup

    settings = get_settings()
    manifest = run_backup(settings.staging_dsn, settings.production_dsn, out_dir)
    for name, entry in manifest["databases"].items():
        click.echo(f"{name}: {entry['file']} {entry['bytes']:,} bytes sha256 {entry['sha256'][:12]}…")
    click.echo(str(out_dir / "manifest.json"))


@click.command()
@click.argument("backup_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--staging-dsn", default=None, help="Restore staging here [default: CLAIMS_STAGING_DSN].")
@click.option("--production-dsn", default=None, help="Restore production here [default: CLAIMS_PRODUCTION_DSN].")
@click.option("--force", is_flag=True, help="Replace what the target databases hold (pg_restore --clean).")
def restore(backup_dir: Path, staging_dsn: str | None, production_dsn: str | None, force: bool) -> None:
    """pg_restore a `claims-tasks backup` into both databases (created if missing), then check the row
    counts against its manifest. Refuses a database that already has tables unless --force."""
    from claims_tasks.backup import restore as run_restore

    settings = get_settings()
    checked = run_restore(
        backup_dir, staging_dsn or settings.staging_dsn, production_dsn or settings.production_dsn, force=force
    )
    for name, counts in checked.items():
        click.echo(f"{name}: restored, " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))


@click.command()
@click.option("--from", "position", default=None, help="Start after this position (as printed), e.g. 1234:56.")
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Resume from the position in this file, and keep it up to date (at-least-once).",
)
@click.option("--follow", is_flag=True, help="Keep streaming new changes (LISTEN/NOTIFY) until interrupted.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after this many changes.")
@click.option("--include-phi", is_flag=True, help="Keep patient identifiers in claims rows (masked otherwise).")
def cdc(position: str | None, state_file: Path | None, follow: bool, limit: int | None, include_phi: bool) -> None:
    """Stream production row changes (claims, failed_claims) as JSON lines, each with its position."""
    from claims_tasks.cdc import stream
    from db.cdc import Position

    try:
        start = Position.parse(position) if position else None
        if start is None and state_file is not None and state_file.exists():
            start = Position.parse(state_file.read_text().strip())
    except ValueError as exc:
        raise ClaimsError(f"--from: {exc}") from None
    stream(
        get_settings().production_dsn, start or Position.START, sys.stdout, follow=follow, limit=limit,
        include_phi=include_phi, state_file=state_file,
    )  # fmt: skip


COMMANDS = [partition, retention, backup, restore, cdc]
