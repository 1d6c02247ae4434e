-- Run by the postgres image once, on an empty data directory (docker-entrypoint-initdb.d, through psql).
-- Creates the two databases named in docker-compose.yml's CLAIMS_STAGING_DSN and CLAIMS_PRODUCTION_DSN;
-- `claims-tasks init` then migrates them (and would create them too: this only saves it the step).
SELECT 'CREATE DATABASE staging_process'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'staging_process')\gexec

SELECT 'CREATE DATABASE smart_pro_claims'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'smart_pro_claims')\gexec
