"""`claims-tasks roles`: create the least-privilege database roles and grant them (db/roles.py)."""

from __future__ import annotations

import click

from claims_tasks.config import get_settings


@click.command()
@click.option("--worker", default="claims_worker", show_default=True, help="Role for workers and beat's tasks.")
@click.option("--reader", default="claims_reader", show_default=True, help="Read-only role (auditors, reports).")
def roles(worker: str, reader: str) -> None:
    """Create the worker and read-only database roles if missing and grant exactly what each needs, in both
    databases. Run it as the migrations' owner (the DSNs `init` uses), again after every migration; safe
    twice. Passwords come from CLAIMS_WORKER_DB_PASSWORD / CLAIMS_READER_DB_PASSWORD when set."""
    from db.roles import create_roles

    settings = get_settings()
    secret = settings.worker_db_password, settings.reader_db_password
    report = create_roles(
        settings.staging_dsn, settings.production_dsn, worker, reader,
        *(s.get_secret_value() if s is not None else None for s in secret),
    )  # fmt: skip
    click.echo(f"roles created: {', '.join(report.created) or 'none (already there)'}")
    for where, tables in report.granted.items():
        click.echo(f"  {where}: {tables} tables")
    click.echo(f"point workers at the {worker} role and the API's read-only paths at {reader} in their DSNs")
