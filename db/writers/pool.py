"""A fixed-size pool of pyodbc connections, opened up front, with psycopg_pool's statistics names.

pyodbc has no pool of its own worth using here (unixODBC's driver-manager pooling neither pre-warms nor
reports), so this one is small and explicit: `size` connections opened in parallel when the pool is built
(a chunk never pays a login, which on SQL Server with TLS costs tens of milliseconds), lent out one at a
time, checked on return. A connection that saw a connection-class error is closed and replaced on the next
checkout, so an outage costs the chunks that hit it a retry, not the pool.

get_stats() answers with psycopg_pool's keys (pool_size, pool_available, requests_waiting, …), so
claims_tasks/pool_stats.py publishes it beside the PostgreSQL pools unchanged.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any

from claims_tasks.errors import TransientError
from db.writers import errors

Connect = Callable[[], Any]


class PoolTimeout(TransientError):
    """No connection came free in time: the chunk retries later, like psycopg_pool's PoolTimeout."""


class OdbcPool:
    def __init__(self, connect: Connect, size: int = 20, timeout: float = 10.0, name: str = "production") -> None:
        if size < 1:
            raise ValueError("an ODBC pool needs at least one connection")
        self.name = name
        self.size = size
        self.timeout = timeout
        self._connect = connect
        self._idle: queue.LifoQueue[Any | None] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._stats = {"requests_num": 0, "requests_queued": 0, "requests_wait_ms": 0, "connections_num": 0}
        self._waiting = 0
        self._closed = False
        self._prewarm()

    def _prewarm(self) -> None:
        # In parallel: twenty sequential logins to a remote SQL Server take a second or more.
        with ThreadPoolExecutor(max_workers=min(self.size, 8)) as ex:
            opened = list(ex.map(lambda _: self._open_or_error(), range(self.size)))
        failures = [c for c in opened if isinstance(c, BaseException)]
        for conn in opened:
            if not isinstance(conn, BaseException):
                self._idle.put(conn)
        if failures:
            self.close()
            raise failures[0]

    def _open_or_error(self) -> Any:
        try:
            return self._open()
        except Exception as exc:
            return exc

    def _open(self) -> Any:
        conn = self._connect()
        with self._lock:
            self._stats["connections_num"] += 1
        return conn

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A connection in a fresh transaction; rolled back on the way back unless the caller committed."""
        if self._closed:
            raise RuntimeError(f"ODBC pool {self.name} is closed")
        t0 = time.monotonic()
        with self._lock:
            self._stats["requests_num"] += 1
            self._waiting += 1
            queued = self._idle.empty()
            if queued:
                self._stats["requests_queued"] += 1
        try:
            conn = self._idle.get(timeout=self.timeout)
        except queue.Empty:
            raise PoolTimeout(f"no ODBC connection free in {self.name} pool after {self.timeout}s") from None
        finally:
            with self._lock:
                self._waiting -= 1
                self._stats["requests_wait_ms"] += int((time.monotonic() - t0) * 1000)
        broken = False
        try:
            if conn is None:  # a slot whose connection was dropped: reopen it now
                conn = self._open()
            yield conn
        except BaseException as exc:
            broken = errors.is_odbc_error(exc) and errors.sqlstate(exc).startswith(("08", "HYT"))
            raise
        finally:
            self._give_back(conn, broken)

    def _give_back(self, conn: Any, broken: bool) -> None:
        if conn is not None and not broken:
            try:
                conn.rollback()  # nothing of one chunk's transaction leaks into the next
            except Exception:
                broken = True
        if broken and conn is not None:
            with suppress(Exception):  # already gone
                conn.close()
            conn = None
        self._idle.put(conn)

    def get_stats(self) -> dict[str, int]:
        with self._lock:
            idle = sum(1 for c in list(self._idle.queue) if c is not None)
            return {
                "pool_min": self.size,
                "pool_max": self.size,
                "pool_size": self.size - sum(1 for c in list(self._idle.queue) if c is None),
                "pool_available": idle,
                "requests_waiting": self._waiting,
                **self._stats,
            }

    def wait(self, timeout: float = 30.0) -> None:
        """psycopg_pool's wait(): this pool is full from construction on."""

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return
            if conn is not None:
                with suppress(Exception):  # closing is best effort
                    conn.close()
