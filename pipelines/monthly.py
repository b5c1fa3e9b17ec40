"""The monthly pre-service run for month P (``retire-prep run --month P``).

A month is ``begin``, the stages of :data:`pipelines.stages.STAGES` in their order, then the
files swapped in; the CLI runs them in one process (:func:`run_month`), the Airflow DAG one task
per stage (``stage_*`` below, through ``pipelines.orchestration``):

1. ``screen``    – :func:`pipelines.screen.screen_month`, rules.md §1–4 for everyone in the push;
2. ``ledger``    – :func:`pipelines.ledger.update_ledger`, §3 ledger: close, hand over, open, officers;
3. ``notices``   – :func:`notify_month`, §5 reminders into the notices table;
4. ``worklists`` – :func:`pipelines.outputs.prepare_worklists`, the office ledgers of P (snapshot, validated);
5. ``forecast``  – :func:`pipelines.forecast.forecast_month`, each office's workload of P+1 … (issue 18);
6. ``office_files``, ``month_files`` – worklists, notices, handovers, letters, forecast, report,
   written into the month's staging folder, then swapped into ``OUT/P``
   (:func:`pipelines.outputs.swap_in_month`: the CLI's last step and the DAG's ``finish``).

Each warehouse stage is one transaction, validated (Great Expectations) before it
commits; the files are written from the warehouse afterwards, so a run killed
between two stages is completed by running the month again, with nothing twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from .analysts import refreshes_analysts
from .errors import MonthRefused
from .policy import format_month, parse_month
from .settings import Settings, load_settings
from .steps import Step, Steps, run_step
from .warehouse import connect, drop_temp_tables, rollback

log = logging.getLogger(__name__)

#: the month run's own bookkeeping (the stages' SQL is in their modules' STEPS): a run of P begins
#: and ends in ``month_runs``; the one-line look-ups with bound values stay beside the Python using them
STEPS = Steps((Step("monthly/10_begin.sql"), Step("monthly/90_finish.sql")))


@dataclass
class MonthContext:
    """Everything a stage needs to know about the month it computes."""

    month: str  # 'YYYY-MM'
    month_mi: int
    as_of_seq: int
    settings: Settings
    out: Path | None = None
    forced_ahead: bool = False  # beyond the latest push, on --ahead-of-push (issue 14)

    @property
    def month_first(self) -> str:
        return f"{self.month}-01"

    @property
    def next_month_first(self) -> str:
        return format_month(self.month_mi + 1) + "-01"

    def params(self, **extra) -> dict:
        return dict(
            month=self.month,
            month_mi=self.month_mi,
            seq=self.as_of_seq,
            settings=self.settings,
            month_first=self.month_first,
            next_month_first=self.next_month_first,
            **extra,
        )


@dataclass
class RunReport:
    month: str
    as_of_seq: int
    replay: bool = False
    counts: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    out_dir: Path | None = None

    def lines(self) -> list[str]:
        head = f"month {self.month} on push seq {self.as_of_seq}" + (" (replay)" if self.replay else "")
        timing = ", ".join(f"{k} {v} s" for k, v in self.seconds.items())
        return (
            [head]
            + [f"  {k}: {v}" for k, v in self.counts.items()]
            + ([f"  outputs: {self.out_dir}"] if self.out_dir else [])
            + ([f"  time: {timing}"] if timing else [])
        )


#: How far a command may go beyond the latest applied push's data_month D without --ahead-of-push
#: (docs/decisions.md, issue 14): one push late is tolerated — the run of P on P-1's push when P's
#: is late (the late push is then a correction push of P: run P again before P+1), the
#: declaration of P+1 (made on the 1st, before P+1's push) on P-1's; more is a mistyped month.
MONTHS_AHEAD_OF_PUSH = {"run": 1, "declare": 2}


def month_context(
    con, month: str, settings: Settings, *, command: str = "run", replay: bool = False, ahead_of_push: bool = False
) -> MonthContext:
    """Resolve month P: the push state it runs on, and the month-order guard (issue 4 §6).

    P is computed on the last applied batch whose data_month ≤ P.  A month before
    the last month run — or being run (a DAG run under way, or one that failed and must be
    completed first) — is refused unless ``replay`` (which re-emits that month): a rerun of P
    sends what it raises with P+1's batch, which must not be written yet.  A month after a gap is
    accepted: its notice stage catches up the skipped months' reminders (:func:`skipped_months`).
    """
    mi = parse_month(month)
    month = format_month(mi)
    seq = con.execute(
        "SELECT max(seq) FROM push_batches WHERE status = 'APPLIED' AND data_month <= ?", [month]
    ).fetchall()[0][0]
    if seq is None:
        raise MonthRefused(f"month {month}: no push batch with data_month <= {month} has been applied; ingest first")
    last = con.execute(
        "SELECT max(month_mi) FROM month_runs WHERE command = ? AND status IN ('DONE', 'RUNNING') AND NOT replay",
        [command],
    ).fetchall()[0][0]
    if last is not None and mi < last and not replay:
        raise MonthRefused(
            f"month {month} is before the last month run or being run ({format_month(last)}); "
            f"use --replay to re-emit it as it was"
        )
    forced = False
    if not replay:  # a replay re-emits a month already run; a run's later stages pass replay=True
        latest = con.execute("SELECT max(data_month) FROM push_batches WHERE status = 'APPLIED'").fetchall()[0][0]
        limit = parse_month(latest) + MONTHS_AHEAD_OF_PUSH.get(command, 0)
        if mi > limit:
            if not ahead_of_push:
                # a mistyped month (2027-12 for 2026-12) would open entries and record notices, and
                # refuse every real month after it as "before the last month run"
                raise MonthRefused(
                    f"month {month} is ahead of the latest push (data_month {latest}): {command} goes up to "
                    f"{format_month(limit)}; ingest that month's push first, or, if you really mean it, add "
                    f"--ahead-of-push (the warehouse is copied first, to undo it: docs/operations.md)"
                )
            forced = True
    return MonthContext(month=month, month_mi=mi, as_of_seq=seq, settings=settings, forced_ahead=forced)


def skipped_months(con, month_mi: int) -> tuple[int, ...]:
    """The months whose run was skipped before P: those after the last month run before P (a run
    DONE, not a replay) and before P.  None when P follows it, or when no month before P was run
    (a warehouse's first month is no gap).  Their reminders are caught up by P's notice stage
    (docs/decisions.md "Skipped months: reminders caught up"); the same months before and after P's
    run, and on its replay (what P's report shows)."""
    last = con.execute(
        "SELECT max(month_mi) FROM month_runs WHERE command = 'run' AND status = 'DONE' AND NOT replay "
        "AND month_mi < ?",
        [int(month_mi)],
    ).fetchall()[0][0]
    return () if last is None else tuple(range(last + 1, int(month_mi)))


def keep_copy_before_forcing(con, warehouse: str | Path, ctx: MonthContext, command: str) -> Path:
    """A copy of the warehouse as it is before a month forced ahead of the push writes anything:
    ``<warehouse>.before-<command>-<P>.duckdb`` beside it.  Undoing the forced month = putting this
    copy back (docs/operations.md).  Checkpointed first, so the file alone is the whole state.
    A copy already there (an earlier attempt of the same forced month) is kept, never replaced."""
    import shutil

    w = Path(warehouse)
    dst = w.with_name(f"{w.stem}.before-{command}-{ctx.month}{w.suffix or '.duckdb'}")
    if dst.exists():
        # the month was forced before and its copy not yet put back nor deleted: a forced run that
        # failed half way is being tried again. The copy stays the state before the *first* attempt
        # (a new one would hold the half run's notices, and the undo would keep them).
        log.warning(
            "%s %s is ahead of the latest push (--ahead-of-push): the warehouse before its first "
            "attempt is still kept as %s (not replaced)",
            command,
            ctx.month,
            dst,
        )
        return dst
    con.execute("CHECKPOINT")
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.copyfile(w, tmp)
    tmp.replace(dst)
    log.warning(
        "%s %s is ahead of the latest push (--ahead-of-push): the warehouse before it is kept as %s",
        command,
        ctx.month,
        dst,
    )
    return dst


def _begin(con, ctx, replay: bool) -> None:
    if replay:
        done = con.execute(
            "SELECT arg_max(as_of_seq, finished_at) FROM month_runs WHERE command = 'run' AND status = 'DONE' "
            "AND month_mi = ? AND NOT replay",
            [ctx.month_mi],
        ).fetchall()[0][0]
        if done is None:
            raise MonthRefused(f"month {ctx.month} was never run: nothing to replay")
        ctx.as_of_seq = done
    run_step(con, STEPS["10_begin"], month_mi=ctx.month_mi, seq=ctx.as_of_seq, replay=replay)
    _warn_calendar(ctx)


def _warn_calendar(ctx) -> None:
    """Warn when the working-day calendar lacks a year the objection deadlines of results received
    in P or P+1 reach (rules.md §7), before it bites; the report says the same."""
    from . import workdays

    n = ctx.settings.objection_working_days
    try:
        text = workdays.outlook_warning(workdays.month_outlook(ctx.month_mi, n), n)
    except workdays.CalendarFileError as exc:  # the month goes on; feedback refuses until it is corrected
        text = f"the working-day calendar file cannot be read, its outlook not checked: {exc}"
    if text:
        log.warning("run %s: %s", ctx.month, text)


def _finish(con, ctx, status: str = "DONE") -> None:
    run_step(con, STEPS["90_finish"], month_mi=ctx.month_mi, status=status)


def _record_failure(con, record) -> None:
    """Record a failed attempt in an ``except`` block without raising over its cause: after a
    failed COMMIT (a full disk) the connection may refuse every statement, and that error would
    hide "No space left on device" (issue 14 item 8).  The RUNNING row then stays, which the
    next attempt handles as a failed one."""
    import duckdb

    try:
        record()
    except duckdb.Error as exc:
        log.warning("could not record the failed attempt (%s)", type(exc).__name__)


def _running_context(con, month: str, settings: Settings, out) -> MonthContext:
    """The context of a month whose run has begun (DAG tasks after ``stage_begin``)."""
    ctx = month_context(con, month, settings, replay=True)
    row = con.execute(
        "SELECT as_of_seq, replay FROM month_runs WHERE month_mi = ? AND command = 'run' AND status = 'RUNNING'",
        [ctx.month_mi],
    ).fetchone()
    if row is None:
        raise MonthRefused(f"month {ctx.month}: no run has begun (stage_begin first)")
    ctx.as_of_seq, ctx.out = row[0], Path(out) if out else None
    return ctx


# ---------------------------------------------------------------- the writing stages of STAGES
# fn(con, ctx, *, validate, replay) -> counts; a replay re-emits the month as it was: the
# writers write nothing (the push-state views for the readers, the worklists validated)


def screen_stage(con, ctx, *, validate: bool = True, replay: bool = False) -> dict:
    from . import screen

    if replay:
        screen.state_views(con, ctx)
        return {}
    return screen.screen_month(con, ctx, validate=validate)


def ledger_stage(con, ctx, *, validate: bool = True, replay: bool = False) -> dict:
    from . import ledger

    return {} if replay else ledger.update_ledger(con, ctx, validate=validate)


def notices_stage(con, ctx, *, validate: bool = True, replay: bool = False) -> dict:
    return {} if replay else notify_month(con, ctx, validate=validate)


def worklists_stage(con, ctx, *, validate: bool = True, replay: bool = False) -> dict:
    """Snapshot (unless replaying) and validate the worklists of P, their objection deadlines first
    computed on the calendar as it is now (:func:`_refresh_deadlines`)."""
    from . import outputs

    counts = {} if replay else _refresh_deadlines(con, ctx)
    n = outputs.prepare_worklists(con, ctx, validate=validate, rebuild=not replay)
    return counts if replay else {**counts, "worklist rows (snapshot)": n}


def _refresh_deadlines(con, ctx) -> dict:
    """The objection deadlines the worklists show, on the calendar as it is now (rules.md §7): a year
    entered since the last ``feedback`` or ``declare`` (the feedback DAG applies nothing, and so
    refreshes nothing, when no county sent a file) is not left 待定 on P's worklists.  A calendar file
    that cannot be read leaves them as they are, with a warning: the month is not stopped for it."""
    from .feedback import refresh_deadlines_unless_unreadable

    n, warning = refresh_deadlines_unless_unreadable(con, ctx.settings)
    if warning:
        return {"objection deadlines not recomputed (calendar file)": "see the log"}
    return {"objection deadlines filled in or moved (calendar changed)": n} if n else {}


def forecast_stage(con, ctx, *, validate: bool = True, replay: bool = False) -> dict:
    """The month's forecast (issue 18), after the worklists; a replay keeps the stored one."""
    from . import forecast

    return {} if replay else forecast.forecast_month(con, ctx, validate=validate)


@refreshes_analysts
def run_month(
    month: str,
    warehouse: str | Path,
    out: str | Path,
    *,
    replay: bool = False,
    settings: Settings | None = None,
    validate: bool = True,
    ahead_of_push: bool = False,
) -> RunReport:
    """``retire-prep run --month P``: every stage of ``STAGES``, the files swapped in, in one process."""
    from . import outputs
    from .stages import WRITERS

    settings = settings or load_settings()
    out = Path(out)
    if validate:
        from .validate import warm_up

        warm_up()  # GX imports while DuckDB screens
    with connect(warehouse, settings=settings) as con:
        ctx = month_context(con, month, settings, replay=replay, ahead_of_push=ahead_of_push)
        ctx.out = out
        kept = keep_copy_before_forcing(con, warehouse, ctx, "run") if ctx.forced_ahead else None
        _begin(con, ctx, replay)
        report = RunReport(month=ctx.month, as_of_seq=ctx.as_of_seq, replay=replay)
        if kept:
            report.counts["ahead of the push: the warehouse before this run is kept as"] = str(kept)

        def step(name, fn):
            t0 = time.perf_counter()
            log.info("%s %s …", ctx.month, name)
            report.counts.update(fn() or {})
            drop_temp_tables(con)  # as a DAG task's process would: the spill holds one stage's at a time
            report.seconds[name] = round(time.perf_counter() - t0, 1)

        try:
            for st in WRITERS:
                step(st.name, lambda: st(con, ctx, validate=validate, replay=replay))
            # the reading stages into the staging folder, which is then swapped in
            step("outputs", lambda: outputs.publish_month(con, ctx, validate=validate, prepared=True))
        except BaseException:
            _record_failure(con, lambda: _finish(con, ctx, "FAILED"))
            raise
        _finish(con, ctx)
        report.out_dir = out / ctx.month
    return report


# ---------------------------------------------------------------- one function per DAG task
# Each opens its own connection: writers (begin, the writing stages, finish) run in the Airflow
# pool of one; the reading stages only read and may run side by side.


def stage_begin(month: str, warehouse: str, out: str, replay: bool = False, ahead_of_push: bool = False) -> dict:
    """Check the month order and record the run as begun (an earlier run's staging folder
    removed); returns the month and its push seq."""
    from . import outputs

    settings = load_settings()
    with connect(warehouse, settings=settings) as con:
        ctx = month_context(con, month, settings, replay=replay, ahead_of_push=ahead_of_push)
        kept = keep_copy_before_forcing(con, warehouse, ctx, "run") if ctx.forced_ahead else None
        _begin(con, ctx, replay)
        ctx.out = Path(out) if out else None
        outputs.clear_staging(ctx)
        return {"month": ctx.month, "as_of_seq": ctx.as_of_seq, "replay": replay} | (
            {"warehouse_before": str(kept)} if kept else {}
        )


def _in_running_month(
    month: str, warehouse: str, out: str, work, *, read_only: bool = False, state: bool = True, validates: bool = False
):
    """Open the warehouse, resolve the begun month, create the push-state views, run ``work(con, ctx)``.
    A stage that ``validates`` imports GX in the background meanwhile."""
    from . import screen

    if validates:
        from .validate import warm_up

        warm_up()
    settings = load_settings()
    with connect(warehouse, read_only=read_only, settings=settings) as con:
        ctx = _running_context(con, month, settings, out)
        if state:
            screen.state_views(con, ctx)
        return work(con, ctx)


def _replaying(con, ctx) -> bool:
    return con.execute(
        "SELECT replay FROM month_runs WHERE month_mi = ? AND status = 'RUNNING' AND command = 'run'",
        [ctx.month_mi],
    ).fetchall()[0][0]


def stage_run(name: str, month: str, warehouse: str, out: str, offices: list[str] | None = None) -> dict:
    """One stage of ``STAGES`` in a begun month (a DAG task): a writer on a read-write connection
    (validated), a reader read-only; a stage per office for ``offices`` (default: all)."""
    from .stages import stage

    st = stage(name)
    extra = {"offices": list(offices)} if st.per_office and offices is not None else {}
    return _in_running_month(
        month,
        warehouse,
        out,
        lambda con, ctx: st(con, ctx, replay=_replaying(con, ctx), **extra),
        read_only=not st.writes,
        state=st.name != "screen",  # the screening makes the push-state views in its transaction
        validates=st.writes,
    )


def month_offices(month: str, warehouse: str, out: str) -> list[str]:
    """The offices that get files for a begun month (the DAG maps the per-office stages over them)."""
    from . import outputs

    return _in_running_month(month, warehouse, out, outputs.offices_of_month, read_only=True)


@refreshes_analysts
def stage_finish(month: str, warehouse: str, out: str) -> dict:
    """Swap in the staging folder the file stages wrote (:func:`pipelines.outputs.publish_staged_month`,
    the command line's swap) and mark the month done."""
    from . import outputs

    def work(con, ctx):
        counts = outputs.publish_staged_month(con, ctx)
        _finish(con, ctx)
        return {"month": ctx.month, "status": "DONE"} | counts

    return _in_running_month(month, warehouse, out, work)


def notify_month(con, ctx: MonthContext, *, validate: bool = True) -> dict:
    """Stage 3: the month's reminders (rules.md §5) in one transaction."""
    from . import notify

    skipped = skipped_months(con, ctx.month_mi)
    con.execute("BEGIN TRANSACTION")
    try:
        counts = notify.issue_reminders(con, ctx.month_mi, ctx.settings, skipped)
        # before the batch is settled and withdrawn from: what waited for a skipped month's batch
        counts["carried from skipped months' batches"] = notify.carry_skipped_batches(con, ctx.month_mi, skipped)
        counts["withdrawn (entry closed)"] = notify.withdraw_closed(con, ctx.month_mi)
        counts["settled on P's data"] = notify.settle_batch(con, ctx.month_mi, ctx.settings)
        counts["letters due"] = notify.record_letters_due(con, ctx.month_mi)
        if validate:
            from .outputs import validate_notices

            validate_notices(con, ctx)
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise
    if skipped:
        counts |= _warn_skipped(con, ctx, skipped, counts["carried from skipped months' batches"])
    return {f"notices {k}": v for k, v in counts.items()}


def _warn_skipped(con, ctx: MonthContext, skipped: tuple[int, ...], carried: int) -> dict:
    """The run's warning that months were skipped (the information division's to see, with the
    report's; counts only): which, and the reminders of theirs caught up in P's batch."""
    from .report import skipped_reminders

    caught = skipped_reminders(con, ctx.month_mi, skipped)
    by_kind = {k: sum(n for _, kind, n in caught if kind == k) for k in ("AGE_MINUS_3", "AGE_REACHED")}
    months = ", ".join(format_month(m) for m in skipped)
    log.warning(
        "run %s: %s not run (the last month run before it: %s); the reminders due then are caught up "
        "in %s's batch: AGE_MINUS_3 %d, AGE_REACHED %d; %d notice(s) waiting for their batch carried "
        'into it (docs/decisions.md "Skipped months")',
        ctx.month,
        months,
        format_month(skipped[0] - 1),
        ctx.month,
        by_kind["AGE_MINUS_3"],
        by_kind["AGE_REACHED"],
        carried,
    )
    return {"skipped months (not run)": months} | {f"caught up {k}": n for k, n in by_kind.items()}
