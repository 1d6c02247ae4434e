"""data lifecycle (issue 9): claims partitioned by service year with a claim-id registry, change capture,
analytics materialized views, retention audit

Revision ID: p0006
Revises: p0005
Create Date: 2026-11-25 23:00:00

claims becomes a table partitioned by RANGE (service_from). A partitioned table's unique keys must
include the partition key, so its primary key is (claim_id, service_from); claim_id stays unique across
every partition through the registry `claim_ids` (PRIMARY KEY claim_id), kept by statement-level
triggers on claims in the writing statement itself: a second row with a known claim_id — in any
partition — fails with a unique violation, exactly as the old primary key did, so the pipeline's
idempotency (existing_outcomes, COPY, retry on UniqueViolation) is unchanged. See docs/ARCHITECTURE.md.

The existing rows are not copied: the old table is renamed and attached as the DEFAULT partition (its
(claim_id, service_from) index is built once, here). `claims-tasks partition --years` carves yearly
partitions out of it later (db/partitions.py).
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "p0006"
down_revision: str | None = "p0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MATERIALIZED_VIEWS = Path(__file__).resolve().parents[3] / "sql" / "materialized_views.sql"

# The registry follows every statement that writes claims. Transition tables make it one set-based
# statement per COPY or UPDATE, not a trigger call per row.
REGISTRY_FUNCTIONS = """
CREATE FUNCTION claim_ids_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO claim_ids (claim_id, service_from) SELECT claim_id, service_from FROM new_rows;
    RETURN NULL;
END $$;

CREATE FUNCTION claim_ids_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM claim_ids r USING old_rows o WHERE r.claim_id = o.claim_id;
    RETURN NULL;
END $$;

CREATE FUNCTION claim_ids_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM claim_ids r USING old_rows o
     WHERE r.claim_id = o.claim_id AND NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.claim_id = o.claim_id);
    INSERT INTO claim_ids (claim_id, service_from)
    SELECT n.claim_id, n.service_from FROM new_rows n
     WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.claim_id = n.claim_id);
    UPDATE claim_ids r SET service_from = n.service_from FROM new_rows n
     WHERE r.claim_id = n.claim_id AND r.service_from <> n.service_from;
    RETURN NULL;
END $$;

CREATE FUNCTION claim_ids_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE claim_ids;
    RETURN NULL;
END $$;

CREATE TRIGGER trg_claims_registry_insert AFTER INSERT ON claims
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION claim_ids_insert();
CREATE TRIGGER trg_claims_registry_delete AFTER DELETE ON claims
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION claim_ids_delete();
CREATE TRIGGER trg_claims_registry_update AFTER UPDATE ON claims
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION claim_ids_update();
CREATE TRIGGER trg_claims_registry_truncate AFTER TRUNCATE ON claims
    FOR EACH STATEMENT EXECUTE FUNCTION claim_ids_truncate();
"""

# Change capture: one change_log row per changed row — its key, not its values — written by the changing
# statement; NOTIFY wakes `claims-tasks cdc --follow`. The reader attaches each row's state when it reads
# (db/cdc.py): serialising every row here would cost the pipeline's write stage a third of its speed
# (benchmarks/bench_partitioning.py), the key costs it little.
CDC_FUNCTION = """
CREATE FUNCTION cdc_capture() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF TG_TABLE_NAME = 'failed_claims' THEN
            INSERT INTO change_log (table_name, op, claim_id, row_id)
            SELECT TG_TABLE_NAME, 'delete', o.claim_id, o.id FROM old_rows o;
        ELSE
            INSERT INTO change_log (table_name, op, claim_id) SELECT TG_TABLE_NAME, 'delete', o.claim_id FROM old_rows o;
        END IF;
    ELSIF TG_OP IN ('INSERT', 'UPDATE') THEN
        IF TG_TABLE_NAME = 'failed_claims' THEN
            INSERT INTO change_log (table_name, op, claim_id, row_id)
            SELECT TG_TABLE_NAME, lower(TG_OP), n.claim_id, n.id FROM new_rows n;
        ELSE
            INSERT INTO change_log (table_name, op, claim_id) SELECT TG_TABLE_NAME, lower(TG_OP), n.claim_id FROM new_rows n;
        END IF;
    ELSE
        INSERT INTO change_log (table_name, op) VALUES (TG_TABLE_NAME, 'truncate');
    END IF;
    PERFORM pg_notify('claims_cdc', TG_TABLE_NAME);
    RETURN NULL;
END $$;
"""


def _cdc_triggers(table: str) -> str:
    return f"""
