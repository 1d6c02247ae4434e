"""Table definitions for both databases; Alembic migrations are generated from and checked against these.

Staging is loose on purpose (text codes, wide numerics) so that whatever arrives can be stored and then
rejected by a rule with a clear code, rather than refused at insert time and lost. Production is strict.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
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
    Column("status", Text, nullable=False, server_default="new"),
    Column("batch_id", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("queued_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    _updated_at(),
    CheckConstraint(STATUS_CHECK, name="status"),
    # The dispatcher's keyset scan reads only this small partial index.
    Index("ix_claims_new", "claim_id", postgresql_where=text("status = 'new'")),
    Index("ix_claims_batch_status", "batch_id", "status"),
    Index("ix_claims_queued_at", "queued_at", postgresql_where=text("status = 'queued'")),
)

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
)

staging_claim_diagnoses = Table(
    "claim_diagnoses",
    staging_metadata,
    Column("claim_id", Text, primary_key=True),
    Column("sequence", SmallInteger, primary_key=True),
    Column("icd10_code", Text),
)

facilities = Table(
    "facilities",
    staging_metadata,
    Column("facility_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("npi", Text),
    Column("state", Text),
    Column("active", Boolean, nullable=False, server_default="true"),
)

payers = Table(
    "payers",
    staging_metadata,
    Column("payer_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("payer_type", Text),
    Column("active", Boolean, nullable=False, server_default="true"),
)

financial_classes = Table(
    "financial_classes",
    staging_metadata,
    Column("code", Text, primary_key=True),
    Column("description", Text, nullable=False),
    Column("active", Boolean, nullable=False, server_default="true"),
)

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

seed_defects = Table(
    "seed_defects",
    staging_metadata,
    Column("claim_id", Text, primary_key=True),
    Column("defect", Text, nullable=False),
    Column("expected_rule", Text, nullable=False),
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
    Column("shards", Integer, nullable=False),
    Column("chunk_size", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("dispatched_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('dispatching','running','finished','aborted')", name="status"),
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
    Column("service_from", Date, nullable=False),
    Column("service_to", Date, nullable=False),
    Column("total_charge", Numeric(12, 2), nullable=False),
    Column("prior_auth_number", Text),
    Column("received_at", DateTime(timezone=True)),
    Column("batch_id", Text, nullable=False),
    Column("expected_reimbursement", Numeric(12, 2)),
    Column("predicted_filter", Text),
    Column("denial_risk", Float),
    Column("model_version", Text),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_claims_batch_id", "batch_id"),
    Index("ix_claims_facility_service", "facility_id", "service_from"),
)

production_claim_lines = Table(
    "claim_lines",
    production_metadata,
    Column("claim_id", Text, primary_key=True),
    Column("line_number", SmallInteger, primary_key=True),
    Column("procedure_code", Text, nullable=False),
    Column("modifiers", ARRAY(Text)),
    Column("units", Numeric(12, 3), nullable=False),
    Column("line_charge", Numeric(12, 2), nullable=False),
    Column("service_date", Date),
    Column("place_of_service", Text),
    Column("diagnosis_pointers", ARRAY(SmallInteger)),
)

production_claim_diagnoses = Table(
    "claim_diagnoses",
    production_metadata,
    Column("claim_id", Text, primary_key=True),
    Column("sequence", SmallInteger, primary_key=True),
    Column("icd10_code", Text, nullable=False),
)

failed_claims = Table(
    "failed_claims",
    production_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("claim_id", Text, nullable=False, unique=True),
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
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    _updated_at(),
    CheckConstraint(
        "failure_category IN ('validation','coding','eligibility','duplicate','data_quality','system')",
        name="category",
    ),
    Index("ix_failed_claims_category_status", "failure_category", "status"),
    Index("ix_failed_claims_batch_id", "batch_id"),
)
