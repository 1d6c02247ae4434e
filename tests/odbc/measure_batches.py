"""Rows per second of the ODBC writer's staging step by fast_executemany batch size, through psqlODBC.

    python -m tests.odbc.measure_batches postgresql://postgres@127.0.0.1:5432/SCRATCH_DB [rows]

SCRATCH_DB must hold the production schema (alembic) and nothing worth keeping: claims tables are emptied.
Writes a chunk's claims, lines and diagnoses (rows claims, 2 lines and 2 diagnoses each) with each batch
size, three runs each, and prints the median of the whole write (stage + move + commit) and of the
staging inserts alone. docs/SQLSERVER.md quotes the figures.
"""

from __future__ import annotations

import statistics
import sys
import time

import psycopg

from db.writers.odbc import OdbcWriter
from tests.odbc.support import odbc_dsn
from tests.odbc.test_odbc_writer import _write


def main(pg_dsn: str, rows: int = 4000) -> None:
    write = _write(rows, failed=0)
    write.lines += [(r[0], 2, *r[2:]) for r in write.lines]
    write.diagnoses += [(r[0], 2, "I10") for r in write.diagnoses]
    for batch in (1, 50, 200, 1000, 2000, 4000, 8000):
        # row by row (batch 1): a smaller sample
        write_once = _write(500, failed=0) if batch == 1 and rows > 500 else write
        writer = OdbcWriter(odbc_dsn(pg_dsn, **_options()), pool_size=1, batch_rows=batch)
        totals, stages = [], []
        for _ in range(3):
            with psycopg.connect(pg_dsn, autocommit=True) as pg:
                pg.execute("TRUNCATE claims, claim_lines, claim_diagnoses")
            with writer.session() as s:
                t0 = time.perf_counter()
                n = sum(len(x) for x in (write_once.claims, write_once.lines, write_once.diagnoses))
                s.write_rows(write_once)
                s.commit()
                totals.append(n / (time.perf_counter() - t0))
                # the staging inserts alone, for claims
                t0 = time.perf_counter()
                staged = s._stage(s.dialect.target_stage(_claims()), write_once.claims, s._convert(_claims()))
                stages.append(staged / (time.perf_counter() - t0))
                s.rollback()
        writer.close()
        print(f"batch {batch:>5}: write {statistics.median(totals):>8,.0f} rows/s   "
              f"claims staging {statistics.median(stages):>8,.0f} rows/s")  # fmt: skip


def _options() -> dict[str, str]:
    """psqlODBC options to try, from the environment: ODBC_OPTIONS="UseServerSidePrepare=0;Fetch=1000"."""
    import os

    pairs = [p.split("=", 1) for p in os.environ.get("ODBC_OPTIONS", "").split(";") if "=" in p]
    return {k: v for k, v in pairs}


def _claims():  # type: ignore[no-untyped-def]
    from db.writers.dialects import CLAIMS

    return CLAIMS


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
