"""Reads the edit-catalogue reference tables out of staging into the rules' EditTables, in one pass per
table (a worker does this when its cache is empty or the reference version moved, never per claim), and
the reference version row that says when to."""

from __future__ import annotations

import psycopg

from claims_tasks.rules import EditTables, Icd10Edition

REFERENCE_VERSION = "reference"


def bump_version(conn: psycopg.Connection) -> int:
    """Tell the workers the reference data changed (they reload within a few seconds); returns the new
    version. Edits to the reference tables bump it by themselves (migration s0008's triggers); this is for
    changes they cannot see, such as production's reference masters (db/production_reference.py). Does not
    commit."""
    row = conn.execute(
        "INSERT INTO staging.reference_versions AS v (name, version) VALUES (%s, 1) ON CONFLICT (name)"
        " DO UPDATE SET version = v.version + 1, updated_at = now() RETURNING version",
        (REFERENCE_VERSION,),
    ).fetchone()
    return int(row[0]) if row else 0


def reference_version(conn: psycopg.Connection) -> int:
    """The current reference version (0 before the first load): one indexed row, cheap to poll."""
    row = conn.execute(
        "SELECT version FROM staging.reference_versions WHERE name = %s", (REFERENCE_VERSION,)
    ).fetchone()
    return int(row[0]) if row else 0


def load_edit_tables(conn: psycopg.Connection) -> EditTables:
    editions = []
    for name, start, end in conn.execute(
        "SELECT edition, valid_from, valid_to FROM staging.icd10_editions ORDER BY valid_from, edition"
    ).fetchall():
        billable: set[str] = set()
        headers: set[str] = set()
        with conn.cursor().copy(
            "COPY (SELECT code, billable FROM staging.icd10_codes WHERE edition = %s) TO STDOUT", (name,)
        ) as copy:
            # Raw text rows are much faster than typed ones for ~98,000 codes: "E11.9\tt\n".
            text = b"".join(bytes(block) for block in copy).decode()
        for line in text.splitlines():
            code, flag = line.split("\t")
            (billable if flag == "t" else headers).add(code)
        editions.append(Icd10Edition(name, start, end, frozenset(billable), frozenset(headers)))
    return EditTables(
        icd10=tuple(editions),
        known_procedures=frozenset(r[0] for r in conn.execute("SELECT procedure_code FROM staging.hcpcs_codes")),
        modifiers=frozenset(r[0] for r in conn.execute("SELECT modifier FROM staging.modifiers")),
        mue={
            code: (int(most), int(mai))
            for code, most, mai in conn.execute("SELECT procedure_code, max_units, mai FROM staging.mue_limits")
        },
        ncci={
            (c1, c2): int(ind)
            for c1, c2, ind in conn.execute("SELECT column1, column2, modifier_indicator FROM staging.ncci_pairs")
        },
        prior_auth=frozenset(
            (payer, code)
            for payer, code in conn.execute("SELECT payer_id, procedure_code FROM staging.payer_prior_auth")
        ),
    )
