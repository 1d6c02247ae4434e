"""Per-statement timings and a slow-query log, for every statement a worker's pooled connections run.

Connections get TrackedCursor as their cursor factory (claims_tasks.resources does it for the pools), so
`conn.execute`, `cursor.execute`/`executemany` and `cursor.copy` are timed where they are issued: wall
time from sending to the last row, i.e. what the statement cost the worker, server time included. The
process keeps counts and totals per statement and hands them over with drain() (the chunk's metrics
flush them to Redis: query_calls / query_seconds by statement); a statement slower than the threshold
also goes to the slow-query log (a capped Redis list) with its text — never its parameters, which may be
patient data. `claims-tasks index-advice` reads that log.

Statements are named "<VERB> <first table>#<hash of the text>": short enough for a metric label, stable
across processes and machines, one series per distinct statement text.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

SLOW_LOG_KEY = "claims_tasks:slow_queries"
QUERY_TEXTS_KEY = "claims_tasks:query_texts"
SLOW_LOG_CAP = 1000

_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|COPY|JOIN)\s+\(?\s*([A-Za-z_][\w.]*)", re.IGNORECASE)


def statement_name(text: str) -> str:
    """'SELECT claims#1a2b3c': the verb, the first table named, and a digest of the whole text."""
    words = text.split(None, 1)
    if not words:  # psycopg_pool's check on checkout: an empty query, one round trip
        return "connection check"
    verb = words[0].upper()
    table = _TABLE.search(text)
    digest = hashlib.blake2b(" ".join(text.split()).encode(), digest_size=3).hexdigest()
    return f"{verb} {table.group(1) if table else '-'}#{digest}"


@dataclass
class _Stats:
    calls: int = 0
    seconds: float = 0.0
    slowest: float = 0.0


@dataclass
class QueryTracker:
    """Counts, totals and slow statements since the last drain(); one per process, thread-safe."""

    slow_seconds: float = 0.5
    stats: dict[str, _Stats] = field(default_factory=dict)
    slow: list[dict[str, Any]] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict)
    _by_name: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def name_of(self, query: Any) -> str:
        text = query if isinstance(query, str) else _text(query)
        name = self._names.get(text)
        if name is None:
            name = self._names[text] = statement_name(text)
            self.texts[name] = self._by_name[name] = text
        return name

    def text_of(self, name: str) -> str | None:
        return self._by_name.get(name)

    def record(self, query: Any, seconds: float) -> None:
        name = self.name_of(query)
        with self._lock:
            s = self.stats.get(name)
            if s is None:
                s = self.stats[name] = _Stats()
            s.calls += 1
            s.seconds += seconds
            s.slowest = max(s.slowest, seconds)
            if seconds >= self.slow_seconds and len(self.slow) < SLOW_LOG_CAP:
                self.slow.append({"at": time.time(), "statement": name, "ms": round(seconds * 1000, 1)})

    def drain(self) -> tuple[dict[str, _Stats], list[dict[str, Any]], dict[str, str]]:
        """What was recorded since the last drain, and the texts of statements seen for the first time."""
        with self._lock:
            stats, slow, texts = self.stats, self.slow, self.texts
            self.stats, self.slow, self.texts = {}, [], {}
        return stats, slow, texts


TRACKER = QueryTracker()


def _text(query: Any) -> str:
    if isinstance(query, bytes):
        return query.decode()
    if isinstance(query, sql.Composable):
        try:
            return query.as_string(None)
        except Exception:  # a Composed that needs a connection to render
            return repr(query)
    return str(query)


class TrackedCursor(psycopg.Cursor):  # type: ignore[type-arg]
    """A cursor that reports the time of each statement to TRACKER."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return super().execute(query, params, **kwargs)
        finally:
            TRACKER.record(query, time.perf_counter() - started)

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:
        started = time.perf_counter()
        try:
            super().executemany(query, params_seq, **kwargs)
        finally:
            TRACKER.record(query, time.perf_counter() - started)

    @contextmanager
    def copy(self, statement: Any, params: Any = None, **kwargs: Any) -> Iterator[Any]:  # type: ignore[override]
        started = time.perf_counter()
        try:
            with super().copy(statement, params, **kwargs) as copy:
                yield copy
        finally:
            TRACKER.record(statement, time.perf_counter() - started)


def flush(client: Any, metrics: Any) -> None:
    """Move what TRACKER holds into a MetricsBatch (counters) and the slow log; best effort."""
    stats, slow, texts = TRACKER.drain()
    for name, s in stats.items():
        metrics.inc("query_calls", s.calls, statement=name)
        metrics.inc("query_seconds", s.seconds, statement=name)
    if not (slow or texts):
        return
    try:
        with client.pipeline(transaction=False) as pipe:
            # A slow statement's text goes again with it: Redis keeps nothing on disk, and after a restart
            # the log would otherwise name statements whose text this process sent only once.
            for name in {e["statement"] for e in slow} - texts.keys():
                if (text := TRACKER.text_of(name)) is not None:
                    texts[name] = text
            for name, text in texts.items():
                pipe.hsetnx(QUERY_TEXTS_KEY, name, text)
            if slow:
                pipe.lpush(SLOW_LOG_KEY, *(json.dumps(e) for e in slow))
                pipe.ltrim(SLOW_LOG_KEY, 0, SLOW_LOG_CAP - 1)
            pipe.execute()
    except Exception:  # metrics never fail the work they describe
        TRACKER.texts.update(texts)  # try again with the next flush
