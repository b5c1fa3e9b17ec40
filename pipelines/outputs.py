"""Outputs of month P (outputs.md): county worklists, notices, handovers, letters, report.

Everything is read from the warehouse, validated, written into a staging
folder (``OUT/.P.partial``) and then moved into ``OUT/P/`` — the same steps for the
command line and the DAG (issue 15) — so a failed validation publishes nothing
of the stage, and a rerun rewrites the same bytes.  An office's folder holds
its own persons only: every per-office query filters on the office code.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

from .steps import Step, Steps, query, run_step
from .tabular import write_partitioned, write_table
from .warehouse import drop_temp_tables

log = logging.getLogger(__name__)

#: the worklists' steps: the snapshot of P (persons_p: the month's person state, pipelines.screen.state_views),
#: then the office files' query
STEPS = Steps(
    (
        Step("outputs/10_worklist.sql", inputs=("persons_p",)),
        Step("outputs/20_worklist_file.sql"),
    )
)

WORKLIST_COLUMNS = (
    "id_no, name, gender, birth_month, insurance_type, person_type, office_code, original_age_month, "
    "statutory_age_month, months_to_original, months_to_statutory, flexible_earliest_month, "
    "flexible_latest_month, min_contribution_months, counted_contribution_months, benefit_region, flags, "
    "stage, responsible_officer, due_date, channel, statutory_age, delay_months, benefit_start_month, "
    "projected_contribution_months, scope_rule, entered_by, flag_evidence, stage_since, overdue, "
    "elected_retirement_month, objection_deadline, objection_status, objection_missing_notice"
)


def _vdir(ctx) -> Path | None:
    return (ctx.out / ctx.month / "validation") if ctx.out else None


def _validate(stage: str, frames: dict, ctx, populations: dict | None = None) -> None:
    from .validate import validate_frames

    validate_frames(stage, frames, _vdir(ctx), label=ctx.month, settings=ctx.settings, populations=populations)


def validate_notices(con, ctx) -> None:
    """GX suite ``notices`` on the SMS notices issued in P (before they are committed)."""
    from .validate import expected_sms_segments

    from .validate import sample_clause

    n = con.execute(
        "SELECT count(*) FROM notice_log WHERE issued_mi = ? AND channel = 'SMS'", [ctx.month_mi]
    ).fetchall()[0][0]
    frame = con.execute(
        "SELECT notice_id, kind AS notice_kind, id_no, phone, text, segments, mi_text(reference_mi) AS reference_month "
        f"FROM notice_log WHERE issued_mi = ? AND channel = 'SMS' AND {sample_clause(n, ctx.settings)}",
        [ctx.month_mi],
    ).df()
    # computed independently of the SQL that stored `segments`, so the check can fail
    frame["expected_segments"] = expected_sms_segments(frame["text"])
    _validate("notices", {"sms": frame}, ctx, {"sms": n})


def offices_of_month(con, ctx) -> list[str]:
    """Offices that get files for P: every office with a worklist row or a notice."""
    from .notify import notice_offices

    rows = con.execute("SELECT DISTINCT office_code FROM worklist_rows WHERE month_mi = ?", [ctx.month_mi]).fetchall()
    return sorted({r[0] for r in rows} | set(notice_offices(con, ctx.month_mi)))


def build_worklist(con, ctx) -> int:
    """Snapshot the office ledgers of P into ``worklist_rows`` (replays re-emit it)."""
    run_step(con, STEPS["10_worklist"], **ctx.params())
    return con.execute("SELECT count(*) FROM worklist_rows WHERE month_mi = ?", [ctx.month_mi]).fetchall()[0][0]


def write_worklists(con, ctx, stage_dir: Path, offices: list[str]) -> dict[str, int]:
    """``worklists/<office>/worklist.parquet``, ``.csv`` and ``.xlsx`` of each office of ``offices``:
    that office's persons only.  One query for them all, split by office in Arrow; then each
    office's workbook, streamed from the warehouse (:func:`write_workbooks`)."""
    for office in offices:
        if not re.fullmatch(r"[0-9]{6}", office):
            raise ValueError(f"not an office code: {office!r}")
    if not offices:
        return {}
    counts = write_partitioned(
        con,
        query(STEPS["20_worklist_file"], columns=WORKLIST_COLUMNS, month_mi=int(ctx.month_mi), offices=offices),
        "_office",
        lambda office: stage_dir / "worklists" / office / "worklist",
        offices,
    )
    if ctx.settings.worklist_workbooks:
        books = write_workbooks(con, ctx, stage_dir, offices)
        assert books == counts, "the workbook and the CSV of an office hold the same rows"
    return counts


