"""Import X12 837 files into staging: each file in one transaction, rows by COPY, nothing twice.

A file is read as a stream (claims_tasks.x12) and written in blocks of claims, three COPYs per block,
all inside one staging transaction: a malformed file — even one found malformed at its last segment —
rolls back whole and leaves nothing behind. Claims become visible to the dispatcher only at commit.

Nothing is imported twice:
- a file whose bytes (sha256) were imported before is skipped before it is parsed;
- an interchange whose ISA sender, receiver and control number were imported before from other bytes is
  refused (X12 TA1 code 025, duplicate interchange control number);
- a claim whose claim_id is already in staging (the id is a digest of sender, billing provider, payer,
  subscriber, patient and the claim's own segments) is skipped and counted as a duplicate, so a claim
  sent again inside a new interchange is not staged twice.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import psycopg

from claims_tasks.x12 import (
    CLAIM_COLUMNS,
    DIAGNOSIS_COLUMNS,
    LINE_COLUMNS,
    ClaimRows,
    Interchange,
    Lookups,
    Trailer,
    X12Error,
    payer_aliases,
    read_837,
)
from db import engines

BLOCK_CLAIMS = 5_000
_HASH_CHUNK = 1 << 20

# Text COPY with '' as NULL: the rows are text already (claims_tasks.x12.rows), so a block is a few joins.
# Text format gives a backslash, tab, CR or LF meaning. The tokenizer lets no CR or LF through; a block
# with a backslash, or with more tabs than its columns make (a tab delimiter can reach a raw composite
# value), goes as CSV instead, where the csv module quotes them. Both are very rare in X12.
_TABLES = (
    ("claims", (*CLAIM_COLUMNS, "x12_interchange_id")),
    ("claim_lines", LINE_COLUMNS),
    ("claim_diagnoses", DIAGNOSIS_COLUMNS),
)
_COPY_TEXT = [f"COPY staging.{t} ({', '.join(cols)}) FROM STDIN WITH (NULL '')" for t, cols in _TABLES]
_COPY_CSV = [f"COPY staging.{t} ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv)" for t, cols in _TABLES]


@dataclass
class FileResult:
    """What importing one file did. status: imported, already (same bytes imported before) or failed."""

    path: str
    status: str
    claims: int = 0
    duplicates: int = 0
    transaction_sets: int = 0
    seconds: float = 0.0
    interchange_id: int | None = None
    control_number: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def load_lookups(conn: psycopg.Connection) -> Lookups:
    """Facility NPIs (active or not: an inactive facility still identifies the claim, and
    FACILITY_UNKNOWN then says it is inactive), payer ids, and the EDI payer aliases file."""
    by_npi: dict[str, str] = {}
    for facility_id, npi in conn.execute(
        "SELECT facility_id, npi FROM staging.facilities WHERE npi IS NOT NULL ORDER BY facility_id"
    ):
        by_npi.setdefault(npi, facility_id)  # two facilities sharing an NPI: the lowest id
    payers = frozenset(row[0] for row in conn.execute("SELECT payer_id FROM staging.payers"))
    return Lookups(facility_by_npi=by_npi, payer_ids=payers, payer_aliases=payer_aliases())


def file_sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _text_blocks(block: Sequence[ClaimRows], interchange_id: int) -> list[str]:
    """The block as COPY text for claims, lines and diagnoses ('' is NULL; values hold no tab or newline)."""
    tail = f"\t{interchange_id}\n"
    claims = "".join(["\t".join([v or "" for v in c.claim]) + tail for c in block])
    lines = "".join(
        [
            "\t".join([v if v.__class__ is str else "" if v is None else str(v) for v in ln]) + "\n"
            for c in block
            for ln in c.lines
        ]
    )
    diagnoses = "".join(
        [f"{cid}\t{seq}\t{code or ''}\t{q or ''}\n" for c in block for cid, seq, code, q in c.diagnoses]
    )
    return [claims, lines, diagnoses]


def _csv_blocks(block: Sequence[ClaimRows], interchange_id: int) -> list[str]:
    """The block as CSV (an unquoted empty field is NULL), for blocks whose values hold a backslash."""
    out = []
    for rows in (
        [(*c.claim, interchange_id) for c in block],
        [ln for c in block for ln in c.lines],
        [d for c in block for d in c.diagnoses],
    ):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        out.append(buf.getvalue())
    return out


def _copy_block(conn: psycopg.Connection, block: Sequence[ClaimRows], interchange_id: int) -> None:
    data = _text_blocks(block, interchange_id)
    statements = _COPY_TEXT
    n_lines = sum(len(c.lines) for c in block)
    n_dx = sum(len(c.diagnoses) for c in block)
    tabs = (len(block) * len(CLAIM_COLUMNS), n_lines * (len(LINE_COLUMNS) - 1), n_dx * (len(DIAGNOSIS_COLUMNS) - 1))
    if any("\\" in text or text.count("\t") != n for text, n in zip(data, tabs, strict=True)):
        data, statements = _csv_blocks(block, interchange_id), _COPY_CSV
    with conn.cursor() as cur:
        for statement, text in zip(statements, data, strict=True):
            if text:
                with cur.copy(statement) as copy:
                    copy.write(text.encode())


def _write_block(conn: psycopg.Connection, block: list[ClaimRows], interchange_id: int) -> tuple[int, int]:
    """COPY a block of claims; returns (written, duplicates). The common case is one attempt inside a
    savepoint; only when a claim_id is already there (an earlier file, or earlier in this one) does it
    look the block's ids up and write the new ones."""
    if not block:
        return 0, 0
    try:
        with conn.transaction():
            _copy_block(conn, block, interchange_id)
        return len(block), 0
    except psycopg.errors.UniqueViolation:
        pass
    ids = [c.claim_id for c in block]
    seen = {row[0] for row in conn.execute("SELECT claim_id FROM staging.claims WHERE claim_id = ANY(%s)", (ids,))}
    fresh = []
    for c in block:
        if c.claim_id not in seen:
            seen.add(c.claim_id)
            fresh.append(c)
    if fresh:
        with conn.transaction():
            _copy_block(conn, fresh, interchange_id)
    return len(fresh), len(block) - len(fresh)


