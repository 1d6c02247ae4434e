-- Production schema for SQL Server 2019+ (the ODBC target of docs/SQLSERVER.md).
-- Applied by `claims-tasks init` when CLAIMS_PRODUCTION_DSN is SQL Server: batches separated by GO lines,
-- each guarded so that running the file twice changes nothing. Column types are the ones
-- db/writers/dialects.py mssql_type() gives the SQLAlchemy models (db/models.py); tests/odbc/
-- test_sqlserver_ddl.py keeps the two in step. Not here, on purpose: claim_ids (PostgreSQL's stand-in for a
-- unique key its partitioned table cannot have; here the MERGE keeps claim_id unique, see claims) and
-- change_log (PostgreSQL triggers; on SQL Server use its own change data capture, sys.sp_cdc_enable_table).
-- Conventions: text keys and codes NVARCHAR(100/255), free text, JSON and arrays (JSON arrays) NVARCHAR(MAX),
-- timestamps UTC in DATETIME2(6).

-- Claims are partitioned by service year, as in PostgreSQL (p0006). RANGE RIGHT: each boundary starts a year.
IF NOT EXISTS (SELECT 1 FROM sys.partition_functions WHERE name = 'pf_service_year')
    CREATE PARTITION FUNCTION pf_service_year (DATE) AS RANGE RIGHT FOR VALUES
        ('2019-01-01', '2020-01-01', '2021-01-01', '2022-01-01', '2023-01-01', '2024-01-01', '2025-01-01',
         '2026-01-01', '2027-01-01', '2028-01-01');
GO
IF NOT EXISTS (SELECT 1 FROM sys.partition_schemes WHERE name = 'ps_service_year')
    CREATE PARTITION SCHEME ps_service_year AS PARTITION pf_service_year ALL TO ([PRIMARY]);
GO

-- Analytics tables (claims, claim_lines, claim_diagnoses: what the analytics scan) are clustered
-- columnstore; lookups by key go through nonclustered B-tree keys. Rows arrive by MERGE in chunks of a few
-- thousand, which land in the delta store and are compressed by the tuple mover.
IF OBJECT_ID(N'dbo.claims', N'U') IS NULL
CREATE TABLE dbo.claims (
    claim_id NVARCHAR(100) NOT NULL,
    facility_id NVARCHAR(100) NOT NULL,
    patient_account_number NVARCHAR(255) NULL,
    patient_first_name NVARCHAR(255) NOT NULL,
    patient_last_name NVARCHAR(255) NOT NULL,
    date_of_birth DATE NOT NULL,
    sex NVARCHAR(255) NOT NULL,
    subscriber_id NVARCHAR(100) NOT NULL,
    payer_id NVARCHAR(100) NOT NULL,
    financial_class NVARCHAR(255) NULL,
    billing_npi NVARCHAR(100) NOT NULL,
    rendering_npi NVARCHAR(100) NULL,
    place_of_service NVARCHAR(255) NULL,
    claim_frequency NVARCHAR(255) NOT NULL,
    service_from DATE NOT NULL,
    service_to DATE NOT NULL,
    total_charge DECIMAL(12, 2) NOT NULL,
    prior_auth_number NVARCHAR(255) NULL,
    received_at DATETIME2(6) NULL,
    batch_id NVARCHAR(100) NOT NULL,
    expected_reimbursement DECIMAL(12, 2) NULL,
    predicted_filter NVARCHAR(255) NULL,
    denial_risk FLOAT NULL,
    model_version NVARCHAR(100) NULL,
    model_variant NVARCHAR(100) NULL,
    routed_to_review BIT NOT NULL CONSTRAINT df_claims_routed_to_review DEFAULT 0,
    processed_at DATETIME2(6) NOT NULL CONSTRAINT df_claims_processed_at DEFAULT SYSUTCDATETIME(),
    version INT NOT NULL CONSTRAINT df_claims_version DEFAULT 1,
    status NVARCHAR(100) NOT NULL CONSTRAINT df_claims_status DEFAULT N'active',
    amended_at DATETIME2(6) NULL,
    CONSTRAINT ck_claims_status CHECK (status IN (N'active', N'voided')),
    -- The partition key must be part of an aligned primary key, as in PostgreSQL (p0006).
    CONSTRAINT pk_claims PRIMARY KEY NONCLUSTERED (claim_id, service_from) ON ps_service_year (service_from)
) ON ps_service_year (service_from);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'cci_claims')
    CREATE CLUSTERED COLUMNSTORE INDEX cci_claims ON dbo.claims ON ps_service_year (service_from);
