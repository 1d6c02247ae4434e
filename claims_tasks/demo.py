"""`claims-tasks demo`: the whole job on local defaults, with a real worker and beat as child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import click

from claims_tasks import tasks
from claims_tasks.bootstrap import ensure_encryption_key, init_databases
from claims_tasks.broker import check_broker, describe
from claims_tasks.config import Settings, get_settings
from claims_tasks.errors import ClaimsError
from claims_tasks.progress import watch
from db import engines
from db.ledger import reconcile
from db.seed import seed_claims

RUN_DIR = Path("var")


@contextmanager
def child(name: str, argv: list[str], log: Path) -> Iterator[subprocess.Popen]:
    """A celery process for the demo's lifetime; stopped warm (SIGTERM), then cold if it lingers."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, env=os.environ.copy())
    click.echo(f"  started {name} (pid {proc.pid}), log: {log}")
    try:
        time.sleep(0.5)
        if proc.poll() is not None:
            raise ClaimsError(f"{name} exited at start with status {proc.returncode}; see {log}")
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        click.echo(f"  stopped {name}")


def celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "claims_tasks", *args]


def run_demo(claims: int, concurrency: int, timeout: float) -> None:
    settings: Settings = get_settings()
    click.echo("1/6 init: databases, migrations, reference data")
    key_file = ensure_encryption_key(settings)
    if key_file:
        get_settings.cache_clear()
        settings = get_settings()
        click.echo(f"  wrote a development encryption key to {key_file} (keep it out of git)")
    report = init_databases(settings)
    click.echo(f"  created: {', '.join(report.created) or 'nothing new'}; reference rows: {report.reference_rows}")
    click.echo(f"  model: {report.model}")
    check_broker(settings.broker_url)

    click.echo(f"2/6 seed {claims:,} synthetic claims into staging")
    seeded = seed_claims(settings.staging_dsn, claims, invalid_share=0.05, production_dsn=settings.production_dsn)
    click.echo(
        f"  {seeded.claims:,} claims, {seeded.lines:,} lines, {seeded.invalid:,} deliberately invalid, "
        f"in {seeded.seconds:.1f}s"
    )

    logs = RUN_DIR / "log"
    with ExitStack() as stack:
        click.echo(f"3/6 start a worker (-c {concurrency}) on every shard queue")
        stack.enter_context(
            child(
                "worker",
                celery("worker", "-c", str(concurrency), "-n", "demo@%h", "--loglevel", "INFO"),
                logs / "worker.log",
            )
        )
        click.echo("4/6 dispatch, then start beat for what arrives later")
        result = tasks.run_dispatch()
        if result is None:
            raise ClaimsError("nothing to dispatch: another dispatcher took the new claims")
        click.echo(
            f"  batch {result.batch_id}: {result.claims:,} claims in {result.chunks:,} chunks "
            f"over shards {sorted(result.per_shard)} ({result.seconds:.2f}s)"
        )
        stack.enter_context(
            child(
                "beat",
                celery("beat", "--loglevel", "INFO", "--schedule", str(RUN_DIR / "celerybeat-schedule")),
                logs / "beat.log",
            )
        )
        click.echo("5/6 watch")
        started = time.monotonic()
        progress = watch(settings.staging_dsn, result.batch_id, timeout=timeout)
        seconds = time.monotonic() - started
        click.echo(
            f"  {progress.processed:,} claims in {seconds:.1f}s = {progress.processed / seconds:,.0f} "
            "claims/s end to end"
        )
        click.echo("6/6 reconcile")
        ledger = reconcile(
            settings.staging_dsn, settings.production_dsn, result.batch_id, settings.production_shard_dsns()
        )
        click.echo(f"  {ledger.as_dict()}")
        if not ledger.ok:
            raise ClaimsError(f"reconcile of batch {result.batch_id} is not ok")

    click.echo(
        "\nWhere to look:\n"
        f"  production claims   psql {engines.describe(settings.production_dsn)}\n"
        "                      (tables claims, claim_lines, claim_diagnoses, failed_claims)\n"
        f"  staging ledger      psql {engines.describe(settings.staging_dsn)}\n"
        "                      (staging.claims.status, staging.batches)\n"
        f"  broker              redis {describe(settings.broker_url)}\n"
        f"  ledger check        claims-tasks reconcile --batch {result.batch_id} --json\n"
        f"  logs                {logs}/worker.log, {logs}/beat.log\n"
        "  run it yourself     celery -A claims_tasks worker  |  celery -A claims_tasks beat  |  "
        "celery -A claims_tasks flower"
    )
