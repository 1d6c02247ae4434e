"""The ledger check over sharded production: the claims of every shard, seen from the home database.

db/ledger.py checks staging against production with a few joins on the home connection, reading the
tables `claims`, `claim_lines` and `claim_diagnoses` by their plain names. When production claims are
sharded (CLAIMS_PRODUCTION_SHARDS), this module gives that session temporary stand-ins under the same
names (PostgreSQL looks in pg_temp first): a table `claims` holding every shard's claims (claim id, batch,
version and their line and diagnosis counts, streamed from each shard as raw COPY text) and two views that
give back one row per line or diagnosis from those counts. The checks then run unchanged, over the whole
ledger; failed_claims, which only home has, is read as it is. Two databases cannot be read at one instant:
while a repair is in flight (its claim written to a shard, its failure closed at home a moment later) a
claim can look missing or doubled; with nothing in flight the report is exact. The check rolls its transaction back, and
the stand-ins go with it.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from db import engines

_SUMMARY = """
COPY (
    SELECT c.claim_id, c.batch_id, c.version, coalesce(l.n, 0), coalesce(d.n, 0)
    FROM claims c
    LEFT JOIN (SELECT claim_id, count(*) AS n FROM claim_lines GROUP BY 1) l USING (claim_id)
    LEFT JOIN (SELECT claim_id, count(*) AS n FROM claim_diagnoses GROUP BY 1) d USING (claim_id)
) TO STDOUT
"""


def shadow_claims(home: psycopg.Connection, shard_dsns: Sequence[str]) -> int:
    """Create the stand-ins on the home connection (in its open transaction) from every shard; returns how
    many claims production holds in all."""
    home.execute("CREATE TEMP TABLE claims (claim_id text PRIMARY KEY, batch_id text, version int, lines int, dx int)")
    home.execute("CREATE TEMP VIEW claim_lines AS SELECT claim_id FROM pg_temp.claims, generate_series(1, lines)")
    home.execute("CREATE TEMP VIEW claim_diagnoses AS SELECT claim_id FROM pg_temp.claims, generate_series(1, dx)")
    for dsn in shard_dsns:
        with engines.connection(dsn, "production shard") as shard, shard.cursor().copy(_SUMMARY) as out, \
                home.cursor().copy("COPY pg_temp.claims FROM STDIN") as into:  # fmt: skip
            for data in out:
                into.write(data)
    home.execute("ANALYZE pg_temp.claims")
    row = home.execute("SELECT count(*) FROM pg_temp.claims").fetchone()
    return int(row[0]) if row else 0
