"""What an SQL file of sql/ says it reads, writes and takes, and what its text actually does.

Every file opens with three comment lines (issue 15; dbt's `ref()` made plain):

    -- reads:  tables, views and macros-free inputs the file reads (schema tables or an earlier step's)
    -- writes: what it creates, inserts into, updates or deletes from (macros it defines included)
    -- params: the Jinja variables its caller passes (`{{ name }}`)

`declared(text)` reads the header; `parsed(text)` finds the same from the statements, so a test can
hold the two together. The parser is deliberately simple (regular expressions over the text with
comments, string literals and Jinja comments removed); `{{ x }}` table names count as parameters.
"""

from __future__ import annotations

import re

import jinja2
import jinja2.meta

HEADER_KEYS = ("reads", "writes", "params")
_NOT_TABLES = {
    "select",
    "where",
    "and",
    "or",
    "not",
    "as",
    "on",
    "using",
    "lateral",
    "unnest",
    "range",
    "generate_series",
    "values",
    "case",
    "when",
    "then",
    "else",
    "end",
}


def declared(text: str) -> dict[str, set[str]]:
    """The header's three lists (a missing line gives no key)."""
    out: dict[str, set[str]] = {}
    for line in text.splitlines()[:12]:
        m = re.match(r"--\s*(reads|writes|params):(.*)$", line)
        if m:
            body = re.sub(r"\(.*?\)", "", m.group(2))  # "(…)" is a remark, not a name
            out[m.group(1)] = {w.strip() for w in body.split(",") if w.strip() and w.strip() != "-"}
    return out


def _code(text: str) -> str:
    s = re.sub(r"\{#.*?#\}", " ", text, flags=re.S)
    s = re.sub(r"--[^\n]*", " ", s)
    return re.sub(r"'(?:[^']|'')*'", "''", s)


def parsed(text: str) -> dict[str, set[str]]:
    """Tables the statements write and read (CTE names and {{ }} names left out; `CREATE {{ … }} MACRO`:
    TEMP or stored, sql/policy/) and the Jinja params."""
    s = _code(text)
    writes = {
        m.group(1).lower()
        for m in re.finditer(
            r"\b(?:create\s+(?:or\s+replace\s+)?(?:temp(?:orary)?\s+|\{\{[^}]*\}\}\s+)?(?:table|view|macro)(?:\s+if\s+not\s+exists)?"
            r"|insert\s+(?:or\s+\w+\s+)?into|update|delete\s+from)\s+([A-Za-z_]\w*)\b(?!\.)",
            s,
            re.I,
        )
    }
    ctes = {
        m.group(1).lower()
        for m in re.finditer(
            r"(?:\bwith(?:\s+recursive)?|,)\s*([A-Za-z_]\w*)\s+as\s*(?:(?:not\s+)?materialized\s*)?\(", s, re.I
        )
    }
    s = re.sub(r"\bdistinct\s+from\b", " ", s, flags=re.I)  # IS [NOT] DISTINCT FROM: a comparison
    reads = {m.group(1).lower() for m in re.finditer(r"\b(?:from|join)\s+([A-Za-z_]\w*)\b(?![.(])", s, re.I)}
    reads -= _NOT_TABLES | ctes | writes
    env = jinja2.Environment()
    env.filters.update({f: str for f in ("sql_str", "sql_ident", "sql_list")})  # pipelines.warehouse's quoting
    params = set(jinja2.meta.find_undeclared_variables(env.parse(text)))
    return {"reads": reads, "writes": writes, "params": params}
