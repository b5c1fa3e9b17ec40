"""The statements of ``sql/feedback/*.sql``, one per ``-- name: <name>`` block (aiosql's convention).

Feedback decides a file row by row (a row sees what the rows above it did), so its SQL is many
small statements bound with DuckDB parameters (``$entry_id``), not steps run in order: each file
of ``sql/feedback/`` gathers the statements about one table group under one header
(``-- reads: / -- writes: / -- params:``), and :func:`sql` hands out one statement by name.  A
block with Jinja (``{{ … }}``, settings and column lists, never data) is rendered with the
caller's parameters; the others are used as written (read once, kept).
"""

from __future__ import annotations

import re
from functools import lru_cache

import jinja2

from .. import SQL_DIR

_NAME = re.compile(r"^-- name: (\w+)[ \t]*$", re.M)
_env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


@lru_cache(maxsize=None)
def _blocks(file: str) -> dict[str, str]:
    """``sql/feedback/<file>.sql`` → {name: statement text} (the header before the first name dropped)."""
    parts = _NAME.split((SQL_DIR / "feedback" / f"{file}.sql").read_text(encoding="utf-8"))
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2])}


@lru_cache(maxsize=None)
def _template(file: str, name: str) -> jinja2.Template:
    return _env.from_string(_blocks(file)[name])


def sql(file: str, name: str, **params) -> str:
    """The statement ``name`` of ``sql/feedback/<file>.sql``, rendered with ``params`` when given."""
    return _template(file, name).render(**params) if params else _blocks(file)[name]
