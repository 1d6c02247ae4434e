"""The X12 tests' database fixture: the shared `clean`, plus the interchanges table it leaves alone."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from claims_tasks.config import Settings


@pytest.fixture
def x12_clean(clean: Settings) -> Iterator[Settings]:
    with psycopg.connect(clean.staging_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE staging.x12_interchanges")
    yield clean
