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

from .errors import DuplicateEntry
from .settings import Settings
from .steps import Step, Steps, run_in_passes, run_step, run_steps
from .warehouse import rollback

STAGES = (
    "ENROLLED",
    "NOTIFIED",
    "ARCHIVE_REVIEWED",
    "YEARS_CONFIRMED",
    "RELATIONS_MERGED",
    "CONCLUDED",
    "CONFIRMED",
    "DECLARED",
    "RETIRED",
)
CLOSED_STAGES = ("RETIRED", "DECEASED", "LEFT_PUSH", "MOVED_OUT")

#: the month's ledger steps, in order (update_ledger); ``transition`` is also every other stage's way
#: of moving entries (record_transitions): it reads the table its caller names (``source_table``)
STEPS = Steps(
    (
        Step("ledger/00_officers.sql"),
        Step("ledger/05_reopen.sql"),
        Step("ledger/transition.sql"),
        Step("ledger/10_close.sql"),
        Step("ledger/15_moved_office.sql"),  # in passes (MOVED_OFFICE_ENTRIES)
        Step("ledger/20_office_change.sql"),
        Step("ledger/25_opening.sql"),  # in passes (OPENING_PERSONS)
        Step("ledger/30_open.sql"),
        Step("ledger/31_unique.sql"),  # run by check_unique only, after 30_open's insert
        Step("ledger/35_place_moves.sql"),
        Step("ledger/40_officers.sql"),
    )
)


def record_transitions(
    con,
    source_table: str,
    source: str,
    month_mi: int,
    settings: Settings,
    to_stage: str | None = None,
    entry_ids: tuple[str, ...] = (),
    keep_since: bool = False,
    entry_rows: tuple[int, ...] = (),
) -> int:
    """Move entries to a stage and keep the transition (rules.md §7).

    ``source_table`` (a table or view) has columns ``entry_id``, ``event_date``
    (DATE), ``detail`` (text or NULL), and ``to_stage`` unless ``to_stage`` is given.
    The entry's stage, ``stage_since`` and ``due_date`` (event date + the
    stage's days) are updated; a closing stage also closes the entry.
    Entries already in the target stage are left alone (idempotent).
    ``keep_since``: the source's column ``stage_since`` (when not NULL) is the day the new stage
    began, and its due date counts from there (a reopened entry goes back to its stage's clock).
    ``entry_ids``, when the source holds only these few entries, with ``entry_rows`` their rowids in
    ``ledger_entries``, lets DuckDB read only the row groups that hold them instead of scanning the
    ledger, which has no index (issue 19, ninth session; a county feedback row is one entry).
    Returns the number of transitions recorded.
    """
    rows = run_step(
        con,
        STEPS["transition"],
        source_table=source_table,
        source=source,
        month_mi=month_mi,
        to_stage=to_stage,
        stage_days=settings.stage_days,
        closed_stages=CLOSED_STAGES,
        entry_ids=tuple(entry_ids),
        entry_rows=tuple(int(r) for r in entry_rows),
        keep_since=keep_since,
    )
    return rows[0][0]


def check_unique(con, source: str) -> None:
    """Refuse an ``entry_id`` that ``ledger_entries`` would hold twice among the entries of ``source``
    (the rows just inserted; rules.md §3: one entry per person and enrolment).

    The table's PRIMARY KEY is gone (issue 19, ninth session: its index entries stay in memory until
    COMMIT, ≈ 17 M entries in a FULL month of 25,000,000 persons); every insert into the ledger calls
    this inside the writer's transaction, so the error rolls the whole stage back, as the
    constraint's did (``sql/ledger/31_unique.sql``).  The message names no person.
    """
    (twice,) = run_step(con, STEPS["31_unique"], source=source)[0]
    if twice:
        raise DuplicateEntry(
            f"ledger_entries would hold {twice} entry_id(s) twice: refused, nothing of this transaction "
            "is committed (rules.md §3: one ledger entry per person and enrolment)"
        )


# persons per pass of sql/ledger/35_place_moves.sql (issue 19): the month's and the last month's
# screening of 25,000,000 persons joined at once ran out of DuckDB's 1 GB in the INCR month
PLACE_MOVES_PERSONS = 5_000_000


