"""Scratch databases for benchmarks: created, migrated and dropped by the benchmark itself."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from db import engines, reference

PG = os.environ.get("CLAIMS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")


@contextmanager
def scratch_staging() -> Iterator[str]:
    dsn = f"{PG}/bench_{uuid.uuid4().hex[:8]}_staging"
    engines.ensure_database(dsn, "staging")
    try:
        engines.migrate(dsn, "staging")
        with engines.connection(dsn, "staging") as conn:
            reference.load_reference(conn)
            conn.commit()
        yield dsn
    finally:
        engines.drop_database(dsn)