GO
-- claim_id alone is unique in PostgreSQL through claim_ids; here the writer's MERGE keeps it so (HOLDLOCK:
-- serializable range locks on the primary key's claim_id prefix, in every partition). No non-aligned unique
-- index: every index of a partitioned columnstore table stays aligned, so a year can be switched out.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_claims_batch_id')
    CREATE NONCLUSTERED INDEX ix_claims_batch_id ON dbo.claims (batch_id);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_claims_facility_service')
    CREATE NONCLUSTERED INDEX ix_claims_facility_service ON dbo.claims (facility_id, service_from);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_claims_subscriber_dob')
    CREATE NONCLUSTERED INDEX ix_claims_subscriber_dob ON dbo.claims (subscriber_id, date_of_birth);
GO

IF OBJECT_ID(N'dbo.claim_lines', N'U') IS NULL
CREATE TABLE dbo.claim_lines (
    claim_id NVARCHAR(100) NOT NULL,
    line_number SMALLINT NOT NULL,
    procedure_code NVARCHAR(255) NULL,
    modifiers NVARCHAR(MAX) NULL CONSTRAINT ck_claim_lines_modifiers CHECK (modifiers IS NULL OR ISJSON(modifiers) = 1),
    units DECIMAL(12, 3) NOT NULL,
    line_charge DECIMAL(12, 2) NOT NULL,
    service_date DATE NULL,
    place_of_service NVARCHAR(255) NULL,
    diagnosis_pointers NVARCHAR(MAX) NULL,
    revenue_code NVARCHAR(255) NULL,
    CONSTRAINT pk_claim_lines PRIMARY KEY NONCLUSTERED (claim_id, line_number)
);
GO
-- Revenue codes (PostgreSQL p0007): a schema made before them gains the column, and procedure_code may be
-- null (an 837I line with a revenue code only). Guarded like the rest; a new schema already has both.
IF COL_LENGTH(N'dbo.claim_lines', N'revenue_code') IS NULL
BEGIN
    ALTER TABLE dbo.claim_lines ADD revenue_code NVARCHAR(255) NULL;
    ALTER TABLE dbo.claim_lines ALTER COLUMN procedure_code NVARCHAR(255) NULL;
END;
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'cci_claim_lines')
    CREATE CLUSTERED COLUMNSTORE INDEX cci_claim_lines ON dbo.claim_lines;
GO

IF OBJECT_ID(N'dbo.claim_diagnoses', N'U') IS NULL
CREATE TABLE dbo.claim_diagnoses (
    claim_id NVARCHAR(100) NOT NULL,
    [sequence] SMALLINT NOT NULL,
    icd10_code NVARCHAR(255) NOT NULL,
    CONSTRAINT pk_claim_diagnoses PRIMARY KEY NONCLUSTERED (claim_id, [sequence])
);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'cci_claim_diagnoses')
    CREATE CLUSTERED COLUMNSTORE INDEX cci_claim_diagnoses ON dbo.claim_diagnoses;
GO

-- Workflow tables stay rowstore: single-row updates (review, repair) dominate.
IF OBJECT_ID(N'dbo.failed_claims', N'U') IS NULL
CREATE TABLE dbo.failed_claims (
    id BIGINT IDENTITY(1, 1) NOT NULL CONSTRAINT pk_failed_claims PRIMARY KEY CLUSTERED,
    claim_id NVARCHAR(100) NOT NULL,
    batch_id NVARCHAR(100) NOT NULL,
    facility_id NVARCHAR(100) NULL,
    failure_category NVARCHAR(100) NOT NULL,
    rule_codes NVARCHAR(MAX) NOT NULL,
    failures NVARCHAR(MAX) NOT NULL CONSTRAINT ck_failed_claims_failures CHECK (ISJSON(failures) = 1),
    encrypted_payload VARBINARY(MAX) NOT NULL,
    priority SMALLINT NOT NULL CONSTRAINT df_failed_claims_priority DEFAULT 5,
    status NVARCHAR(100) NOT NULL CONSTRAINT df_failed_claims_status DEFAULT N'new',
    attempts INT NOT NULL CONSTRAINT df_failed_claims_attempts DEFAULT 0,
    assigned_to NVARCHAR(255) NULL,
    resolution NVARCHAR(MAX) NULL,
    potential_revenue DECIMAL(14, 2) NULL,
    repairs NVARCHAR(MAX) NOT NULL CONSTRAINT df_failed_claims_repairs DEFAULT N'[]',
    created_at DATETIME2(6) NOT NULL CONSTRAINT df_failed_claims_created_at DEFAULT SYSUTCDATETIME(),
    updated_at DATETIME2(6) NOT NULL CONSTRAINT df_failed_claims_updated_at DEFAULT SYSUTCDATETIME(),
    resolved_at DATETIME2(6) NULL,
    phi_purged_at DATETIME2(6) NULL,
    CONSTRAINT ck_failed_claims_category CHECK (failure_category IN
        (N'validation', N'coding', N'eligibility', N'duplicate', N'data_quality', N'system')),
    CONSTRAINT ck_failed_claims_status CHECK (status IN
        (N'new', N'retrying', N'review', N'repaired', N'resolved', N'voided'))
);
GO
-- At most one open failure per claim (a filtered unique index, PostgreSQL's partial one).
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'uq_failed_claims_open_claim')
    CREATE UNIQUE NONCLUSTERED INDEX uq_failed_claims_open_claim ON dbo.failed_claims (claim_id)
        WHERE status IN (N'new', N'retrying', N'review');
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_failed_claims_claim_id')
    CREATE NONCLUSTERED INDEX ix_failed_claims_claim_id ON dbo.failed_claims (claim_id);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_failed_claims_category_status')
    CREATE NONCLUSTERED INDEX ix_failed_claims_category_status ON dbo.failed_claims (failure_category, status);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_failed_claims_status_priority')
    CREATE NONCLUSTERED INDEX ix_failed_claims_status_priority ON dbo.failed_claims (status, priority);