# open entries per pass of sql/ledger/15_moved_office.sql, and screened persons per pass of
# sql/ledger/25_opening.sql (issue 19, twenty-second session): at 25,000,000 persons, the ledger's 17 M
# open entries joined with the month's screening at once ran out of DuckDB's 1 GB in the INCR month
# (twice in two tries). Measured at 5,000,000 persons with the limit a fifth as large (200 MB, and
# 150 MB for a margin): one pass ran out at 200 MB three times in four; passes of 800,000 entries and
# 1,000,000 persons (the sizes below scaled down) passed at 200 MB and ran out at 150 MB; passes of
# half that passed at 150 MB, where the first join of the stage (10_close.sql) is now what runs out
# first (docs/decisions.md "The ledger's two large joins in passes")
MOVED_OFFICE_ENTRIES = 2_000_000


# (the screened persons per pass of sql/ledger/25_opening.sql: see MOVED_OFFICE_ENTRIES)
OPENING_PERSONS = 2_500_000


def update_ledger(con, ctx, *, validate: bool = True) -> dict:
    """The month's ledger work (rules.md §3, §7) in one transaction.

    Reopen what a run of P closed from push data that a correction push of P
    has put right (``05_reopen.sql``), close entries (deceased, retired, left
    the push, benefit place left Ningxia → handover), follow office changes (handover), open entries for
    newly triggered persons, hand over every benefit place that moved into or
    out of Ningxia since the last screened month (rules.md §2, in the ledger or
    not), and assign responsible officers.  Idempotent: a
    rerun of the month finds nothing more to do.
    """
    from . import DATA_DIR

    params = ctx.params(closed_stages=CLOSED_STAGES, officers_csv=str(DATA_DIR / "officers.csv"))
    con.execute("BEGIN TRANSACTION")
    try:
        run_steps(con, STEPS["00_officers":"05_reopen"], **params)
        reopened = record_transitions(
            con, "_reopening", f"run:{ctx.month}", ctx.month_mi, ctx.settings, keep_since=True
        )
        run_step(con, STEPS["10_close"], **params)
        closed = record_transitions(con, "_closing", f"run:{ctx.month}", ctx.month_mi, ctx.settings)
        # the three large joins in passes over hash(id_no) buckets (run_in_passes), by the open entries
        # or by the month's screened persons (the stage does not change them)
        entries = con.execute("SELECT count(*) FROM ledger_entries WHERE closed_mi IS NULL").fetchall()[0][0]
        month = [ctx.month_mi]
        screened = con.execute("SELECT count(*) FROM screen_results WHERE month_mi = ?", month).fetchall()[0][0]
        run_in_passes(con, STEPS["15_moved_office"], entries, MOVED_OFFICE_ENTRIES, **params)
        run_step(con, STEPS["20_office_change"], **params)
        run_in_passes(con, STEPS["25_opening"], screened, OPENING_PERSONS, **params)
        run_step(con, STEPS["30_open"], **params)
        check_unique(con, "_opening")
        run_in_passes(con, STEPS["35_place_moves"], screened, PLACE_MOVES_PERSONS, **params)  # rules.md §2
        run_step(con, STEPS["40_officers"], **params)
        moved = con.execute("SELECT count(*) FROM _moved_office").fetchall()[0][0]
        opened = con.execute("SELECT count(*) FROM _opening").fetchall()[0][0]
        if validate:
            from .validate import sample_clause, validate_frames

            n = con.execute("SELECT count(*) FROM ledger_entries WHERE closed_mi IS NULL").fetchall()[0][0]
            frame = con.execute(
                "SELECT id_no, office_code, stage, officer_id AS responsible_officer, due_date "
                "FROM ledger_entries WHERE closed_mi IS NULL AND " + sample_clause(n, ctx.settings)
            ).df()
            vdir = (ctx.out / ctx.month / "validation") if ctx.out else None
            validate_frames(
                "ledger", {"ledger": frame}, vdir, label=ctx.month, settings=ctx.settings, populations={"ledger": n}
            )
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise
    counts = {"entries opened": opened, "entries closed": closed, "office changes": moved}
    if reopened:
        counts["entries reopened (a correction push of the month)"] = reopened
    return counts