def write_workbooks(con, ctx, stage_dir: Path, offices: list[str]) -> dict[str, int]:
    """``worklists/<office>/worklist.xlsx`` of each office (pipelines.xlsx): 工作台账, 反馈, 填报说明."""
    from datetime import datetime

    from .ledger import CLOSED_STAGES
    from .xlsx import write_workbooks as write_books

    created = datetime(int(ctx.month[:4]), int(ctx.month[5:7]), 1)
    columns = [c.strip() for c in WORKLIST_COLUMNS.split(",")]
    paths = {office: stage_dir / "worklists" / office / "worklist.xlsx" for office in offices}
    # every office's workbook from one query (issue 16 item 7: a query per office costs more than its rows)
    return write_books(
        con,
        ctx.month_mi,
        paths,
        columns=columns,
        created=created,
        closed_stages=CLOSED_STAGES,
        memory_limit=ctx.settings.duckdb_memory_limit or None,  # (put back exactly after the writer's own)
    )


def write_handovers(con, ctx, stage_dir: Path) -> int:
    """``handovers/handovers.parquet`` and ``.csv``: benefit place or office changes in P.

    ``from_name`` / ``to_name``: the offices as the offices read them (a Ningxia office's name, another
    province's agency: :func:`pipelines.notify.recipient_name`, the coordination letter's addressee),
    beside the codes."""
    import pyarrow as pa

    from .notify import recipient_name

    month_mi = int(ctx.month_mi)
    codes = sorted(
        {
            c
            for row in con.execute(
                "SELECT DISTINCT from_code, to_code FROM handovers WHERE month_mi = ?", [month_mi]
            ).fetchall()
            for c in row
            if c
        }
    )
    names = pa.table(
        {"code": pa.array(codes, pa.string()), "name": pa.array([recipient_name(c) for c in codes], pa.string())}
    )
    con.register("_handover_names", names)
    try:
        return write_table(
            con,
            f"""SELECT mi_text(h.month_mi) AS month, h.id_no, p.name, h.kind, h.from_code, h.to_code, h.reason,
                       true AS notify_person,
                       (p.insurance_type = 110 AND (p.employer_uscc IS NOT NULL OR p.employer_name IS NOT NULL)) AS notify_employer,
                       f.name AS from_name, t.name AS to_name
                FROM handovers h JOIN persons_p p USING (id_no)
                LEFT JOIN _handover_names f ON f.code = h.from_code
                LEFT JOIN _handover_names t ON t.code = h.to_code
                WHERE h.month_mi = {month_mi} ORDER BY h.kind, h.from_code, h.to_code, person_key(h.id_no)""",
            stage_dir / "handovers" / "handovers",
        )
    finally:
        con.unregister("_handover_names")


def validate_worklists(con, ctx) -> None:
    # the whole month at once: id_no unique month-wide implies unique in each office's file
    from .validate import sample_clause

    n = con.execute("SELECT count(*) FROM worklist_rows WHERE month_mi = ?", [ctx.month_mi]).fetchall()[0][0]
    frame = con.execute(
        f"SELECT {WORKLIST_COLUMNS} FROM worklist_rows WHERE month_mi = ? AND {sample_clause(n, ctx.settings)}",
        [ctx.month_mi],
    ).df()
    _validate("worklists", {"worklist": frame}, ctx, {"worklist": n})


