"""Outputs of month P (outputs.md): county worklists, notices, handovers, letters, report.

Everything is read from the warehouse, validated, written into a staging
folder and then moved into ``OUT/P/`` — a failed validation publishes nothing
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
    from .xlsx import write_workbook

    created = datetime(int(ctx.month[:4]), int(ctx.month[5:7]), 1)
    columns = [c.strip() for c in WORKLIST_COLUMNS.split(",")]
    return {
        office: write_workbook(
            con,
            ctx.month_mi,
            office,
            stage_dir / "worklists" / office / "worklist.xlsx",
            columns=columns,
            created=created,
            closed_stages=CLOSED_STAGES,
        )
        for office in offices
    }


def write_handovers(con, ctx, stage_dir: Path) -> int:
    """``handovers/handovers.parquet`` and ``.csv``: benefit place or office changes in P."""
    return write_table(
        con,
        f"""SELECT mi_text(h.month_mi) AS month, h.id_no, p.name, h.kind, h.from_code, h.to_code, h.reason,
                   true AS notify_person,
                   (p.insurance_type = 110 AND (p.employer_uscc IS NOT NULL OR p.employer_name IS NOT NULL)) AS notify_employer
            FROM handovers h JOIN persons_p p USING (id_no)
            WHERE h.month_mi = {int(ctx.month_mi)} ORDER BY h.kind, h.from_code, h.to_code, person_key(h.id_no)""",
        stage_dir / "handovers" / "handovers",
    )


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


def write_office_files(con, ctx, office: str, base: Path) -> dict:
    """One office's files of P under ``base``: its worklist and its notices (DAG: one mapped task)."""
    return write_offices_files(con, ctx, [office], base)


def write_offices_files(con, ctx, offices: list[str], base: Path) -> dict:
    """The worklists and notices of ``offices`` for P under ``base``, each office its own folder."""
    from . import notify

    counts = {"worklist rows": sum(write_worklists(con, ctx, base, offices).values())}
    counts.update(notify.write_notification_files(con, ctx.month_mi, base, offices=offices))
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


def publish_month(con, ctx, *, validate: bool = True, rebuild: bool = True, prepared: bool = False) -> dict:
    """Stage 4 (CLI): validate, then write every file of P into a staging folder and swap it in.
    ``prepared``: the worklists of P were snapshot and validated by the run already."""
    if not prepared:
        prepare_worklists(con, ctx, validate=validate, rebuild=rebuild)
    final = ctx.out / ctx.month
    stage_dir = ctx.out / f".{ctx.month}.partial"
    remove_path(stage_dir)  # an interrupted run's (not ignore_errors: a failure must say why)
    stage_dir.mkdir(parents=True)
    counts: dict = {}
    try:
        offices = offices_of_month(con, ctx)
        counts.update(write_offices_files(con, ctx, offices, stage_dir))
        counts["offices"] = len(offices)
        counts.update(write_month_files(con, ctx, stage_dir))
    except BaseException:
        # e.g. the disk is full: give its space back now (the next run would remove it anyway)
        shutil.rmtree(stage_dir, ignore_errors=True)
        raise
    _swap_in(stage_dir, final)
    copy_ingest_validation(con, ctx)
    return counts


# the folders of OUT/P a run writes (declarations/ is declare's, validation/ is written in place)
RUN_FOLDERS = ("worklists", "notifications", "handovers", "letters", "forecast", "report")

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
    which the DAG's tasks leave inside the folders they write in place).  Only the pipeline's own
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


def _swap_in(stage_dir: Path, final: Path) -> None:
    """Move each published folder of the staging dir into OUT/P, replacing the old one; a run's
    folder (:data:`RUN_FOLDERS`) that this run has nothing for goes (nothing stale stays).
    ``OUT/P/PUBLISHING.txt`` says so meanwhile (each move is atomic, the set is not).

    Leftovers of an interrupted run (``.<name>.old``, ``*.tmp``) are removed first (issue 14
    item 1); each folder is swapped in by :func:`swap_folder`.

    ``validation/`` is not touched: it is written directly and keeps the record
    of failed validations too; ``declarations/`` is declare's.
    """
    mark_publishing(final)
    clear_leftovers(final)
    for name in RUN_FOLDERS:
        if not (stage_dir / name).exists() and ((final / name).exists() or (final / name).is_symlink()):
            remove_path(final / name)
    for child in sorted(stage_dir.iterdir()):
        swap_folder(child, final / child.name)
    shutil.rmtree(stage_dir)
    unmark_publishing(final)