class _BlockWriter:
    """Writes blocks on a thread of its own, so that reading the next block (Python, this process's CPU)
    overlaps the COPY of the last one (the database's CPU). At most `depth` blocks wait, so memory stays
    bounded; the reading thread must not touch the connection between start and close."""

    _DONE: ClassVar[list[ClaimRows]] = []  # the end marker, compared by identity

    def __init__(self, conn: psycopg.Connection, interchange_id: int, depth: int = 2) -> None:
        self.conn = conn
        self.interchange_id = interchange_id
        self.queue: queue.Queue[list[ClaimRows]] = queue.Queue(maxsize=depth)
        self.written = self.duplicates = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="x12-copy", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (block := self.queue.get()) is not self._DONE:
            if self.error is not None:
                continue  # keep draining, so that put() never blocks on a dead writer
            try:
                w, d = _write_block(self.conn, block, self.interchange_id)
                self.written += w
                self.duplicates += d
            except BaseException as exc:  # handed to the reading thread, which raises it
                self.error = exc

    def put(self, block: list[ClaimRows]) -> None:
        self._raise()
        self.queue.put(block)

    def close(self) -> None:
        """Wait for every queued block (or the failure); safe to call more than once."""
        if self.thread.is_alive():
            self.queue.put(self._DONE)
            self.thread.join()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def finish(self) -> tuple[int, int]:
        self.close()
        self._raise()
        return self.written, self.duplicates


def _already(conn: psycopg.Connection, path: Path, sha: str, started: float) -> FileResult | None:
    row = conn.execute(
        "SELECT id, control_number, file_name, imported_at FROM staging.x12_interchanges WHERE sha256 = %s",
        (sha,),
    ).fetchone()
    if row is None:
        return None
    return FileResult(
        str(path),
        "already",
        seconds=time.perf_counter() - started,
        interchange_id=row[0],
        control_number=row[1],
        message=f"already imported as interchange {row[0]} from {row[2]} at {row[3]:%Y-%m-%d %H:%M:%S%z}",
    )