def prepare_worklists(con, ctx, *, validate: bool = True, rebuild: bool = True) -> int:
    """Snapshot (unless replaying) and validate the month's worklists; nothing is written to files."""
    n = (
        build_worklist(con, ctx)
        if rebuild
        else con.execute("SELECT count(*) FROM worklist_rows WHERE month_mi = ?", [ctx.month_mi]).fetchall()[0][0]
    )
    if validate:
        validate_worklists(con, ctx)
    return n


def write_offices_files(con, ctx, offices: list[str], base: Path) -> dict:
    """The worklists and notices of ``offices`` for P under ``base``, each office its own folder."""
    from . import notify

    counts = {"worklist rows": sum(write_worklists(con, ctx, base, offices).values())}
    counts.update(notify.write_notification_files(con, ctx.month_mi, base, offices=offices, settings=ctx.settings))
    return counts


def write_month_files(con, ctx, base: Path) -> dict:
    """The month's region-wide files under ``base``: handovers, coordination letters, the offices'
    workload forecast (issue 18), report."""
    from . import forecast, notify, report

    counts = {
        "handovers": write_handovers(con, ctx, base),
        "letters": len(notify.write_letters(con, ctx.month_mi, base)),
        "forecast rows": forecast.write_forecast(con, ctx, base),
    }
    report.write_report(con, ctx, base)
    return counts


# ------------------------------------------------------------------ the month's staging folder
# Every file of P is written into OUT/.P.partial (the reading stages of pipelines.stages.STAGES:
# the CLI's run in one go, the DAG's tasks side by side), then swapped into OUT/P by
# swap_in_month: the same steps for the command line and the DAG (issue 15).


def staging_dir(ctx) -> Path:
    """``OUT/.P.partial``: where a run of P writes its files before they are swapped in."""
    return ctx.out / f".{ctx.month}.partial"


def clear_staging(ctx) -> None:
    """Remove the staging folder of P (an earlier, interrupted run's): ``begin`` of a run."""
    if ctx.out:
        remove_path(staging_dir(ctx))


def office_files_stage(con, ctx, *, offices=None, validate: bool = True, replay: bool = False) -> dict:
    """Stage ``office_files``: the worklists and notices of ``offices`` (default: every office of P)
    into the staging folder; a task run again first removes what its earlier attempt wrote."""
    offices = offices_of_month(con, ctx) if offices is None else list(offices)
    base = staging_dir(ctx)
    base.mkdir(parents=True, exist_ok=True)
    for office in offices:
        if not re.fullmatch(r"[0-9]{6}", office):
            raise ValueError(f"not an office code: {office!r}")
        for kind in OFFICE_FOLDERS:
            remove_path(base / kind / office)
    counts = write_offices_files(con, ctx, offices, base)
    counts["offices"] = len(offices)
    return counts


def month_files_stage(con, ctx, *, validate: bool = True, replay: bool = False) -> dict:
    """Stage ``month_files``: the month's region-wide files into the staging folder (a task run
    again first removes what its earlier attempt wrote)."""
    base = staging_dir(ctx)
    base.mkdir(parents=True, exist_ok=True)
    for name in MONTH_FOLDERS:
        remove_path(base / name)
    return write_month_files(con, ctx, base)


def write_staging(con, ctx) -> dict:
    """Every file of P into a new staging folder: each reading stage of ``STAGES`` for every office
    at once.  On a failure the folder is removed (e.g. the disk is full: its space back now)."""
    from .stages import READERS

    staging = staging_dir(ctx)
    remove_path(staging)  # an interrupted run's (not ignore_errors: a failure must say why)
    counts: dict = {}
    try:
        for st in READERS:
            counts.update(st(con, ctx))
            drop_temp_tables(con)  # one stage's temporary tables at a time, as in the DAG's tasks
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return counts


