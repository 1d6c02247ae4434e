"""`claims-tasks`: the operator's command line. Errors an operator can act on print one line, exit 2."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import kombu.exceptions
import psycopg

from claims_tasks import logs
from claims_tasks.analytics_cli import analytics
from claims_tasks.apikey_cli import apikey
from claims_tasks.cli_failures import COMMANDS as failure_commands
from claims_tasks.config import get_settings
from claims_tasks.errors import ClaimsError
from claims_tasks.lifecycle_cli import COMMANDS as lifecycle_commands
from claims_tasks.model_cli import model_info, train
from claims_tasks.perf_cli import COMMANDS as perf_commands
from claims_tasks.roles_cli import roles
from claims_tasks.x12_cli import import_837


class _Group(click.Group):
    """Turns the failures an operator can act on into one line on stderr, without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClaimsError as exc:
            message = str(exc)
        except kombu.exceptions.OperationalError as exc:
            message = f"broker unreachable: {exc}"
        except psycopg.OperationalError as exc:
            message = f"database error: {str(exc).strip().splitlines()[-1] if str(exc).strip() else exc!r}"
        click.echo(f"claims-tasks: {message}", err=True)
        ctx.exit(2)


@click.group(cls=_Group)
@click.option("--log-level", default="WARNING", show_default=True, help="Logging level for this command.")
def main(log_level: str) -> None:
    """Move claims from staging to production with a Celery fleet."""
    logs.configure(log_level.upper())


@main.command()
def init() -> None:
    """Create both databases if missing, migrate, load reference data, train a model if none; safe twice."""
    from claims_tasks.bootstrap import ensure_encryption_key, init_databases

    settings = get_settings()
    key_file = ensure_encryption_key(settings)
    report = init_databases(settings)
    click.echo(f"databases created: {', '.join(report.created) or 'none (already there)'}")
    click.echo(
        "migrations: staging and production at head"
        if not report.production_schema
        else f"migrations: staging at head; production: {report.production_schema}"
    )
    click.echo("reference data: " + ", ".join(f"{k} {v}" for k, v in report.reference_rows.items()))
    click.echo(
        "production reference rows changed: " + ", ".join(f"{k} {v}" for k, v in report.production_reference.items())
    )
    click.echo(f"model: {report.model}")
    if key_file:
        click.echo(f"wrote a development encryption key to {key_file} (not for production; keep out of git)")


@main.command()
@click.option("--claims", "n", type=click.IntRange(min=1), required=True, help="How many claims to create.")
@click.option("--facilities", type=click.IntRange(1, 9999), default=20, show_default=True)
@click.option(
    "--invalid-share",
    type=click.FloatRange(0, 1),
    default=0.05,
    show_default=True,
    help="Share of claims given one deliberate defect (recorded in staging.seed_defects).",
)
@click.option("--seed", type=int, default=None, help="Random seed, for repeatable data.")
def seed(n: int, facilities: int, invalid_share: float, seed: int | None) -> None:
    """Write realistic synthetic claims into staging with COPY."""
    from db.seed import seed_claims

    settings = get_settings()
    result = seed_claims(settings.staging_dsn, n, facilities=facilities, invalid_share=invalid_share, seed=seed,
                         production_dsn=settings.production_dsn)  # fmt: skip
    click.echo(
        f"seeded {result.claims:,} claims ({result.lines:,} lines, {result.diagnoses:,} diagnoses, "
        f"{result.invalid:,} invalid) in {result.seconds:.1f}s "
        f"= {result.claims / result.seconds:,.0f} claims/s; "
        f"ids {result.first_claim_id}..{result.last_claim_id}"
    )


@main.command()
@click.option("--max-claims", type=click.IntRange(min=1), default=None, help="Dispatch at most this many.")
def dispatch(max_claims: int | None) -> None:
    """Queue every new claim as chunks on its facility's shard queue (one dispatcher at a time)."""
    from claims_tasks.broker import check_broker
    from claims_tasks.tasks import run_dispatch

    check_broker(get_settings().broker_url)
    result = run_dispatch(max_claims=max_claims)
    if result is None:
        click.echo("nothing dispatched (no new claims, or another dispatcher holds the lock)")
        return
    shards = ", ".join(f"{s}:{n:,}" for s, n in sorted(result.per_shard.items()))
    click.echo(
        f"batch {result.batch_id}: {result.claims:,} claims in {result.chunks:,} chunks "
        f"(shard:claims {shards}) in {result.seconds:.2f}s"
    )
    click.echo(result.batch_id)


@main.command()
@click.argument("batch_id")
@click.option("--timeout", type=float, default=None, help="Give up after this many seconds (exit 2).")
def watch(batch_id: str, timeout: float | None) -> None:
    """Show a batch's progress live until it is finished."""
    from claims_tasks.progress import watch as watch_batch

    watch_batch(get_settings().staging_dsn, batch_id, timeout=timeout)


@main.command()
@click.option("--batch", "batch_id", default=None, help="Only this batch (default: the whole ledger).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def reconcile(batch_id: str | None, as_json: bool) -> None:
    """Check the ledger: every claim in exactly one place. Exit status 1 when not ok."""
    from db.ledger import reconcile as run_reconcile

    settings = get_settings()
    report = run_reconcile(settings.staging_dsn, settings.production_dsn, batch_id, settings.production_shard_dsns())
    doc = report.as_dict()
    if as_json:
        click.echo(json.dumps(doc))
    else:
        click.echo(f"ledger {'of batch ' + batch_id if batch_id else '(all batches)'}: {report.total:,} claims")
        for state, n in report.states.items():
            click.echo(f"  {state:<9} {n:>12,}")
        for name in ("missing", "duplicates", "unexpected", "line_mismatches", "in_flight"):
            click.echo(f"  {name:<16} {doc[name]:>5,}")
        click.echo("ok" if report.ok else "NOT OK")
    sys.exit(0 if report.ok else 1)


@main.command()
@click.option("--claims", "n", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option("--concurrency", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--timeout", type=float, default=900, show_default=True)
def demo(n: int, concurrency: int, timeout: float) -> None:
    """init, seed, start a worker and beat, dispatch, watch, reconcile, stop them; print where to look."""
    from claims_tasks.demo import run_demo

    run_demo(n, concurrency, timeout)


main.add_command(apikey)
main.add_command(train)
main.add_command(model_info)
main.add_command(import_837)
main.add_command(roles)
for _command in (*failure_commands, *lifecycle_commands):
    main.add_command(_command)
main.add_command(analytics)
for _command in perf_commands:  # explain, index-advice
    main.add_command(_command)

if __name__ == "__main__":
    main()
