"""The SQL of county feedback: its files of ``sql/feedback/``, as the stage's ``STEPS``.

Feedback decides a file row by row (a row sees what the rows above it did), so its SQL is many
small statements bound with DuckDB parameters (``$entry_id``), not steps run in order: each file
of ``sql/feedback/`` gathers the statements about one table group under one header
(``-- reads: / -- writes: / -- params:``), one per ``-- name: <name>`` block, and :func:`sql` hands
out one statement by name through the one runner (:func:`pipelines.steps.statement`: the same
Jinja environment and quoting filters as every step; Jinja only for settings and column lists,
never data).  ``demo_candidates.sql`` is a step of its own (one SELECT, run by
:func:`pipelines.feedback.demo.demo_feedback`).
"""

from __future__ import annotations

from ..steps import Step, Steps, statement

#: the files of sql/feedback/ in the order a file goes through them (files of named statements, then
#: the demo's SELECT); the tables and views they use are sql/warehouse/schema_feedback.sql's
STEPS = Steps(
    Step(f"feedback/{name}.sql")
    for name in (
        "files",
        "entries",
        "conclusions",
        "objections",
        "result_notices",
        "insert_buffer",
        "demo_candidates",
    )
)


def sql(file: str, name: str, **params) -> str:
    """The statement ``name`` of ``sql/feedback/<file>.sql``, rendered with ``params`` when given."""
    return statement(STEPS[file], name, **params)