GO
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_failed_claims_batch_id')
    CREATE NONCLUSTERED INDEX ix_failed_claims_batch_id ON dbo.failed_claims (batch_id);
GO

IF OBJECT_ID(N'dbo.review_actions', N'U') IS NULL
CREATE TABLE dbo.review_actions (
    id BIGINT IDENTITY(1, 1) NOT NULL CONSTRAINT pk_review_actions PRIMARY KEY CLUSTERED,
    failed_claim_id BIGINT NULL,
    claim_id NVARCHAR(100) NOT NULL,
    actor NVARCHAR(255) NOT NULL,
    action NVARCHAR(255) NOT NULL,
    notes NVARCHAR(MAX) NULL,
    before NVARCHAR(MAX) NOT NULL,
    after NVARCHAR(MAX) NOT NULL,
    created_at DATETIME2(6) NOT NULL CONSTRAINT df_review_actions_created_at DEFAULT SYSUTCDATETIME(),
    INDEX ix_review_actions_claim_id NONCLUSTERED (claim_id)
);
GO

IF OBJECT_ID(N'dbo.claim_history', N'U') IS NULL
CREATE TABLE dbo.claim_history (
    id BIGINT IDENTITY(1, 1) NOT NULL CONSTRAINT pk_claim_history PRIMARY KEY CLUSTERED,
    claim_id NVARCHAR(100) NOT NULL,
    version INT NOT NULL,
    reason NVARCHAR(255) NOT NULL CONSTRAINT ck_claim_history_reason CHECK (reason IN (N'replaced', N'voided')),
    claim NVARCHAR(MAX) NOT NULL,
    lines NVARCHAR(MAX) NOT NULL,
    diagnoses NVARCHAR(MAX) NOT NULL,
    actor NVARCHAR(255) NOT NULL,
    superseded_at DATETIME2(6) NOT NULL CONSTRAINT df_claim_history_superseded_at DEFAULT SYSUTCDATETIME(),
    CONSTRAINT uq_claim_history_version UNIQUE (claim_id, version)
);
GO

IF OBJECT_ID(N'dbo.api_keys', N'U') IS NULL
CREATE TABLE dbo.api_keys (
    id BIGINT IDENTITY(1, 1) NOT NULL CONSTRAINT pk_api_keys PRIMARY KEY CLUSTERED,
    name NVARCHAR(255) NOT NULL,
    role NVARCHAR(100) NOT NULL CONSTRAINT ck_api_keys_role CHECK (role IN (N'auditor', N'user', N'admin')),
    key_prefix NVARCHAR(100) NOT NULL,
    key_hash NVARCHAR(100) NOT NULL CONSTRAINT uq_api_keys_key_hash UNIQUE,
    created_at DATETIME2(6) NOT NULL CONSTRAINT df_api_keys_created_at DEFAULT SYSUTCDATETIME(),
    revoked_at DATETIME2(6) NULL
);
GO

IF OBJECT_ID(N'dbo.phi_reads', N'U') IS NULL
CREATE TABLE dbo.phi_reads (
    id BIGINT IDENTITY(1, 1) NOT NULL CONSTRAINT pk_phi_reads PRIMARY KEY CLUSTERED,
    read_at DATETIME2(6) NOT NULL CONSTRAINT df_phi_reads_read_at DEFAULT SYSUTCDATETIME(),
    api_key_id BIGINT NOT NULL CONSTRAINT fk_phi_reads_api_key_id_api_keys REFERENCES dbo.api_keys (id),
    key_name NVARCHAR(255) NOT NULL,
    role NVARCHAR(100) NOT NULL,
    failed_claim_id BIGINT NULL,
    claim_id NVARCHAR(100) NOT NULL,
    action NVARCHAR(255) NOT NULL,
    disclosed BIT NOT NULL,
    fields NVARCHAR(MAX) NOT NULL,
    correlation_id NVARCHAR(100) NULL,
    INDEX ix_phi_reads_claim_id NONCLUSTERED (claim_id),
    INDEX ix_phi_reads_read_at NONCLUSTERED (read_at)
);
GO

