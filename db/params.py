"""Query parameters that are cheap to send: a list of claim ids as one array literal.

psycopg quotes a Python list element by element (a regular-expression test per element): ~3 µs a claim
for the half-dozen id lists a chunk sends. Claim ids are plain tokens, so the literal is one join; the
whole of it is checked once, and anything that would need quoting is left to psycopg. `= ANY(%s)`
takes the literal as it is (PostgreSQL infers text[] from the column); `unnest(%s::text[])` needs the cast.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Characters that array_in treats specially, or that would need quotes.
_SPECIAL = re.compile(r'[{}"\\\s]')
_NULL_ELEMENT = re.compile(r"(?:^|,)null(?:,|$)", re.IGNORECASE)


def text_array(values: Sequence[str]) -> str | list[str]:
    """'{a,b,c}' when every value is a plain token (no comma, brace, quote, backslash, space; not empty,
    not NULL), else the list itself for psycopg to quote."""
    try:
        joined = ",".join(values)
    except TypeError:  # not all text: psycopg sends what it is, and the server names the mismatch
        return list(values)
    if joined.count(",") != len(values) - 1 or _SPECIAL.search(joined) or "" in values or _NULL_ELEMENT.search(joined):
        return list(values)
    return "{" + joined + "}"
