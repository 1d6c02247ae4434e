"""Run dispatch and the pipeline in-process against the test databases (for failure-path tests that
exercise the data paths directly; the queue paths are tested with real workers elsewhere)."""

from __future__ import annotations

from claims_tasks import dispatch as dispatcher
from claims_tasks import pipeline
from claims_tasks.config import Settings
from claims_tasks.records import ChunkCounts
from claims_tasks.resources import WorkerResources


def process_all(settings: Settings, res: WorkerResources) -> tuple[str, list[ChunkCounts]]:
    chunks: list[tuple[str, list[str]]] = []
    result = dispatcher.dispatch(settings.staging_dsn, lambda b, _s, ids, _p: chunks.append((b, ids)),
                                 shards=settings.shards, chunk_size=settings.chunk_size,
                                 page_size=settings.dispatch_page_size)  # fmt: skip
    assert result is not None
    return result.batch_id, [pipeline.process_chunk(res, b, ids) for b, ids in chunks]


def retry_ids(counts: list[ChunkCounts]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for c in counts:
        for priority, ids in c.retry.items():
            out.setdefault(priority, []).extend(ids)
    return out