def _register(conn: psycopg.Connection, path: Path, sha: str, size: int, head: Interchange) -> tuple[int | None, str]:
    """Insert the interchange row (locks its sha256 and control number against a concurrent import of
    the same file). Returns (id, "") or (None, why not)."""
    key = (head.sender_qualifier, head.sender_id, head.receiver_qualifier, head.receiver_id)
    clash = conn.execute(
        "SELECT id, file_name FROM staging.x12_interchanges WHERE (sender_qualifier, sender_id, "
        "receiver_qualifier, receiver_id, control_number) = (%s, %s, %s, %s, %s)",
        (*key, head.control_number),
    ).fetchone()
    if clash is not None:
        return None, (
            f"interchange control number {head.control_number} from sender {head.sender_id} was already "
            f"imported (interchange {clash[0]}, file {clash[1]}) with different content; a new "
            "transmission needs a new ISA13"
        )
    row = conn.execute(
        "INSERT INTO staging.x12_interchanges (sha256, file_name, bytes, sender_qualifier, sender_id,"
        " receiver_qualifier, receiver_id, control_number, usage, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
        (sha, path.name, size, *key, head.control_number, head.usage, head.created_at),
    ).fetchone()
    if row is None:
        return None, "imported concurrently by another command"
    return int(row[0]), ""


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector. Reading a file makes millions of short-lived containers and
    keeps up to three blocks of claims alive; every full collection walks all of them, ~20 % of the
    import's CPU. Nothing the import makes is cyclic, so reference counting frees it all anyway."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def import_file(conn: psycopg.Connection, path: Path, lookups: Lookups, block_claims: int = BLOCK_CLAIMS) -> FileResult:
    """Import one file in one transaction on conn (which must not be in a transaction). Raises X12Error
    for a malformed file and OSError for an unreadable one; either way nothing of the file is written."""
    with _no_cyclic_gc():
        return _import_file(conn, path, lookups, block_claims)


def _import_file(conn: psycopg.Connection, path: Path, lookups: Lookups, block_claims: int) -> FileResult:
    started = time.perf_counter()
    sha, size = file_sha256(path)
    name = str(path)
    with path.open("rb") as fh, conn.transaction():
        done = _already(conn, path, sha, started)
        if done is not None:
            return done
        items = read_837(fh, name, lookups)
        head = next(items)
        assert isinstance(head, Interchange)
        interchange_id, refused = _register(conn, path, sha, size, head)
        if interchange_id is None:
            raise X12Error(name, 1, "ISA", refused)
        trailer: Trailer | None = None
        block: list[ClaimRows] = []
        writer = _BlockWriter(conn, interchange_id)
        try:
            for item in items:
                if type(item) is ClaimRows:
                    block.append(item)
                    if len(block) >= block_claims:
                        writer.put(block)
                        block = []
                else:
                    assert isinstance(item, Trailer)
                    trailer = item
            writer.put(block)
            written, duplicates = writer.finish()
        finally:
            writer.close()  # a malformed file: let the writer stop before the transaction rolls back
        assert trailer is not None  # read_837 raises when the file ends before IEA
        conn.execute(
            "UPDATE staging.x12_interchanges SET transaction_sets = %s, claims = %s, duplicates = %s WHERE id = %s",
            (trailer.transaction_sets, written, duplicates, interchange_id),
        )
    return FileResult(
        name,
        "imported",
        claims=written,
        duplicates=duplicates,
        transaction_sets=trailer.transaction_sets,
        seconds=time.perf_counter() - started,
        interchange_id=interchange_id,
        control_number=head.control_number,
    )


def import_files(staging_dsn: str, paths: Iterable[Path], block_claims: int = BLOCK_CLAIMS) -> list[FileResult]:
    """Import each file in its own transaction. A rejected file does not stop the others: each file is
    an independent interchange, and its result says what happened to it. A database that is down stops
    the command (the caller's one-line error), leaving the files imported so far committed."""
    results: list[FileResult] = []
    with engines.connection(staging_dsn, "staging") as conn:
        lookups = load_lookups(conn)
        conn.rollback()
        for path in paths:
            started = time.perf_counter()
            try:
                results.append(import_file(conn, path, lookups, block_claims))
            except X12Error as exc:
                results.append(_failed(path, started, str(exc)))
            except OSError as exc:
                results.append(_failed(path, started, f"{path}: cannot read: {exc.strerror or exc}"))
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                results.append(_failed(path, started, f"{path}: the database refused the file: {reason}"))
    return results


def _failed(path: Path, started: float, message: str) -> FileResult:
    return FileResult(str(path), "failed", seconds=time.perf_counter() - started, message=message)