IF OBJECT_ID(N'dbo.batch_score_chunks', N'U') IS NULL
CREATE TABLE dbo.batch_score_chunks (
    batch_id NVARCHAR(100) NOT NULL,
    model_version NVARCHAR(100) NOT NULL,
    variant NVARCHAR(100) NOT NULL,
    chunk_key NVARCHAR(100) NOT NULL,
    bins NVARCHAR(MAX) NOT NULL,
    scored INT NOT NULL,
    CONSTRAINT pk_batch_score_chunks PRIMARY KEY CLUSTERED (batch_id, model_version, variant, chunk_key)
);
GO

IF OBJECT_ID(N'dbo.batch_scores', N'U') IS NULL
CREATE TABLE dbo.batch_scores (
    batch_id NVARCHAR(100) NOT NULL,
    model_version NVARCHAR(100) NOT NULL,
    variant NVARCHAR(100) NOT NULL,
    bins NVARCHAR(MAX) NOT NULL,
    expected NVARCHAR(MAX) NOT NULL,
    scored BIGINT NOT NULL,
    psi FLOAT NULL,
    updated_at DATETIME2(6) NOT NULL CONSTRAINT df_batch_scores_updated_at DEFAULT SYSUTCDATETIME(),
    CONSTRAINT pk_batch_scores PRIMARY KEY CLUSTERED (batch_id, model_version, variant)
);
GO

IF OBJECT_ID(N'dbo.retention_runs', N'U') IS NULL
CREATE TABLE dbo.retention_runs (
    id BIGINT IDENTITY(1, 1) NOT NULL CONSTRAINT pk_retention_runs PRIMARY KEY CLUSTERED,
    started_at DATETIME2(6) NOT NULL CONSTRAINT df_retention_runs_started_at DEFAULT SYSUTCDATETIME(),
    finished_at DATETIME2(6) NULL,
    actor NVARCHAR(255) NOT NULL,
    dry_run BIT NOT NULL,
    cutoffs NVARCHAR(MAX) NOT NULL,
    counts NVARCHAR(MAX) NOT NULL,
    archive NVARCHAR(MAX) NULL
);
GO

IF OBJECT_ID(N'dbo.analytics_refreshes', N'U') IS NULL
CREATE TABLE dbo.analytics_refreshes (
    view_name NVARCHAR(100) NOT NULL CONSTRAINT pk_analytics_refreshes PRIMARY KEY CLUSTERED,
    refreshed_at DATETIME2(6) NOT NULL,
    seconds FLOAT NOT NULL
);
GO

-- Reference masters (p0008): the facilities, payers and financial classes the rules check claims against,
-- copied from staging by every reference load (db/production_reference.py, MERGE statements in
-- db/writers/dialects.py) and read by the workers through claims_tasks/reference_cache.py.
IF OBJECT_ID(N'dbo.facilities', N'U') IS NULL
CREATE TABLE dbo.facilities (
    facility_id NVARCHAR(100) NOT NULL CONSTRAINT pk_facilities PRIMARY KEY CLUSTERED,
    name NVARCHAR(255) NOT NULL,
    npi NVARCHAR(255) NULL,
    state NVARCHAR(255) NULL,
    active BIT NOT NULL CONSTRAINT df_facilities_active DEFAULT 1
);
GO

IF OBJECT_ID(N'dbo.payers', N'U') IS NULL
CREATE TABLE dbo.payers (
    payer_id NVARCHAR(100) NOT NULL CONSTRAINT pk_payers PRIMARY KEY CLUSTERED,
    name NVARCHAR(255) NOT NULL,
    payer_type NVARCHAR(255) NULL,
    active BIT NOT NULL CONSTRAINT df_payers_active DEFAULT 1
);
GO

IF OBJECT_ID(N'dbo.financial_classes', N'U') IS NULL
CREATE TABLE dbo.financial_classes (
    code NVARCHAR(255) NOT NULL CONSTRAINT pk_financial_classes PRIMARY KEY CLUSTERED,
    description NVARCHAR(255) NOT NULL,
    active BIT NOT NULL CONSTRAINT df_financial_classes_active DEFAULT 1
);
GO