def publish_month(con, ctx, *, validate: bool = True, rebuild: bool = True, prepared: bool = False) -> dict:
    """The command line's files of P: written into the staging folder, then swapped in.
    ``prepared``: the worklists of P were snapshot and validated by the run already."""
    if not prepared:
        prepare_worklists(con, ctx, validate=validate, rebuild=rebuild)
    counts = write_staging(con, ctx)
    swap_in_month(con, ctx)
    return counts


def publish_staged_month(con, ctx) -> dict:
    """The DAG's ``finish``: swap in the staging folder its file tasks wrote.  Office folders of
    an earlier attempt that this run has no files for are removed from it first; a staging folder
    that is missing, or that a killed ``finish`` had begun to swap in, is written again whole (as
    the command line writes it) before the swap."""
    staging = staging_dir(ctx)
    if not _staging_whole(staging):
        counts = write_staging(con, ctx)
        log.warning("%s: the staging folder was not whole (an interrupted finish): written again", ctx.month)
    else:
        keep = set(offices_of_month(con, ctx))
        counts = {"stale office folders removed": 0}
        for kind in OFFICE_FOLDERS:
            for d in sorted((staging / kind).iterdir()) if (staging / kind).is_dir() else []:
                if d.is_dir() and d.name not in keep:
                    shutil.rmtree(d)
                    counts["stale office folders removed"] += 1
    swap_in_month(con, ctx)
    return counts


def swap_in_month(con, ctx) -> None:
    """Put the staging folder of P in place in ``OUT/P`` (:func:`_swap_in`) and bring the
    ingest's validation results beside it: the last step of the command line's run and the DAG's."""
    _swap_in(staging_dir(ctx), ctx.out / ctx.month)
    copy_ingest_validation(con, ctx)


# the folders of OUT/P a run writes (declarations/ is declare's, validation/ is written in place):
# one folder per office in each of OFFICE_FOLDERS, the region's files in MONTH_FOLDERS
OFFICE_FOLDERS = ("worklists", "notifications")
MONTH_FOLDERS = ("handovers", "letters", "forecast", "report")
RUN_FOLDERS = OFFICE_FOLDERS + MONTH_FOLDERS

# in the staging folder once its swap has begun: a swap killed half way leaves it consumed
# (folders moved out, old ones moved in), and the DAG's finish then writes it again whole
SWAP_STARTED = ".swap-started"

# OUT/P/PUBLISHING.txt: present while a run is putting its folders in place (each folder moves
# atomically, the set does not); left behind by an interrupted run, it says the month is a mix
PUBLISHING = "PUBLISHING.txt"


def mark_publishing(final: Path) -> None:
    """Say in OUT/P that its files are being replaced, until :func:`unmark_publishing`."""
    final.mkdir(parents=True, exist_ok=True)
    (final / PUBLISHING).write_text(
        f"retire-prep is putting the files of month {final.name} in place.\n"
        "Do not hand out or read this folder until this file is gone.\n"
        "If it stays after the run has ended, the run was interrupted and the folder may mix this run's\n"
        f"files with an earlier one's: run the month again (retire-prep run --month {final.name}).\n",
        encoding="utf-8",
    )


def unmark_publishing(final: Path) -> None:
    (final / PUBLISHING).unlink(missing_ok=True)


def copy_ingest_validation(con, ctx) -> int:
    """Bring the ingest-time validation results of the month's batches into ``OUT/P/validation``."""
    from .ingest import validation_root

    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()[0][0]
    if not path or not ctx.out:
        return 0
    src = validation_root(path)
    batches = [
        r[0]
        for r in con.execute(
            "SELECT batch_id FROM push_batches WHERE status = 'APPLIED' AND data_month = ?", [ctx.month]
        ).fetchall()
    ]
    dst = _vdir(ctx)
    n = 0
    for b in batches:
        for f in sorted(src.glob(f"*-{b}.*")):
            dst.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dst / f.name)
            n += 1
    if n:
        from .validate import write_index

        write_index(dst)  # the index lists them from the first run on, as a rerun would
    return n


