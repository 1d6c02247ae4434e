"""Index suggestions from query plans and table statistics. Pure: plans (PostgreSQL's JSON) and figures in,
suggestions out; `claims-tasks index-advice` gathers them (claims_tasks/perf_cli.py).

A suggestion is made where a plan reads a large table sequentially to find a few rows by columns no index
leads with, or where an index scan throws most of what it read away on a filter (with --analyze figures);
and, the other way round, an index nobody has used on a large table is reported, since every COPY and
status flip pays to maintain it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LARGE_TABLE_ROWS = 10_000
# "(c.status = 'queued'::text)", "(claim_id = ANY (...))", "(queued_at < (now() - ...))"
_COMPARISON = re.compile(r"\(\s*(?:\w+\.)?(\w+)\s*(?:=|<>|<=|>=|<|>|~~|IS NULL|IS NOT NULL)")


@dataclass(frozen=True)
class Advice:
    kind: str  # "create" or "drop"
    table: str
    columns: tuple[str, ...]
    reason: str

    @property
    def sql(self) -> str:
        if self.kind == "drop":
            return f"DROP INDEX CONCURRENTLY {self.columns[0]};"
        name = f"ix_{self.table.split('.')[-1]}_{'_'.join(self.columns)}"
        return f"CREATE INDEX CONCURRENTLY {name} ON {self.table} ({', '.join(self.columns)});"


def nodes(plan: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


def filter_columns(condition: str, columns: Sequence[str]) -> tuple[str, ...]:
    """Columns of the table compared in a plan's Filter, in order of first mention."""
    found: list[str] = []
    for name in _COMPARISON.findall(condition):
        if name in columns and name not in found:
            found.append(name)
    return tuple(found)


def _qualified(node: Mapping[str, Any]) -> str:
    schema = node.get("Schema")
    return f"{schema}.{node['Relation Name']}" if schema and schema != "public" else node["Relation Name"]


def _led_by(indexes: Sequence[tuple[str, ...]], columns: tuple[str, ...]) -> bool:
    return any(ix and ix[0] in columns for ix in indexes)


def advise_plan(
    statement: str,
    plan: Mapping[str, Any],
    table_rows: Mapping[str, int],
    table_columns: Mapping[str, Sequence[str]],
    indexes: Mapping[str, Sequence[tuple[str, ...]]],
) -> list[Advice]:
    """Suggestions for one statement's plan (`plan` is the "Plan" node of EXPLAIN's JSON)."""
    out: list[Advice] = []
    for node in nodes(plan):
        if "Relation Name" not in node:
            continue
        table = _qualified(node)
        rows = table_rows.get(table, 0)
        condition = node.get("Filter", "")
        if rows < LARGE_TABLE_ROWS or not condition:
            continue
        columns = filter_columns(condition, table_columns.get(table, ()))
        if not columns:
            continue
        if node["Node Type"] == "Seq Scan" and not _led_by(indexes.get(table, ()), columns):
            out.append(
                Advice(
                    "create",
                    table,
                    columns,
                    f"{statement}: reads all ~{rows:,} rows of {table} to filter on {', '.join(columns)}",
                )
            )
        removed, kept = node.get("Rows Removed by Filter", 0), node.get("Actual Rows", 0)
        if node["Node Type"] in ("Index Scan", "Bitmap Heap Scan") and removed > 10 * max(kept, 1) > 0:
            out.append(Advice("create", table, columns,
                              f"{statement}: an index scan of {table} discards {removed:,} rows for {kept:,} on "
                              f"{', '.join(columns)}"))  # fmt: skip
    return out


def advise_unused(index_stats: Sequence[tuple[str, str, int, int, bool]]) -> list[Advice]:
    """(table, index, scans, table rows, unique or primary) rows -> indexes never scanned on large tables."""
    out = []
    for table, index, scans, rows, unique in index_stats:
        if scans == 0 and rows >= LARGE_TABLE_ROWS and not unique:
            reason = f"{index} on {table} (~{rows:,} rows) has never been scanned; every write maintains it"
            out.append(Advice("drop", table, (index,), reason))
    return out


def merge(advice: Sequence[Advice]) -> list[Advice]:
    """One suggestion per (kind, table, columns), reasons joined."""
    merged: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
    for a in advice:
        merged.setdefault((a.kind, a.table, a.columns), []).append(a.reason)
    return [Advice(k, t, c, "; ".join(dict.fromkeys(r))) for (k, t, c), r in merged.items()]
