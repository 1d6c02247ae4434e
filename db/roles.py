"""Least-privilege database roles: what `claims-tasks roles` creates and grants, in both databases.

- the **worker** role (workers, beat's tasks, the API's review actions): reads staging and production, and
  writes exactly the tables the pipeline writes, with the statements it uses (a claim is never DELETEd
  from staging, reference data is never written, nothing is TRUNCATEd, no DDL, no API keys);
- the **reader** role (the API's auditor paths, reporting): SELECT on everything, and INSERT on the PHI
  audit trail alone, since reading a failed claim must leave a record (it cannot change or delete one).

The migrations' owner (the DSN `init` runs with) keeps everything else: DDL, seeding, imports, retention,
partitions, materialized views. Grants name tables, so run `claims-tasks roles` again after migrations
(it is idempotent); tables a migration has not created yet are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

STAGING = "staging"
PRODUCTION = "public"

REFERENCE_TABLES = (
    "facilities", "payers", "financial_classes", "rvu_values", "icd10_editions", "icd10_codes", "hcpcs_codes",
    "modifiers", "mue_limits", "ncci_pairs", "payer_prior_auth", "reference_versions",
)  # fmt: skip
# table -> privileges, per database schema. Everything not listed: no access at all for the worker.
WORKER_GRANTS: dict[str, dict[str, str]] = {
    STAGING: {
        "claims": "SELECT, UPDATE",  # dispatch marks queued; outcomes; operator corrections
        # The dispatcher takes pages out of it; triggers on claims (s0009) add to it, with the writer's rights.
        "dispatch_inbox": "SELECT, INSERT, DELETE",
        "claim_lines": "SELECT, INSERT, DELETE",  # corrections replace a claim's lines
        "claim_diagnoses": "SELECT, INSERT, DELETE",
        "batches": "SELECT, INSERT, UPDATE",
        "dead_letters": "SELECT, INSERT, UPDATE",
        "retired_claims": "SELECT",
        **dict.fromkeys(REFERENCE_TABLES, "SELECT"),
    },
    PRODUCTION: {
        "claims": "SELECT, INSERT, UPDATE, DELETE",  # DELETE: compensation of a failed staging flip
        "claim_lines": "SELECT, INSERT, DELETE",  # amendments replace lines
        "claim_diagnoses": "SELECT, INSERT, DELETE",
        "failed_claims": "SELECT, INSERT, UPDATE, DELETE",
        "review_actions": "SELECT, INSERT",
        "claim_history": "SELECT, INSERT",
        "batch_score_chunks": "SELECT, INSERT, UPDATE",
        "batch_scores": "SELECT, INSERT, UPDATE",
        # Kept by triggers on claims and failed_claims (p0006), which run with the writer's rights.
        "claim_ids": "SELECT, INSERT, UPDATE, DELETE",
        "change_log": "INSERT",
        # The reference masters the rules check (p0008): read through claims_tasks/reference_cache.py;
        # written by the sync that `init` and reference loads run as the owner, never by a worker.
        "facilities": "SELECT",
        "payers": "SELECT",
        "financial_classes": "SELECT",
    },
}
# The reader: SELECT on every table of the schema, plus these.
READER_EXTRA: dict[str, dict[str, str]] = {PRODUCTION: {"phi_reads": "INSERT"}}


@dataclass
class RolesReport:
    created: list[str] = field(default_factory=list)
    granted: dict[str, int] = field(default_factory=dict)  # "role@database" -> tables granted on


def _existing(conn: psycopg.Connection, schema: str) -> set[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm')",
        (schema,),
    )
    return {name for (name,) in rows}


def ensure_role(conn: psycopg.Connection, name: str, password: str | None) -> bool:
    """Create a LOGIN role (no superuser, no CREATEDB, no CREATEROLE); set its password when given.
    True when it was created."""
    created = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is None
    if created:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(sql.Identifier(name)))
    if password is not None:
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))
    return created


def grant(conn: psycopg.Connection, schema: str, worker: str, reader: str) -> dict[str, int]:
    """Revoke what the two roles hold in this schema, then grant exactly the lists above."""
    tables = _existing(conn, schema)
    ident = sql.Identifier
    for role in (worker, reader):
        conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(ident(schema), ident(role)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(ident(schema), ident(role)))
    counts = {worker: 0, reader: 0}
    for table, privileges in WORKER_GRANTS.get(schema, {}).items():
        if table in tables:
            conn.execute(sql.SQL("GRANT {} ON {} TO {}").format(
                sql.SQL(privileges), ident(schema, table), ident(worker)))  # fmt: skip
            counts[worker] += 1
    conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(ident(schema), ident(reader)))
    counts[reader] = len(tables)
    for table, privileges in READER_EXTRA.get(schema, {}).items():
        if table in tables:
            conn.execute(sql.SQL("GRANT {} ON {} TO {}").format(
                sql.SQL(privileges), ident(schema, table), ident(reader)))  # fmt: skip
    # bigserial ids: a role that may INSERT into a table draws from its sequence (USAGE: nextval only).
    conn.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}, {}").format(
        ident(schema), ident(worker), ident(reader)))  # fmt: skip
    for role, grants in ((worker, WORKER_GRANTS), (reader, READER_EXTRA)):
        inserting = [t for t, privileges in grants.get(schema, {}).items() if "INSERT" in privileges and t in tables]
        for sequence in _sequences_of(conn, schema, inserting):
            conn.execute(sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(ident(schema, sequence), ident(role)))
    return counts


def _sequences_of(conn: psycopg.Connection, schema: str, tables: list[str]) -> list[str]:
    """The sequences behind these tables' serial and identity columns."""
    rows = conn.execute(
        """
        SELECT DISTINCT s.relname FROM pg_class s
        JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')
        JOIN pg_class t ON t.oid = d.refobjid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE s.relkind = 'S' AND n.nspname = %s AND t.relname = ANY(%s)
        """,
        (schema, tables),
    )
    return sorted(name for (name,) in rows)


def create_roles(
    staging_dsn: str,
    production_dsn: str,
    worker: str,
    reader: str,
    worker_password: str | None = None,
    reader_password: str | None = None,
) -> RolesReport:
    """Create (if missing) and grant both roles, connected with the migrations' owner DSNs. Idempotent."""
    from db import engines

    report = RolesReport()
    for target, dsn, schema in (("staging", staging_dsn, STAGING), ("production", production_dsn, PRODUCTION)):
        with engines.connection(dsn, target) as conn, conn.transaction():
            # Roles are cluster-wide: created once, whichever database the connection is to.
            for name, password in ((worker, worker_password), (reader, reader_password)):
                if ensure_role(conn, name, password):
                    report.created.append(name)
            counts = grant(conn, schema, worker, reader)
        for role, n in counts.items():
            report.granted[f"{role}@{engines.database_name(dsn)}"] = n
    return report


def drop_roles(staging_dsn: str, production_dsn: str, *names: str) -> None:
    """Take the roles' privileges away in both databases and drop them (tests; decommissioning)."""
    from db import engines

    for target, dsn in (("staging", staging_dsn), ("production", production_dsn)):
        with engines.connection(dsn, target, autocommit=True) as conn:
            for name in names:
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                    conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
    with engines.connection(staging_dsn, "staging", autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
