"""`claims-tasks watch`: a live progress bar for one batch, read from its counters beside the ledger."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from claims_tasks.errors import ClaimsError
from db import batches, engines
from db.batches import BatchProgress

BAR_WIDTH = 30


def render(p: BatchProgress, rate: float) -> str:
    share = p.processed / p.total if p.total else 0.0
    filled = int(share * BAR_WIDTH)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    return (
        f"{p.batch_id} [{bar}] {p.processed:,}/{p.total:,} {share:6.1%}  "
        f"done {p.done:,} failed {p.failed:,} review {p.review:,}  {rate:,.0f} claims/s  {p.status}"
    )


def watch(
    staging_dsn: str,
    batch_id: str,
    *,
    interval: float = 0.5,
    timeout: float | None = None,
    out: TextIO = sys.stderr,
) -> BatchProgress:
    """Poll until the batch is finished; returns its final counters."""
    tty = out.isatty()
    started = time.monotonic()
    last_print = 0.0
    first: tuple[float, int] | None = None
    with engines.connection(staging_dsn, "staging", autocommit=True) as conn:
        while True:
            progress = batches.get_batch(conn, batch_id)
            if progress is None:
                raise ClaimsError(f"no batch {batch_id!r} in staging.batches")
            now = time.monotonic()
            if first is None:
                first = (now, progress.processed)
            elapsed = now - first[0]
            rate = (progress.processed - first[1]) / elapsed if elapsed > 0 else 0.0
            finished = progress.status in ("finished", "aborted")
            if tty:
                out.write("\r" + render(progress, rate))
                out.flush()
            elif finished or now - last_print >= 5:
                out.write(render(progress, rate) + "\n")
                last_print = now
            if finished:
                if tty:
                    out.write("\n")
                return progress
            if timeout is not None and now - started > timeout:
                if tty:
                    out.write("\n")
                raise ClaimsError(
                    f"batch {batch_id} not finished after {timeout:.0f}s: "
                    f"{progress.processed:,}/{progress.total:,} processed"
                )
            time.sleep(interval)