CREATE TRIGGER trg_{table}_cdc_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cdc_capture();
CREATE TRIGGER trg_{table}_cdc_update AFTER UPDATE ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cdc_capture();
CREATE TRIGGER trg_{table}_cdc_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cdc_capture();
CREATE TRIGGER trg_{table}_cdc_truncate AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION cdc_capture();
"""


def upgrade() -> None:
    # 1. The registry, filled from the rows there are (claim_id is still the primary key here: no conflict).
    op.create_table(
        "claim_ids",
        sa.Column("claim_id", sa.Text(), nullable=False),
        sa.Column("service_from", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_claim_ids")),
    )
    op.execute("INSERT INTO claim_ids (claim_id, service_from) SELECT claim_id, service_from FROM claims")

    # 2. The old table becomes the DEFAULT partition of a new partitioned `claims` (no rows move).
    op.execute("ALTER TABLE claims RENAME TO claims_default")
    op.execute("ALTER TABLE claims_default DROP CONSTRAINT pk_claims")
    for index, columns in (
        ("ix_claims_batch_id", "batch_id"),
        ("ix_claims_facility_service", "facility_id_service_from"),
        ("ix_claims_subscriber_dob", "subscriber_id_date_of_birth"),
    ):
        op.execute(f"ALTER INDEX {index} RENAME TO claims_default_{columns}_idx")
    op.execute(
        "CREATE TABLE claims (LIKE claims_default INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        " PARTITION BY RANGE (service_from)"
    )
    op.execute("ALTER TABLE claims ADD CONSTRAINT pk_claims PRIMARY KEY (claim_id, service_from)")
    op.execute("ALTER TABLE claims ATTACH PARTITION claims_default DEFAULT")
    # Created on the parent, these adopt the default partition's identical indexes instead of rebuilding.
    op.create_index("ix_claims_batch_id", "claims", ["batch_id"])
    op.create_index("ix_claims_facility_service", "claims", ["facility_id", "service_from"])
    op.create_index("ix_claims_subscriber_dob", "claims", ["subscriber_id", "date_of_birth"])
    op.execute(REGISTRY_FUNCTIONS)

    # 3. Change capture.
    op.create_table(
        "change_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("xid", sa.BigInteger(), server_default=sa.text("(pg_current_xact_id())::text::bigint"),
                  nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("op", sa.Text(), nullable=False),
        sa.Column("claim_id", sa.Text(), nullable=True),
        sa.Column("row_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_log")),
    )  # fmt: skip
    op.create_index("ix_change_log_xid_id", "change_log", ["xid", "id"])
    op.create_index("ix_change_log_changed_at", "change_log", ["changed_at"])
    op.execute(CDC_FUNCTION)
    op.execute(_cdc_triggers("claims"))
    op.execute(_cdc_triggers("failed_claims"))

    # 4. Retention: when a failed claim's payload was purged, and every retention run.
    op.add_column("failed_claims", sa.Column("phi_purged_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("cutoffs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("archive", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )

    # 5. Analytics: materialized views (sql/materialized_views.sql) and when each was last refreshed.
    op.create_table(
        "analytics_refreshes",
        sa.Column("view_name", sa.Text(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("view_name", name=op.f("pk_analytics_refreshes")),
    )
    op.execute(MATERIALIZED_VIEWS.read_text())
    op.execute(
        "INSERT INTO analytics_refreshes (view_name, refreshed_at, seconds) SELECT v, now(), 0 FROM"
        " unnest(ARRAY['analytics_revenue_at_risk', 'analytics_failure_patterns', 'analytics_daily',"
        " 'analytics_hourly']) v"
    )


def downgrade() -> None:
    for view in ("analytics_hourly", "analytics_daily", "analytics_failure_patterns", "analytics_revenue_at_risk"):
        op.execute(f"DROP MATERIALIZED VIEW IF EXISTS {view}")
    op.drop_table("analytics_refreshes")
    op.drop_table("retention_runs")
    op.drop_column("failed_claims", "phi_purged_at")
    for table in ("claims", "failed_claims"):
        for event in ("insert", "update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_cdc_{event} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS cdc_capture()")
    op.drop_table("change_log")
    # Back to one unpartitioned table: every partition's rows into a plain table.
    op.execute("CREATE TABLE claims_flat (LIKE claims INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    op.execute("INSERT INTO claims_flat SELECT * FROM claims")
    op.execute("DROP TABLE claims CASCADE")
    op.execute(
        "DROP FUNCTION IF EXISTS claim_ids_insert(), claim_ids_delete(), claim_ids_update(), claim_ids_truncate()"
    )
    op.execute("ALTER TABLE claims_flat RENAME TO claims")
    op.execute("ALTER TABLE claims ADD CONSTRAINT pk_claims PRIMARY KEY (claim_id)")
    op.create_index("ix_claims_batch_id", "claims", ["batch_id"])
    op.create_index("ix_claims_facility_service", "claims", ["facility_id", "service_from"])
    op.create_index("ix_claims_subscriber_dob", "claims", ["subscriber_id", "date_of_birth"])
    op.drop_table("claim_ids")