def remove_path(path: Path) -> None:
    """Remove whatever is at ``path`` (a folder, a file or a link; nothing is fine).  Not
    ``ignore_errors``: a leftover that cannot be removed must stop the run with its reason, not
    make the next rename fail with a misleading one."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def clear_leftovers(final: Path, folders=None) -> int:
    """Remove what an interrupted run left in ``OUT/P`` (issue 14 item 1): a run folder moved
    aside (``.worklists.old`` …) and files half written under their temporary name (``*.tmp``,
    which a killed DAG file task leaves in the staging folder).  Only the pipeline's own
    names of the run's folders (:data:`RUN_FOLDERS`; ``declarations/`` is declare's, which clears
    its own): nothing a person puts there matches.  Returns how many were removed."""
    n = 0
    for name in folders or RUN_FOLDERS:
        leftovers = [final / f".{name}.old"]
        if (final / name).is_dir() and not (final / name).is_symlink():
            leftovers += sorted((final / name).rglob("*.tmp"))
        for path in leftovers:
            if path.exists() or path.is_symlink():
                remove_path(path)
                n += 1
    if n:
        log.warning("removed %d leftover(s) of an interrupted run from %s", n, final)
    return n


_RENAME_EXCHANGE = 2  # linux/fs.h


def _rename_exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``);
    False when the system or the file system cannot (then nothing happened)."""
    import ctypes
    import errno

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_folder(new: Path, target: Path) -> None:
    """Put folder ``new`` in the place of ``target`` (a reader of ``target`` sees the old folder
    or the new one, never none) and remove the old one.

    One atomic exchange where the system has it (Linux); else two renames through
    ``.<name>.old``, and a kill between them leaves ``target`` missing and ``.<name>.old``
    beside it: whatever is at ``.<name>.old`` is an interrupted swap's and is removed first
    (issue 14 item 1: renaming onto it failed with "Directory not empty" on every later run).
    """
    old = target.with_name(f".{target.name}.old")
    remove_path(old)
    if target.exists() or target.is_symlink():
        if _rename_exchange(new, target):
            remove_path(new)  # now the old folder
            return
        os.replace(target, old)
    os.replace(new, target)
    remove_path(old)


def _staging_whole(stage_dir: Path) -> bool:
    """The staging folder is there, holds files, and no swap of it has begun (:data:`SWAP_STARTED`;
    emptied by a swap killed in its last removal, it holds nothing)."""
    return (
        stage_dir.is_dir()
        and not (stage_dir / SWAP_STARTED).exists()
        and any(not p.name.startswith(".") for p in stage_dir.iterdir())
    )


def _swap_in(stage_dir: Path, final: Path) -> None:
    """Move each published folder of the staging dir into OUT/P, replacing the old one; a run's
    folder (:data:`RUN_FOLDERS`) that this run has nothing for goes (nothing stale stays).
    ``OUT/P/PUBLISHING.txt`` says so meanwhile (each move is atomic, the set is not).

    Leftovers of an interrupted run (``.<name>.old``, ``*.tmp``: a killed DAG file task's in the
    staging folder too) are removed first (issue 14 item 1); the staging folder is marked
    :data:`SWAP_STARTED`; each folder is swapped in by :func:`swap_folder`.

    ``validation/`` is not touched: it is written directly and keeps the record
    of failed validations too; ``declarations/`` is declare's.
    """
    clear_leftovers(stage_dir)
    (stage_dir / SWAP_STARTED).write_bytes(b"")
    mark_publishing(final)
    clear_leftovers(final)
    for name in RUN_FOLDERS:
        if not (stage_dir / name).exists() and ((final / name).exists() or (final / name).is_symlink()):
            remove_path(final / name)
    for child in sorted(stage_dir.iterdir()):
        if not child.name.startswith("."):
            swap_folder(child, final / child.name)
    shutil.rmtree(stage_dir)
    unmark_publishing(final)
