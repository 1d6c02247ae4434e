"""Table definitions for both databases; Alembic migrations are generated from and checked against these.

Staging is loose on purpose (text codes, wide numerics) so that whatever arrives can be stored and then
rejected by a rule with a clear code, rather than refused at insert time and lost. Production is strict.
"""

from __future__ import annotations

import re

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "pk": "pk_%(table_name)s",
}

STAGING_SCHEMA = "staging"
staging_metadata = MetaData(schema=STAGING_SCHEMA, naming_convention=NAMING)
production_metadata = MetaData(naming_convention=NAMING)

STATUS_CHECK = "status IN ('new','queued','done','failed','review','resolved')"
# failed_claims.status: open ones are the claim's current outcome; closed ones are history.
OPEN_FAILED = ("new", "retrying", "review")
CLOSED_FAILED = ("repaired", "resolved", "voided")


def _updated_at() -> Column:
    return Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now())


# ---------------------------------------------------------------- staging
staging_claims = Table(
    "claims",
    staging_metadata,
    Column("claim_id", Text, primary_key=True),
    Column("facility_id", Text),
    Column("patient_account_number", Text),
    Column("patient_first_name", Text),
    Column("patient_last_name", Text),
    Column("date_of_birth", Date),
    Column("sex", Text),
    Column("subscriber_id", Text),
    Column("payer_id", Text),
    Column("financial_class", Text),
    Column("billing_npi", Text),
    Column("rendering_npi", Text),
    Column("place_of_service", Text),
    Column("claim_frequency", Text),
    Column("service_from", Date),
    Column("service_to", Date),
    Column("total_charge", Numeric(16, 2)),
    Column("prior_auth_number", Text),
    Column("received_at", DateTime(timezone=True)),
    # Filled by the X12 837 import (docs/X12.md); null for claims from elsewhere.
    Column("claim_type", Text),  # 837P or 837I
    Column("bill_type", Text),  # 837I: CLM05-1 facility type + CLM05-3 frequency, e.g. 131
    Column("referring_npi", Text),
    Column("attending_npi", Text),
    Column("service_facility_npi", Text),
    Column("x12_interchange_id", BigInteger),  # staging.x12_interchanges.id (no FK: COPY speed)
    Column("status", Text, nullable=False, server_default="new"),
    Column("batch_id", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("queued_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    _updated_at(),
    CheckConstraint(STATUS_CHECK, name="status"),
    # No index names status, batch_id, queued_at or updated_at, and 55 % of each page stays free: the two
    # status flips of every claim are then heap-only updates (s0009). New claims are found in dispatch_inbox.
    # Duplicate lookup (s0003). Hash, not btree (s0007): a btree refuses values above ~2.7 kB, and staging
    # must store whatever arrives.
    Index("ix_claims_subscriber", "subscriber_id", postgresql_using="hash"),
    postgresql_with={"fillfactor": 45},
)

# Claims waiting for the dispatcher, filled by triggers on staging.claims (s0009), emptied as pages are taken.
staging_dispatch_inbox = Table("dispatch_inbox", staging_metadata, Column("claim_id", Text, primary_key=True))

staging_claim_lines = Table(
    "claim_lines",
    staging_metadata,
    Column("claim_id", Text, primary_key=True),
    Column("line_number", SmallInteger, primary_key=True),
    Column("procedure_code", Text),
    Column("modifiers", ARRAY(Text)),
    Column("units", Numeric(12, 3)),
    Column("line_charge", Numeric(16, 2)),
    Column("service_date", Date),
    Column("place_of_service", Text),
    Column("diagnosis_pointers", ARRAY(SmallInteger)),
    # Filled by the X12 837 import: DTP*472 RD8 range end, SV201 revenue code, SV103/SV204 unit basis.
    Column("service_date_to", Date),
    Column("revenue_code", Text),
    Column("unit_basis", Text),
)

staging_claim_diagnoses = Table(
    "claim_diagnoses",
    staging_metadata,
    Column("claim_id", Text, primary_key=True),
    Column("sequence", SmallInteger, primary_key=True),
    Column("icd10_code", Text),
    Column("qualifier", Text),  # X12 HI qualifier (ABK principal, ABF other, ABJ admitting) when imported
)


def _reference_masters(metadata: MetaData) -> tuple[Table, Table, Table]:
    """facilities, payers, financial_classes: loaded into staging, and copied to production (p0008), where the
    rules check claims against them (db/production_reference.py keeps the copies in step; the cache is
    claims_tasks/reference_cache.py). One definition, so the two cannot drift apart."""

    def active() -> Column:
        return Column("active", Boolean, nullable=False, server_default="true")

    return (
        Table(
            "facilities",
            metadata,
            Column("facility_id", Text, primary_key=True),
            Column("name", Text, nullable=False),
            Column("npi", Text),
            Column("state", Text),
            active(),
        ),
        Table(
            "payers",
            metadata,
            Column("payer_id", Text, primary_key=True),
            Column("name", Text, nullable=False),
            Column("payer_type", Text),
            active(),
        ),
        Table(
            "financial_classes",
            metadata,
            Column("code", Text, primary_key=True),
            Column("description", Text, nullable=False),
            active(),
        ),
    )


facilities, payers, financial_classes = _reference_masters(staging_metadata)

rvu_values = Table(
    "rvu_values",
    staging_metadata,
    Column("procedure_code", Text, primary_key=True),
    Column("description", Text, nullable=False),
    Column("work_rvu", Numeric(8, 2), nullable=False),
    Column("pe_rvu", Numeric(8, 2), nullable=False),
    Column("mp_rvu", Numeric(8, 2), nullable=False),
    Column("conversion_factor", Numeric(9, 4), nullable=False),
)

# Edit-catalogue reference tables (s0003): loaded by db/reference.py, read by db/edit_reference.py.
icd10_editions = Table(
    "icd10_editions",
    staging_metadata,
    Column("edition", Text, primary_key=True),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=False),
    Column("source", Text, nullable=False),
)

icd10_codes = Table(
    "icd10_codes",
    staging_metadata,
    Column("edition", Text, primary_key=True),
    Column("code", Text, primary_key=True),
    Column("billable", Boolean, nullable=False),
)

hcpcs_codes = Table(
    "hcpcs_codes",
    staging_metadata,
    Column("procedure_code", Text, primary_key=True),
    Column("description", Text, nullable=False),
)

modifiers = Table(
    "modifiers",
    staging_metadata,
    Column("modifier", Text, primary_key=True),
    Column("description", Text, nullable=False),
)

mue_limits = Table(
    "mue_limits",
    staging_metadata,
    Column("procedure_code", Text, primary_key=True),
    Column("max_units", Integer, nullable=False),
    Column("mai", SmallInteger, nullable=False),
    CheckConstraint("max_units > 0", name="max_units"),
    CheckConstraint("mai IN (1, 2, 3)", name="mai"),
)

ncci_pairs = Table(
    "ncci_pairs",
    staging_metadata,
    Column("column1", Text, primary_key=True),
    Column("column2", Text, primary_key=True),
    Column("modifier_indicator", SmallInteger, nullable=False),
    Column("rationale", Text),
    CheckConstraint("modifier_indicator IN (0, 1)", name="modifier_indicator"),
)

payer_prior_auth = Table(
    "payer_prior_auth",
    staging_metadata,
    Column("payer_id", Text, primary_key=True),
    Column("procedure_code", Text, primary_key=True),
    Column("service", Text),
)

# One row per reference set; load_reference bumps `version` when it changed something, and workers
# reload their cached reference data when the version they hold is not the current one.
reference_versions = Table(
    "reference_versions",
    staging_metadata,
    Column("name", Text, primary_key=True),
    Column("version", BigInteger, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

seed_defects = Table(
    "seed_defects",
    staging_metadata,
    Column("claim_id", Text, primary_key=True),
    Column("defect", Text, nullable=False),
    Column("expected_rule", Text, nullable=False),
)

# One row per imported X12 interchange: what makes re-importing a file (same bytes, or the same ISA
# sender/receiver/control number) import nothing twice. See docs/X12.md.
x12_interchanges = Table(
    "x12_interchanges",
    staging_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("sha256", Text, nullable=False, unique=True),
    Column("file_name", Text, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("sender_qualifier", Text, nullable=False),
    Column("sender_id", Text, nullable=False),
    Column("receiver_qualifier", Text, nullable=False),
    Column("receiver_id", Text, nullable=False),
    Column("control_number", Text, nullable=False),
    Column("usage", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("transaction_sets", Integer, nullable=False, server_default="0"),
    Column("claims", Integer, nullable=False, server_default="0"),
    Column("duplicates", Integer, nullable=False, server_default="0"),
    Column("imported_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(
        "ux_x12_interchanges_control",
        "sender_qualifier",
        "sender_id",
        "receiver_qualifier",
        "receiver_id",
        "control_number",
        unique=True,
    ),
)

# Batch progress lives beside the ledger: a chunk's status flip and its batch counters commit together,
# so a batch is `finished` exactly when the ledger says every claim of it has an outcome.
batches = Table(
    "batches",
    staging_metadata,
    Column("batch_id", Text, primary_key=True),
    Column("status", Text, nullable=False, server_default="dispatching"),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("chunks", Integer, nullable=False, server_default="0"),
    Column("done", Integer, nullable=False, server_default="0"),
    Column("failed", Integer, nullable=False, server_default="0"),
    Column("review", Integer, nullable=False, server_default="0"),
    # Failed claims later closed without production (voided, written off) move here from `failed`.
    Column("resolved", Integer, nullable=False, server_default="0"),
    Column("shards", Integer, nullable=False),
    Column("chunk_size", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("dispatched_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('dispatching','running','finished','aborted')", name="status"),
    # /batches pages newest first.
    Index("ix_batches_created_at", "created_at"),
)

# Chunks given up on (retries exhausted or a non-transient error). Kept beside the ledger, so a row can be
# written while the production database is the thing that is down. One row per task and arguments.
dead_letters = Table(
    "dead_letters",
    staging_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("task_name", Text, nullable=False),
    Column("args", JSONB, nullable=False),
    Column("args_digest", Text, nullable=False, unique=True),
    Column("queue", Text, nullable=False),
    Column("batch_id", Text),
    Column("exception", Text, nullable=False),
    Column("traceback", Text),
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("replays", Integer, nullable=False, server_default="0"),
    Column("status", Text, nullable=False, server_default="dead"),
    Column("first_seen", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_seen", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_replayed_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('dead','replayed','resolved','purged')", name="status"),
    Index("ix_dead_letters_status", "status"),
)

# ---------------------------------------------------------------- production
production_claims = Table(
    "claims",
    production_metadata,
    Column("claim_id", Text, primary_key=True),
    Column("facility_id", Text, nullable=False),
    Column("patient_account_number", Text),
    Column("patient_first_name", Text, nullable=False),
    Column("patient_last_name", Text, nullable=False),
    Column("date_of_birth", Date, nullable=False),
    Column("sex", Text, nullable=False),
    Column("subscriber_id", Text, nullable=False),
    Column("payer_id", Text, nullable=False),
    Column("financial_class", Text),
    Column("billing_npi", Text, nullable=False),
    Column("rendering_npi", Text),
    Column("place_of_service", Text),
    Column("claim_frequency", Text, nullable=False),
    # Partitioned by service year (p0006): the primary key must hold the partition key; claim_id alone
    # stays unique through the claim_ids registry below.
    Column("service_from", Date, primary_key=True),
    Column("service_to", Date, nullable=False),
    Column("total_charge", Numeric(12, 2), nullable=False),
    Column("prior_auth_number", Text),
    Column("received_at", DateTime(timezone=True)),
    Column("batch_id", Text, nullable=False),
    Column("expected_reimbursement", Numeric(12, 2)),
    Column("predicted_filter", Text),
    Column("denial_risk", Float),
    Column("model_version", Text),
    # Which A/B variant scored the claim, and whether its denial risk sent it to review (issue 4).
    Column("model_variant", Text),
    Column("routed_to_review", Boolean, nullable=False, server_default=text("false")),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Amendments (frequency 7 replaces, 8 voids) keep the row as the current version; earlier versions go
    # to claim_history.
    Column("version", Integer, nullable=False, server_default="1"),
    Column("status", Text, nullable=False, server_default="active"),
    Column("amended_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('active','voided')", name="status"),
    Index("ix_claims_batch_id", "batch_id"),
    Index("ix_claims_facility_service", "facility_id", "service_from"),
    Index("ix_claims_subscriber_dob", "subscriber_id", "date_of_birth"),  # duplicate lookup (p0005)
    postgresql_partition_by="RANGE (service_from)",
)

production_claim_lines = Table(
    "claim_lines",
    production_metadata,
    Column("claim_id", Text, primary_key=True),
    Column("line_number", SmallInteger, primary_key=True),
    # An 837I line may name its service by revenue code only (p0007); the rules require one of the two.
    Column("procedure_code", Text),
    Column("modifiers", ARRAY(Text)),
    Column("units", Numeric(12, 3), nullable=False),
    Column("line_charge", Numeric(12, 2), nullable=False),
    Column("service_date", Date),
    Column("place_of_service", Text),
    Column("diagnosis_pointers", ARRAY(SmallInteger)),
    Column("revenue_code", Text),  # NUBC revenue code (837I SV201)
)

production_claim_diagnoses = Table(
    "claim_diagnoses",
    production_metadata,
    Column("claim_id", Text, primary_key=True),
    Column("sequence", SmallInteger, primary_key=True),
    Column("icd10_code", Text, nullable=False),
)

production_facilities, production_payers, production_financial_classes = _reference_masters(production_metadata)

failed_claims = Table(
    "failed_claims",
    production_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("claim_id", Text, nullable=False),
    Column("batch_id", Text, nullable=False),
    Column("facility_id", Text),
    Column("failure_category", Text, nullable=False),
    Column("rule_codes", ARRAY(Text), nullable=False),
    Column("failures", JSONB, nullable=False),
    Column("encrypted_payload", LargeBinary, nullable=False),
    Column("priority", SmallInteger, nullable=False, server_default="5"),
    Column("status", Text, nullable=False, server_default="new"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("assigned_to", Text),
    Column("resolution", Text),
    Column("potential_revenue", Numeric(14, 2)),
    # Automated repairs applied, as [{"repair": code, "fields": [...]}] — field names only, no values.
    Column("repairs", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    _updated_at(),
    Column("resolved_at", DateTime(timezone=True)),
    # Set by `claims-tasks retention` when it purged the encrypted payload of a closed failure (issue 9).
    Column("phi_purged_at", DateTime(timezone=True)),
    CheckConstraint(
        "failure_category IN ('validation','coding','eligibility','duplicate','data_quality','system')",
        name="category",
    ),
    CheckConstraint(f"status IN {OPEN_FAILED + CLOSED_FAILED}", name="status"),
    # At most one open failure per claim; closed ones stay as history when a claim fails again later.
    Index(
        "uq_failed_claims_open_claim",
        "claim_id",
        unique=True,
        postgresql_where=text(f"status IN {OPEN_FAILED}"),
    ),
    Index("ix_failed_claims_claim_id", "claim_id"),
    Index("ix_failed_claims_category_status", "failure_category", "status"),
    Index("ix_failed_claims_status_priority", "status", "priority"),
    Index("ix_failed_claims_batch_id", "batch_id"),
)

review_actions = Table(
    "review_actions",
    production_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("failed_claim_id", BigInteger),
    Column("claim_id", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("notes", Text),
    # Workflow state and the names of changed fields; claim values stay in the encrypted payloads.
    Column("before", JSONB, nullable=False),
    Column("after", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_review_actions_claim_id", "claim_id"),
)

claim_history = Table(
    "claim_history",
    production_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("claim_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("claim", JSONB, nullable=False),
    Column("lines", JSONB, nullable=False),
    Column("diagnoses", JSONB, nullable=False),
    Column("actor", Text, nullable=False),
    Column("superseded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("reason IN ('replaced','voided')", name="reason"),
    Index("uq_claim_history_version", "claim_id", "version", unique=True),
)

# ---------------------------------------------------------------- production: API access (issue 6)
# API keys: only a SHA-256 of the secret is stored (the secret is 256 random bits, so a slow hash adds
# nothing); the role comes from this row, never from the request. Keys are revoked, never deleted, so the
# audit trail below keeps pointing at them.
api_keys = Table(
    "api_keys",
    production_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("key_prefix", Text, nullable=False),
    Column("key_hash", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
    CheckConstraint("role IN ('auditor','user','admin')", name="role"),
)

# Every view of a failed claim's decrypted data through the API: who, when, which claim, what was shown.
phi_reads = Table(
    "phi_reads",
    production_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("read_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column(
        "api_key_id",
        BigInteger,
        ForeignKey("api_keys.id", name="fk_phi_reads_api_key_id_api_keys"),
        nullable=False,
    ),
    Column("key_name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("failed_claim_id", BigInteger),
    Column("claim_id", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("disclosed", Boolean, nullable=False),
    Column("fields", ARRAY(Text), nullable=False),
    Column("correlation_id", Text),
    Index("ix_phi_reads_claim_id", "claim_id"),
    Index("ix_phi_reads_read_at", "read_at"),
)

# ---------------------------------------------------------------- production: model drift (issue 4)
# Denial-risk histograms: one row per chunk message and model, written in the transaction that writes the
# chunk's claims and replaced (not added to) when the same message is processed again; and per batch the
# sums with their population-stability index against the training distribution (`expected`).
batch_score_chunks = Table(
    "batch_score_chunks",
    production_metadata,
    Column("batch_id", Text, primary_key=True),
    Column("model_version", Text, primary_key=True),
    Column("variant", Text, primary_key=True),
    Column("chunk_key", Text, primary_key=True),
    Column("bins", ARRAY(BigInteger), nullable=False),
    Column("scored", Integer, nullable=False),
)

batch_scores = Table(
    "batch_scores",
    production_metadata,
    Column("batch_id", Text, primary_key=True),
    Column("model_version", Text, primary_key=True),
    Column("variant", Text, primary_key=True),
    Column("bins", ARRAY(BigInteger), nullable=False),
    Column("expected", ARRAY(Float), nullable=False),
    Column("scored", BigInteger, nullable=False),
    Column("psi", Float),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# ---------------------------------------------------------------- data lifecycle (issue 9)
# claims' partitions (db/partitions.py): tables of their own to PostgreSQL, the parent's to the models, so
# schema comparisons (alembic/env.py, tests/test_migrations.py) leave them out by this name pattern.
CLAIMS_PARTITION_NAME = re.compile(r"^claims_(default|y\d{4})$")


def is_claims_partition(name: str | None) -> bool:
    return bool(name and CLAIMS_PARTITION_NAME.match(name))


# Every claim_id in production claims, whatever its partition: the unique key the partitioned table cannot
# have. Kept by statement-level triggers on claims (p0006) in the writing statement's transaction.
claim_ids = Table(
    "claim_ids",
    production_metadata,
    Column("claim_id", Text, primary_key=True),
    Column("service_from", Date, nullable=False),
)

# Change data capture (db/cdc.py): the key of each changed row of claims and failed_claims, written by triggers.
# Readers go by (xid, id) below the oldest running transaction, so no change is ever skipped.
change_log = Table(
    "change_log",
    production_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("xid", BigInteger, nullable=False, server_default=text("(pg_current_xact_id())::text::bigint")),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("table_name", Text, nullable=False),
    Column("op", Text, nullable=False),
    Column("claim_id", Text),
    Column("row_id", BigInteger),  # failed_claims.id (a claim may have several failed_claims rows)
    Index("ix_change_log_xid_id", "xid", "id"),
    Index("ix_change_log_changed_at", "changed_at"),
)

# One row per `claims-tasks retention` run, dry runs included: who, when, the cut-offs, what it did.
retention_runs = Table(
    "retention_runs",
    production_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Column("actor", Text, nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("cutoffs", JSONB, nullable=False),
    Column("counts", JSONB, nullable=False),
    Column("archive", Text),
)

# When each analytics materialized view (sql/materialized_views.sql) was last refreshed, and how long it took.
analytics_refreshes = Table(
    "analytics_refreshes",
    production_metadata,
    Column("view_name", Text, primary_key=True),
    Column("refreshed_at", DateTime(timezone=True), nullable=False),
    Column("seconds", Float, nullable=False),
)

# What the ledger keeps of a staging claim that retention removed (final states only; no patient data).
retired_claims = Table(
    "retired_claims",
    staging_metadata,
    Column("claim_id", Text, primary_key=True),
    Column("status", Text, nullable=False),
    Column("batch_id", Text),
    Column("lines", Integer, nullable=False),
    Column("diagnoses", Integer, nullable=False),
    Column("retired_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("retention_run", BigInteger),
    CheckConstraint("status IN ('done','resolved')", name="status"),
    Index("ix_retired_claims_batch_id", "batch_id"),
)
