"""Thin helpers for the Airflow DAGs of ``dags/`` (docs/operations.md).

No business logic here: which month a DAG run computes, where the warehouse,
the outputs and the inboxes are, and one call per task into the same
``pipelines`` functions the CLI uses.  Only the standard library is imported at
module level, so the DAG files stay cheap to parse; Airflow, DuckDB and the
stages are imported inside the functions that need them.

The month P of a run (:func:`month_of_run`) is, in this order:

1. the run's ``month`` param (``YYYY-MM``), for reruns and backfills;
2. for a run a push arrival started (``push_arrival``'s asset event), the ``data_month``
   of the arrived batch (:func:`month_of_asset_events`);
3. the month of the run's logical date, in Asia/Shanghai;
4. the month of its ``run_after``, in Asia/Shanghai (manual and asset-triggered
   runs in Airflow 3 may have no logical date).

A run date's *own* month is used, never the data interval: the DAGs use
``CronTriggerTimetable`` whose runs have an empty interval (start = end = the
trigger time), so "the interval's start" would be no different, and a
``CronDataIntervalTimetable`` would give the *previous* month.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from . import months
from .settings import TIMEZONE  # the timezone of schedules and of a run's month (stdlib only)

log = logging.getLogger(__name__)

#: The Airflow pool (one slot) of every task that writes the DuckDB warehouse.
POOL = "retire_prep_warehouse"

# name -> (environment variable, Airflow Variable, default relative to the project)
_PATHS = {
    "warehouse": ("RETIRE_PREP_WAREHOUSE", "retire_prep_warehouse", "build/warehouse.duckdb"),
    "out": ("RETIRE_PREP_OUT", "retire_prep_out", "build/out"),
    "push_inbox": ("RETIRE_PREP_PUSH_INBOX", "retire_prep_push_inbox", "build/inbox/push"),
    "feedback_inbox": ("RETIRE_PREP_FEEDBACK_INBOX", "retire_prep_feedback_inbox", "build/inbox/feedback"),
}


# ------------------------------------------------------------------ the tasks' failures


class TaskError(RuntimeError):
    """A DAG task's unexpected failure (a bug, a locked warehouse …): the original traceback as text,
    with what may be an ID or mobile number masked, as the command line's refusals are: DuckDB's
    messages can quote a row's values, and Airflow's task log is a log (README: no ID number, name or
    phone).  Airflow retries it as any other error."""


def masked_failures(fn):
    """The DAG tasks' entry points: a refusal fails the task without retry (its message masked,
    :func:`_fail_without_retry`, never chained to the unmasked original); Airflow's own exceptions
    (skip, fail, timeout) pass as they are; anything else becomes a :class:`TaskError` holding the
    masked traceback, never chained either (a chained cause is printed whole in the task's log)."""
    import functools

    @functools.wraps(fn)
    def task(*args, **kwargs):
        from .errors import RetirePrepError

        try:
            return fn(*args, **kwargs)
        except RetirePrepError as exc:
            raise _fail_without_retry(exc) from None
        except Exception as exc:
            if type(exc).__module__.split(".")[0] == "airflow":
                raise
            import traceback

            from .contract import shown_text

            raise TaskError(shown_text("".join(traceback.format_exception(exc)))) from None

    return task


# ------------------------------------------------------------------ month of a run (pure)


def month_of_run(
    param_month: str | None = None,
    logical_date: datetime | None = None,
    run_after: datetime | None = None,
    tz: str = TIMEZONE,
) -> str:
    """Month P (``YYYY-MM``) of a DAG run: param, else logical date, else run_after, in ``tz``.

    A naive datetime is taken as UTC (what Airflow stores).  Raises ``ValueError`` for a
    malformed ``month`` param or when the run has no date at all.
    """
    if param_month not in (None, ""):
        month = str(param_month).strip()
        if not months.is_month(month):
            raise ValueError(f"month param {param_month!r} is not YYYY-MM")
        return month
    instant = logical_date if logical_date is not None else run_after
    if instant is None:
        raise ValueError("the run has neither a month param, nor a logical date, nor run_after")
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    local = instant.astimezone(ZoneInfo(tz))
    return f"{local.year:04d}-{local.month:02d}"


def month_of_asset_events(context: Mapping[str, Any]) -> str | None:
    """The month a push arrival asked for (``extra["month"]`` of the triggering asset events,
    the latest when several arrived), or ``None`` for a run no arrival started."""
    events = context.get("triggering_asset_events") or {}
    found = []
    try:
        for evs in events.values():
            for ev in evs:
                month = (getattr(ev, "extra", None) or {}).get("month")
                if months.is_month(month):
                    found.append(month)
    except (AttributeError, TypeError):  # not a mapping of event lists: no arrival
        return None
    return max(found, default=None)


def month_from_context(context: Mapping[str, Any]) -> str:
    """:func:`month_of_run` on an Airflow task context (``get_current_context()``); a run started
    by a push arrival computes the month of the arrived batch (after the ``month`` param)."""
    params = context.get("params") or {}
    dag_run = context.get("dag_run")
    return month_of_run(
        params.get("month") or month_of_asset_events(context),
        getattr(dag_run, "logical_date", None) or context.get("logical_date"),
        getattr(dag_run, "run_after", None),
    )


def current_month() -> str:
    """Month P of the running task's DAG run."""
    from airflow.sdk import get_current_context

    month = month_from_context(get_current_context())
    log.info("month P = %s", month)
    return month


@masked_failures
def automatic_run_due(month: str) -> bool:
    """The ``month_due`` task: False (skip the run) when an automatic run finds nothing to do
    (``pipelines.arrival.automatic_run_due``); a run with a ``month`` param always goes ahead."""
    from airflow.sdk import get_current_context

    from .arrival import automatic_run_due as due

    if (get_current_context().get("params") or {}).get("month"):
        log.info("month %s asked for explicitly: the run goes ahead", month)
        return True
    ok, reason = due(month, paths().warehouse)
    log.log(logging.INFO if ok else logging.WARNING, "%s", reason)
    return ok


@masked_failures
def new_push_arrivals() -> list[dict]:
    """The push sensor's poke: complete batches of the push inbox not announced before."""
    from .arrival import new_complete_batches

    p = paths()
    if not p.push_inbox.is_dir():
        return []
    from .contract import shown_file_name

    found = new_complete_batches(p.push_inbox, p.warehouse)
    for b in found:
        folder = shown_file_name(b["folder"])
        log.info("complete batch %s (seq %s, %s) in %s", b["batch_id"], b["seq"], b["data_month"], folder)
    return found


def announce_push_arrivals(batches: list[dict]) -> dict:
    """Remember the batches as announced; the asset event's extra (the month to run)."""
    from .arrival import mark_announced, month_of_arrivals

    mark_announced(batches, paths().warehouse)
    return {"month": month_of_arrivals(batches), "batches": [b["batch_id"] for b in batches]}


def current_ahead_of_push() -> bool:
    """The ``ahead_of_push`` param of the running task's DAG run (default false): run or declare a
    month beyond what the latest push allows (docs/operations.md)."""
    from airflow.sdk import get_current_context

    return bool((get_current_context().get("params") or {}).get("ahead_of_push"))


def current_accept_departures() -> str:
    """The ``accept_departures`` param of the running task's DAG run (default empty): the batch_id of a
    FULL refused ``DEPARTURES`` that an operator has checked and wants applied as it is."""
    from airflow.sdk import get_current_context

    return str((get_current_context().get("params") or {}).get("accept_departures") or "")


def current_replay() -> bool:
    """The ``replay`` param of the running task's DAG run (default false)."""
    from airflow.sdk import get_current_context

    return bool((get_current_context().get("params") or {}).get("replay"))


# ------------------------------------------------------------------ paths


@dataclass(frozen=True)
class Paths:
    warehouse: Path
    out: Path
    push_inbox: Path
    feedback_inbox: Path


def _airflow_variable(name: str) -> str | None:
    """An Airflow Variable, when running inside a task; ``None`` elsewhere or when unset."""
    try:
        from airflow.sdk import Variable

        return Variable.get(name, default=None)
    except Exception:  # no task context (CLI, unit tests), or no Airflow at all
        return None


def paths(use_variables: bool = True) -> Paths:
    """Where things are: ``RETIRE_PREP_*`` environment variable, else the Airflow Variable
    ``retire_prep_*`` (inside a task), else ``<project>/build/...``."""
    from . import PROJECT_ROOT

    found = {}
    for key, (env, var, default) in _PATHS.items():
        value = os.environ.get(env) or (_airflow_variable(var) if use_variables else None)
        found[key] = Path(value) if value else PROJECT_ROOT / default
    return Paths(**found)


# ------------------------------------------------------------------ one call per task


def _fail_without_retry(exc: Exception | str):
    """A refused input will be refused again: fail the task now, without its retries.  The message
    masked as the command line's (what may be an ID or mobile number in a file or folder name)."""
    from airflow.sdk.exceptions import AirflowFailException

    from .contract import shown_text

    return AirflowFailException(f"retire-prep: {shown_text(str(exc))}")


@masked_failures
def ingest_push_inbox(inbox: Path | None = None, warehouse: Path | None = None, accept_departures: str = "") -> dict:
    """Ingest every batch waiting in the push inbox, in seq order.

    The whole inbox is processed first; then a refused batch fails the task (no retry:
    the same bytes would be refused again).  Held batches are logged as warnings.
    ``accept_departures``: batch_ids (comma- or space-separated; the DAG's param) of FULLs to apply
    although most of the push would leave with them.
    """
    from .ingest import ingest_inbox

    p = paths()
    inbox, warehouse = Path(inbox or p.push_inbox), Path(warehouse or p.warehouse)
    if not inbox.is_dir():
        log.warning("push inbox %s does not exist: nothing to ingest", inbox)
        return {"applied": [], "held": [], "refused": []}
    report = ingest_inbox(inbox, warehouse, accept_departures=accept_departures.replace(",", " ").split())
    _log_lines(report)
    summary = {
        "applied": [a["batch_id"] for a in report.applied],
        "held": [h["batch_id"] for h in report.held],
        "refused": [str(r) for r in report.refused],
    }
    if report.refused:
        raise _fail_without_retry(
            f"{len(report.refused)} push batch(es) refused (the rest of the inbox was processed; "
            f"see the `batches` view): " + "; ".join(summary["refused"])
        )
    return summary


@masked_failures
def load_application_inbox(inbox: Path | None = None, warehouse: Path | None = None) -> dict:
    """Load ``<push inbox>/applications/*.csv`` (a file already loaded is skipped)."""
    from .ingest import load_applications

    p = paths()
    folder = Path(inbox or p.push_inbox) / "applications"
    files = _csv_files(folder)
    if not files:
        log.info("no applications in %s", folder)
        return {"files": 0}
    return load_applications(files, Path(warehouse or p.warehouse))


#: what the feedback inbox takes: CSV, and the offices' worklist.xlsx sent back (issue 16); every other
#: name of a workbook too (.xlsm, .xls, WPS's .et, LibreOffice's .ods …: pipelines.feedback.xlsx.SUFFIXES,
#: tested equal), to be refused loudly with what to do rather than left unseen in the folder
FEEDBACK_SUFFIXES = (".csv", ".xlsx", ".xlsm", ".xltx", ".xltm", ".xls", ".xlsb", ".et", ".ods", ".fods")


def _is_feedback(p: Path) -> bool:
    """A feedback file by its name, whatever the case of its suffix (``FB.CSV`` of a Windows sender);
    Excel's and LibreOffice's lock files of an open workbook (``~$…``, ``.~lock…``) are not files
    anyone sent."""
    return p.suffix.lower() in FEEDBACK_SUFFIXES and not p.name.startswith(("~$", ".~lock")) and p.is_file()


def _feedback_files(folder: Path) -> list[Path]:
    """The feedback files directly in ``folder`` (see :func:`_is_feedback`), in name order."""
    return sorted(p for p in Path(folder).iterdir() if _is_feedback(p)) if Path(folder).is_dir() else []


def feedback_inbox_files(inbox: Path, offices) -> tuple[dict[str, list[Path]], list[Path]]:
    """The feedback inbox's files: ``{office: [<inbox>/<office>/*.csv]}`` for every office folder
    of ``offices`` (docs/feedback-format.md "Whose file"), and the files that are in no office's
    folder (the inbox itself, or a folder that is no office), which are never applied."""
    inbox = Path(inbox)
    for o in offices:  # the folders a transfer script or an office drops into
        (inbox / o).mkdir(parents=True, exist_ok=True)
    by_office = {o: _feedback_files(inbox / o) for o in sorted(offices)}
    known = {inbox / o for o in offices}
    stray = _feedback_files(inbox)
    # a folder that is no office's, and any folder inside an office's folder: never applied, named
    stray += sorted(
        p
        for d in inbox.iterdir()
        if d.is_dir() and d not in known and d.name != "refused"
        for p in d.rglob("*")
        if _is_feedback(p)
    )
    # (a hidden folder is a transfer tool's work area, e.g. rsync's .~tmp~: its files are not sent yet)
    stray += sorted(
        p
        for o in sorted(offices)
        for d in (inbox / o).iterdir()
        if d.is_dir() and not d.name.startswith(".")
        for p in d.rglob("*")
        if _is_feedback(p)
    )
    return {o: f for o, f in by_office.items() if f}, stray


def settled(files: list[Path], settle_seconds: float, now: float | None = None) -> tuple[list[Path], list[Path]]:
    """``files`` split into (settled, still arriving): a file is taken once it has not changed for
    ``settle_seconds`` (its mtime that long ago). A file still being uploaded is written to, so its
    mtime is recent: applied now it could lose a row cut at its end (a CSV's last row cut inside a
    cell is a whole row to the reader); it is left for a later run. Copy tools that keep the sender's
    time set it once the copy is done (rsync -t, scp -p, WinSCP): until then the mtime is recent too
    (docs/decisions.md, issue 16, eighth session)."""
    import time

    now = time.time() if now is None else now
    ready: list[Path] = []
    waiting: list[Path] = []
    for f in files:
        try:
            age = now - f.stat().st_mtime
        except FileNotFoundError:  # moved away meanwhile (to refused/, or renamed by the upload)
            continue
        (ready if age >= settle_seconds else waiting).append(f)
    return ready, waiting


def _is_csv(p: Path) -> bool:
    """A CSV file by its name, whatever the case of ``.csv`` (``FB.CSV`` of a Windows sender)."""
    return p.suffix.lower() == ".csv" and p.is_file()


def _csv_files(folder: Path) -> list[Path]:
    """The CSV files directly in ``folder`` (see :func:`_is_csv`), sorted."""
    return sorted(p for p in Path(folder).iterdir() if _is_csv(p)) if Path(folder).is_dir() else []


@masked_failures
def apply_feedback_inbox(inbox: Path | None = None, warehouse: Path | None = None) -> dict:
    """Apply ``<feedback inbox>/<office>/*.csv`` and ``*.xlsx`` (worklist.xlsx sent back, issue 16),
    each folder's files bound to its office
    (re-applying a file changes nothing), each file's receipt (回执) written to ``<out>/feedback/<office>/``.
    Only files that have settled are taken (:func:`settled`, ``feedback_settle_seconds``).  A ``*.csv`` in no office's folder is not applied: the
    task fails naming it (after the office folders are applied), so it is never forgotten."""
    from .analysts import rebuilds_after
    from .errors import RetirePrepError
    from .feedback import apply_feedback_files
    from .settings import load_settings
    from .validate import office_codes

    p = paths()
    folder = Path(inbox or p.feedback_inbox)
    settings = load_settings()
    if not folder.is_dir():
        log.warning("feedback inbox %s does not exist: nothing to apply", folder)
        return {"files": 0}
    by_office, stray = feedback_inbox_files(folder, office_codes(settings))
    settle = settings.feedback_settle_seconds
    waiting: list[Path] = []
    for office in list(by_office):
        by_office[office], w = settled(by_office[office], settle)
        waiting += w
        if not by_office[office]:
            del by_office[office]
    stray, w = settled(stray, settle)
    waiting += w
    if waiting:
        from .contract import shown_file_name

        log.info(
            "%d feedback file(s) changed in the last %d s, still arriving: left for the next run (%s)",
            len(waiting),
            settle,
            ", ".join(shown_file_name(str(f.relative_to(folder))) for f in waiting[:3])
            + (" …" if len(waiting) > 3 else ""),
        )
    if not by_office and not stray:
        log.info("no feedback files in %s ready to apply", folder)
        return {"files": 0, "waiting": len(waiting)}
    lines: list[str] = []
    refused: list[str] = []
    warehouse = Path(warehouse or p.warehouse)
    with rebuilds_after(warehouse, settings):  # the analysts' file once, after every office's files
        for office, files in by_office.items():
            try:
                report = apply_feedback_files(files, warehouse, settings, office=office, receipts=p.out / "feedback")
            except RetirePrepError as exc:
                lines += _log_lines(getattr(exc, "report", None))  # what was applied besides the refusal
                refused.append(f"{office}: {exc}")
                continue
            lines += _log_lines(report)
    if stray:
        from .contract import shown_file_name

        names = ", ".join(shown_file_name(str(f.relative_to(folder))) for f in stray[:3]) + (
            " …" if len(stray) > 3 else ""
        )
        refused.append(
            f"{len(stray)} file(s) in no office's folder, not applied ({names}): move each into "
            f"{folder}/<office>/ of the office that sent it"
        )
    if refused:
        raise _fail_without_retry("; ".join(refused))
    return {"files": sum(len(f) for f in by_office.values()), "waiting": len(waiting), "report": lines}


def _log_lines(report) -> list[str]:
    """Log a pipeline report's lines (refusals as errors, warnings as warnings); returns them."""
    if report is None:
        return []
    lines = list(getattr(report, "lines", lambda: [str(report)])())
    for line in lines:
        level = (
            logging.ERROR
            if line.startswith("REFUSED")
            else logging.WARNING
            if line.startswith(("held", "warning", "  warning"))
            else logging.INFO
        )
        log.log(level, "%s", line)
    return lines


@masked_failures
def stage(name: str, month: str, **kwargs):
    """One DAG task of the month: ``begin`` / ``finish`` (``pipelines.monthly.stage_begin`` /
    ``stage_finish``), else the stage ``name`` of ``pipelines.stages.STAGES``
    (``pipelines.monthly.stage_run``), on the warehouse and ``OUT`` of :func:`paths`.

    A refused month or a failed validation fails the task without retries (the
    result would be the same); anything else (e.g. the warehouse locked by
    another process) is retried by Airflow.
    """
    from . import monthly

    p = paths()
    bookends = {"begin": monthly.stage_begin, "finish": monthly.stage_finish}
    if name in bookends:
        return bookends[name](month, str(p.warehouse), str(p.out), **kwargs)
    return monthly.stage_run(name, month, str(p.warehouse), str(p.out), **kwargs)


#: How many ``office_files`` tasks a month's county files are split into (issue 20 item 5): a task
#: costs seconds of start-up (process, imports, warehouse connection) for about 40 ms of work per
#: office, so one task per office (29) cost minutes; a few tasks, each named by its offices in the
#: UI, keep the view of which offices' files failed at a fraction of the cost.
OFFICE_TASKS = 4


def office_groups(offices: list[str], tasks: int = OFFICE_TASKS) -> list[list[str]]:
    """``offices`` (in order) in at most ``tasks`` contiguous groups of near-equal size."""
    offices = list(offices)
    n = min(tasks, len(offices))
    if n == 0:
        return []
    size, extra = divmod(len(offices), n)
    groups, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        groups.append(offices[start:end])
        start = end
    return groups


def writer_stage(name: str, month: str):
    """A DAG task of a stage that writes the warehouse.  The last one (every writer has committed)
    returns the groups of offices the per-office stages are mapped over; the others their counts."""
    from .stages import WRITERS

    counts = stage(name, month)
    log.info("%s: %s", name, counts)
    if name != WRITERS[-1].name:
        return counts
    from . import monthly

    p = paths()
    groups = office_groups(monthly.month_offices(month, str(p.warehouse), str(p.out)))
    log.info("%d office task(s): %s", len(groups), "; ".join(",".join(g) for g in groups))
    return groups


def office_group_files(offices: list[str], month: str, name: str = "office_files") -> dict:
    """One mapped task of a per-office stage: its offices' files (read-only)."""
    from airflow.sdk import get_current_context

    get_current_context()["offices_label"] = ",".join(offices)  # the task's name in the UI
    counts = stage(name, month, offices=offices)
    log.info("offices %s: %s", ",".join(offices), counts)
    return counts


@masked_failures
def declare(month: str, replay: bool = False, ahead_of_push: bool = False) -> dict:
    """``pipelines.declare.declare_month(month, warehouse, out)``, as a small summary."""
    from .declare import declare_month

    p = paths()
    report = declare_month(month, p.warehouse, p.out, replay=replay, ahead_of_push=ahead_of_push)
    return {"month": month, "report": _log_lines(report)}
