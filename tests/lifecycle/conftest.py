"""A processed batch of seeded claims (valid and invalid, several facilities) for the lifecycle tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from claims_tasks.config import Settings
from claims_tasks.records import ChunkCounts
from claims_tasks.resources import WorkerResources, build_resources
from db.seed import seed_claims
from tests.failures.helpers import process_all


@dataclass
class Processed:
    batch_id: str
    counts: list[ChunkCounts]
    res: WorkerResources

    @property
    def done(self) -> int:
        return sum(c.done + c.review for c in self.counts)

    @property
    def failed(self) -> int:
        return sum(c.failed for c in self.counts)


@pytest.fixture
def processed(clean: Settings) -> Iterator[Processed]:
    seed_claims(clean.staging_dsn, 400, facilities=6, invalid_share=0.25, seed=9)
    res = build_resources(clean)
    try:
        batch_id, counts = process_all(clean, res)
        yield Processed(batch_id, counts, res)
    finally:
        res.close()
