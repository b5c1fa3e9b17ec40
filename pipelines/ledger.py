"""Ledger (一人一档台账, rules.md §3 "Once a person is in the ledger …" and §7).

An entry is opened when a person is first taken in (trigger 1, 2 or 3) and
stays until closed (retired, deceased, left the push, benefit place left
Ningxia).  Each entry has a stage, a responsible officer (from the roster
``data/officers.csv``, balanced by open load) and a due date per stage
(settings ``stage_days``); every transition is kept in ``ledger_transitions``
with its date and source.

The month's set-based work is ``sql/ledger/*.sql``; this module orchestrates
it and offers :func:`record_transitions`, the one way any stage (run,
declare, feedback) changes an entry's stage.
"""

from __future__ import annotations

from .settings import Settings
from .warehouse import render_sql

STAGES = (
    "ENROLLED", "NOTIFIED", "ARCHIVE_REVIEWED", "YEARS_CONFIRMED", "RELATIONS_MERGED",
    "CONCLUDED", "CONFIRMED", "DECLARED", "RETIRED",
)
CLOSED_STAGES = ("RETIRED", "DECEASED", "LEFT_PUSH", "MOVED_OUT")
STAGE_ORDER = {s: i for i, s in enumerate(STAGES)}


def record_transitions(con, source_table: str, source: str, month_mi: int, settings: Settings,
                       to_stage: str | None = None) -> int:
    """Move entries to a stage and keep the transition (rules.md §7).

    ``source_table`` (a table or view) has columns ``entry_id``, ``event_date``
    (DATE), ``detail`` (text or NULL), and ``to_stage`` unless ``to_stage`` is given.
    The entry's stage, ``stage_since`` and ``due_date`` (event date + the
    stage's days) are updated; a closing stage also closes the entry.
    Entries already in the target stage are left alone (idempotent).
    Returns the number of transitions recorded.
    """
    sql = render_sql(
        "ledger/transition.sql", source_table=source_table, source=source, month_mi=month_mi,
        to_stage=to_stage, stage_days=settings.stage_days, closed_stages=CLOSED_STAGES,
    )
    return con.execute(sql).fetchone()[0]
