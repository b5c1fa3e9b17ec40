"""The analysts' file: a DuckDB file beside the warehouse that analysts open while the pipeline runs.

``<warehouse stem>.analysts.duckdb`` (``warehouse.duckdb`` → ``warehouse.analysts.duckdb``) holds
the analyst views of outputs.md as tables, the history the trends need (per office and month),
the offices, the Chinese labels of codes and a ``dictionary`` of every column.  No column holds an
ID number, a name or a phone: the views carry ``person_key`` and ``entry_id`` instead.

It is brought up to date after every command that changes the warehouse (:func:`refreshes_analysts`
wraps them) by writing a new file and renaming it over the old one (``os.replace``): an analyst's
open session keeps reading the previous version, and no analyst ever holds the warehouse's lock.
Set-based: the warehouse connection ATTACHes the new file and fills it with SQL; no table passes
through Python.

The new file starts as a copy of the previous one (issues 17/18: the whole rebuild cost 42 % of an
INCR month's run at 1,000,000 persons), in which only what the command may have changed is written
again (:data:`UPKEEP`), after a run as after any other command: ``flags_current`` only after a run
(whole), the per-month tables only the months of a run since; in ``ledger_current`` the entries whose
own columns differ (a hash of each entry's, compared with the copy's; after another command first a
checksum of the whole, equal when nothing of the ledger changed) and, after a run, the persons whose
screening changed, the others' ``screened_month`` updated in place; the notices of months not yet
published and those recorded since; the transitions of entries with a transition recorded since.
The other tables are written whole.  What is kept rests on how the warehouse is written (only runs
write screenings and flags; an issued notice of a published month never changes; transitions are
only appended), and is checked where it is cheap (row counts, the person keys, a warehouse behind
the copy): the result is the table a full rebuild writes (tests/analysts/test_analysts_upkeep.py compares
every table after every command of a multi-month flow).  No previous file, one that does not open,
rotated person keys, or a table whose columns changed: written whole (``retire-prep analysts
--full`` forces it).

A table is one line of :data:`TABLES`: its name and the SQL file (a SELECT on the warehouse).  The
SQL, those SELECTs and what writes the file, is the stage's ``STEPS`` (:mod:`pipelines.steps`).  What
stays in Python, and why: transaction control, and the look-ups of DuckDB's catalog
(``duckdb_tables()``, ``duckdb_columns()``, ``_an_months``), one line each with bound values,
beside the decision they feed (docs/decisions.md "Issue 15 (eighth session)").
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .steps import Step, Steps, query, run_step

log = logging.getLogger(__name__)

#: (table, SQL file under sql/) — each a SELECT on the warehouse; add a table by adding a line.
TABLES: tuple[tuple[str, str], ...] = (
    ("batches", "analysts/batches.sql"),
    ("quarantine", "analysts/quarantine.sql"),
    ("ledger_current", "analysts/ledger_current.sql"),
    ("flags_current", "analysts/flags_current.sql"),
    ("notices", "analysts/notices.sql"),
    ("office_progress", "analysts/office_progress.sql"),
    ("objections_open", "analysts/objections_open.sql"),
    ("transitions", "analysts/transitions.sql"),
    ("office_month", "analysts/office_month.sql"),
    ("flags_month", "analysts/flags_month.sql"),
    ("month_runs", "analysts/runs.sql"),
    ("forecast", "analysts/forecast.sql"),
    ("declarations", "analysts/declarations.sql"),
    ("conclusions", "analysts/conclusions.sql"),
    ("objections", "analysts/objections.sql"),
)


@dataclass(frozen=True)
class Units:
    """Upkeep of a table with several rows per ``key`` and no key of its own, whose source table
    (``source``: one row of the analysts' table per row of it) only gains rows, each stamped
    (``stamp``) when recorded: the rows of every key with a row stamped since the previous file's
    latest are deleted and inserted again; none such (the source's latest stamp and row count are the
    copy's): kept as it is.  Checked: a copy whose latest stamp is after the warehouse's (a warehouse
    restored from a backup), or that ends with another number of rows than the source, is written
    whole."""

    key: str
    stamp: str
    source: str


#: how each per-person or per-month table is kept up to date in a copy of the previous file (the
#: others are written whole each time):
#:   "runs"    kept as it is when no run began, ended or was rerun since the copy (its sources are
#:             written by runs only), else written whole;
#:   "months"  a table with a ``month_mi`` per row, of months whose run is DONE: kept when no run began,
#:             ended or was rerun since the copy, else the rows of those months written again
#:             (sql/analysts/upkeep_months.sql; flags_month's latest month counted from the
#:             flags_current just written, sql/analysts/flags_month_latest.sql);
#:   "ledger"  after a command other than a run, kept when the entries' own columns are as in the copy
#:             (a checksum over both, overdue aside) but for the entries whose ``overdue`` turned with
#:             the date, else the entries whose own columns differ written again
#:             (sql/analysts/upkeep_ledger.sql); after a run, those and the entries of the persons whose
#:             screening changed written again, ``screened_month`` of the others updated in place
#:             (sql/analysts/upkeep_ledger_run.sql), or written whole when the copy's screened month
#:             was itself rerun since;
#:   "notices" the rows of published months recorded up to the copy's latest kept, the rest written
#:             again (sql/analysts/upkeep_notices.sql);
#:   Units     transitions: the entries with transitions recorded since (sql/analysts/upkeep_units.sql).
UPKEEP: dict[str, str | Units] = {
    "ledger_current": "ledger",
    "flags_current": "runs",
    "flags_month": "months",
    "office_month": "months",
    "notices": "notices",
    "transitions": Units("entry_id", stamp="recorded_at", source="ledger_transitions"),
}

#: the analysts' file's SQL, in the order a build runs it: the new file attached, what the upkeep
#: knows of the copy, each table's SELECT (:data:`TABLES`, streamed into the file), the upkeep of a
#: kept table (:data:`UPKEEP`), a table written whole, the small tables, the file detached
STEPS = Steps(
    [Step("analysts/attach.sql"), Step("analysts/upkeep_keys.sql"), Step("analysts/upkeep_state.sql")]
    + [Step(sql) for _, sql in TABLES]
    + [
        Step(f"analysts/{name}.sql")
        for name in (
            "drop_table",
            "upkeep_has_rows",
            "upkeep_columns",
            "upkeep_months",
            "flags_month_latest",
            "upkeep_latest_from_file",
            "upkeep_screened_months",
            "upkeep_ledger_same",
            "upkeep_overdue",
            "upkeep_ledger",
            "upkeep_ledger_run",
            "upkeep_ledger_again",
            "upkeep_clean",
            "upkeep_notices_since",
            "upkeep_notices",
            "upkeep_count",
            "upkeep_units_since",
            "upkeep_units",
            "write_table",
            "offices",
            "code_labels",
            "about",
            "dictionary",
            "detach",
        )
    ]
)

#: SQL params the analysts' SELECTs are given (office_month.sql, shared with the report, takes two)
_PARAMS = {"upto_mi": None, "include_mi": None, "entries": None, "ledger_only": False}

#: the name of the new file, attached to the warehouse's connection while it is written
_DB = "retire_prep_analysts_new"


def _select(sql_file: str, **params) -> str:
    """The text of the SELECT of ``sql_file`` (a line of :data:`TABLES`), for another step to wrap."""
    return query(STEPS[_name(sql_file)], **{**_PARAMS, **params})


def _name(sql_file: str) -> str:
    return sql_file.rsplit("/", 1)[-1].removesuffix(".sql")


def _columns_as_lists(rows: list[tuple], width: int) -> list[list]:
    """Rows as one list per column: the DuckDB parameters of offices.sql, code_labels.sql, dictionary.sql."""
    return [[r[i] for r in rows] for i in range(width)]


def analysts_path(warehouse: str | Path) -> Path:
    """The analysts' file of ``warehouse``: beside it, ``<stem>.analysts.duckdb``."""
    warehouse = Path(warehouse)
    stem = warehouse.name[: -len(".duckdb")] if warehouse.name.endswith(".duckdb") else warehouse.name
    return warehouse.with_name(f"{stem}.analysts.duckdb")


def _small_tables(con, db: str) -> None:
    """offices, code_labels: a few dozen rows each, from data/, each in one statement (its columns
    bound as lists; executemany costs a statement a row)."""
    from .labels import label_rows
    from .notify import office_short_name, offices

    rows = [(c, o["office_name"], office_short_name(o["office_name"]), o["city"]) for c, o in sorted(offices().items())]
    run_step(con, STEPS["offices"], db=db, bind=_columns_as_lists(rows, 4))
    run_step(con, STEPS["code_labels"], db=db, bind=_columns_as_lists(label_rows(), 3))


def _dictionary(con, db: str) -> list[str]:
    """The ``dictionary`` table: every column of every table of the file; returns the columns
    the dictionaries do not name (a test keeps this empty)."""
    from .labels import column_entries

    entries = column_entries()
    cols = con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE database_name = ? "
        "ORDER BY table_name, column_index",
        [db],
    ).fetchall()
    rows, missing = [], []
    for table, column, dtype in cols:
        zh, meaning = entries.get((table, column)) or entries.get(("", column)) or ("", "")
        if not zh:
            missing.append(f"{table}.{column}")
        rows.append((table, column, dtype, zh, meaning))
    rows.append(("dictionary", "table_name", "VARCHAR", "表名", "table of this file"))
    rows.append(("dictionary", "column_name", "VARCHAR", "列名", "column of that table"))
    rows.append(("dictionary", "data_type", "VARCHAR", "数据类型", "DuckDB type"))
    rows.append(("dictionary", "name_zh", "VARCHAR", "中文名称", "the column's Chinese name"))
    rows.append(("dictionary", "meaning", "VARCHAR", "含义", "what the column holds"))
    run_step(con, STEPS["dictionary"], db=db, bind=_columns_as_lists(rows, 5))
    return missing


def build_analysts(con, target: str | Path, *, full: bool = False) -> Path:
    """Write the analysts' file of the warehouse open on ``con`` to ``target``, atomically: a copy of
    the previous file brought up to date (:data:`UPKEEP`), or, with ``full`` or no usable previous
    file, every table written afresh.  Either way the same tables and rows."""
    import duckdb

    target = Path(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.new")
    # the temp files of a rebuild killed before its rename (any process's: ``con`` holds the
    # warehouse's write lock, so no other rebuild of this file runs now)
    for p in target.parent.glob(f".{target.name}.*.new*"):
        if p.name.endswith((".new", ".new.wal")):
            p.unlink(missing_ok=True)
    t0 = time.perf_counter()
    incremental = not full and target.is_file()
    if incremental and not _as_built(target):
        # an analyst's read-write session changed it (or left its WAL beside it): the upkeep would
        # carry the change on into every later file
        log.warning("analysts' file: changed since it was built (a read-write session?), written afresh")
        incremental = False
    if incremental:
        try:
            _write(con, tmp, copy_of=target)
        except _CopyNotUsable as exc:  # the person keys rotated
            log.info("analysts' file written afresh: %s", exc)
            incremental = False
        except duckdb.Error as exc:  # it does not open, or a table of it is unreadable
            log.warning("analysts' file: the previous one not usable (%s), written afresh", exc.__class__.__name__)
            incremental = False
    if not incremental:
        _write(con, tmp, copy_of=None)
    # read-only on disk: a read-write open fails (but for root), as the docs ask; only the write bits
    # are taken away, so who may read it stays as the umask made it (0640 under the service's 027)
    os.chmod(tmp, os.stat(tmp).st_mode & 0o555)
    os.replace(tmp, target)
    # a WAL beside the new file is an analyst's read-write session's on the replaced one: left there,
    # it makes every later open of the new file fail ("WAL … created for an older version")
    Path(f"{target}.wal").unlink(missing_ok=True)
    _stamp(target)
    log.info(
        "analysts' file %s in %.1f s", "brought up to date" if incremental else "written", time.perf_counter() - t0
    )
    return target


def _stamp_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.built")


def _fingerprint(target: Path) -> list[int]:
    st = os.stat(target)
    return [st.st_size, st.st_mtime_ns]  # no inode: a copy of the folder (a backup, a test's workspace) keeps both


def _stamp(target: Path) -> None:
    """Record the new file as the rebuild left it (size, modification time) beside it, so that
    the next rebuild knows whether it is still the file it wrote (:func:`_as_built`)."""
    stamp = _stamp_path(target)
    tmp = stamp.with_name(stamp.name + ".tmp")
    try:
        tmp.write_text(json.dumps(_fingerprint(target)), encoding="utf-8")
        os.replace(tmp, stamp)
    except OSError as exc:  # a full disk: the file is whole; without its stamp the next one is written afresh
        log.warning("analysts' file: its stamp not written (%s): the next rebuild writes it afresh", type(exc).__name__)
        for p in (tmp, stamp):
            with contextlib.suppress(OSError):
                p.unlink(missing_ok=True)


def _as_built(target: Path) -> bool:
    """Whether ``target`` is the file the last rebuild wrote, untouched: the upkeep copies it and
    keeps what it holds, so a table an analyst changed in a read-write session (DuckDB's CLI and
    DBeaver open read-write unless told otherwise) would stay changed in every later file.  False
    too when a WAL lies beside it (a read-write session's pending changes) or no stamp was left (a
    file from before the stamp, or a rebuild killed between its rename and its stamp)."""
    try:
        recorded = json.loads(_stamp_path(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return recorded == _fingerprint(target) and not Path(f"{target}.wal").exists()


def _write(con, tmp: Path, copy_of: Path | None) -> None:
    """Fill ``tmp`` (a copy of ``copy_of``, else a new file) in one transaction; on any failure
    nothing of it is left."""
    db = _DB
    try:
        if copy_of is not None:
            shutil.copyfile(copy_of, tmp)
        # inside the try: an ATTACH that fails (a full disk) may have created the file already
        run_step(con, STEPS["attach"], path=tmp, db=db)
        con.execute("BEGIN TRANSACTION")  # one commit: one consistent reading of the warehouse, and faster
        runs_same = False
        if copy_of is not None:
            runs_same = _copy_state(con, db)
            keep = {t for t in UPKEEP}
            for (old,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [db]
            ).fetchall():
                if old not in keep:  # written whole below, as are the small tables
                    run_step(con, STEPS["drop_table"], db=db, table=old)
        for table, sql_file in TABLES:
            select = _select(sql_file)
            if copy_of is not None and table in UPKEEP and _upkeep(con, db, table, sql_file, select, runs_same):
                continue
            run_step(con, STEPS["write_table"], db=db, table=table, select=select)
        _small_tables(con, db)
        run_step(con, STEPS["about"], db=db)
        missing = _dictionary(con, db)
        con.execute("COMMIT")
        if missing:
            log.warning("analysts' file: columns without a Chinese name in the dictionaries: %s", missing)
        run_step(con, STEPS["detach"], db=db)
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except Exception:
            pass
        try:
            run_step(con, STEPS["detach"], db=db)
        except Exception:
            pass
        for p in (tmp, tmp.with_name(tmp.name + ".wal")):
            p.unlink(missing_ok=True)
        raise


def _columns(con, db: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? AND table_name = ? "
        "ORDER BY column_index",
        [db, table],
    ).fetchall()


class _CopyNotUsable(Exception):
    """The previous file cannot be brought up to date (the person keys were rotated): written afresh."""


def _copy_state(con, db: str) -> bool:
    """Keep the copy's ``month_runs`` (TEMP ``_an_copy_runs``) and say whether the runs are as they
    were when it was built (none began, ended or was rerun since, none under way).  Raises
    :class:`_CopyNotUsable` when the person keys are not the copy's (a rotated secret)."""
    has = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND table_name IN "
            "('month_runs', 'ledger_current')",
            [db],
        ).fetchall()
    }
    if "ledger_current" in has:
        rotated = run_step(con, STEPS["upkeep_keys"], db=db)[0][0]
        if rotated:
            raise _CopyNotUsable("person keys changed")
    runs = _select("analysts/runs.sql")
    run_step(con, STEPS["upkeep_state"], db=db, runs=runs, has_runs="month_runs" in has)
    if "month_runs" not in has:
        return False
    return not con.execute("SELECT count(*) FROM _an_months").fetchone()[0]


def _upkeep(con, db: str, table: str, sql_file: str, select: str, runs_same: bool) -> bool:
    """Bring ``db.table`` (the previous file's) to what ``select`` gives now, changing only what
    may have changed (:data:`UPKEEP`).  False (nothing done) when the table is to be written whole:
    missing in the copy (or empty, but for "months"), its columns not the SELECT's, after a run for
    "runs", for "ledger" when the copy's screened month was rerun since, or a check failed."""
    how = UPKEEP[table]
    have = _columns(con, db, table)
    if not have or [(c[0], c[1]) for c in run_step(con, STEPS["upkeep_columns"], select=select)] != have:
        return False
    empty = not run_step(con, STEPS["upkeep_has_rows"], db=db, table=table)[0][0]
    if empty and how != "months":
        return False
    if how == "runs":
        return runs_same
    if how == "months":
        if not runs_same or empty:  # empty (the file of the first ingest): every month DONE is written
            months = [
                r[0]
                for r in con.execute(
                    "SELECT month_mi FROM _an_months UNION SELECT month_mi FROM month_runs "
                    "WHERE command = 'run' AND status = 'DONE' AND ? ORDER BY 1",
                    [empty],
                ).fetchall()
            ]
            latest_mi, latest_select = _latest_month_from_file(con, db, table, months)
            run_step(
                con,
                STEPS["upkeep_months"],
                db=db,
                table=table,
                select=select,
                months=months,
                latest_mi=latest_mi,
                latest_select=latest_select,
            )
        return True
    if how == "ledger":
        months = None
        if not runs_same:  # a run since: the screening of the copy's latest month and of the latest now
            months = _screened_months(con, db, table)
            if months is None:
                return False
        own = _select(sql_file, ledger_only=True)
        try:
            cols = [r[0] for r in run_step(con, STEPS["upkeep_columns"], select=own)]
            if (
                months is None
                and run_step(con, STEPS["upkeep_ledger_same"], db=db, table=table, select=own, columns=cols)[0][0]
            ):
                # the entries' own columns are the copy's: only ``overdue`` may have turned with the date
                run_step(con, STEPS["upkeep_overdue"], db=db, table=table)
            else:
                own_cols = [c for c in cols if c != "entry_id"]
                run_step(con, STEPS["upkeep_ledger"], db=db, select=own, columns=own_cols)
                if months is not None:
                    latest_mi, copy_mi = months
                    run_step(con, STEPS["upkeep_ledger_run"], db=db, table=table, latest_mi=latest_mi, copy_mi=copy_mi)
            run_step(con, STEPS["upkeep_ledger_again"], db=db, again=_select(sql_file, entries="_an_changed"))
        finally:
            run_step(con, STEPS["upkeep_clean"])
        return True
    if how == "notices":
        since, done, same_at_since = run_step(con, STEPS["upkeep_notices_since"], db=db)[0]
        up_to = "<=" if same_at_since else "<"
        run_step(con, STEPS["upkeep_notices"], db=db, select=select, done=done, since=since, up_to=up_to)
        # the view is notice_log with each notice's person key: one row per notice
        return _same_count(con, db, table, "SELECT * FROM notice_log")
    return _upkeep_units(con, db, table, select, how)


#: per-month tables whose latest month's rows are cheaper from a table just written into the new file
_LATEST_FROM_FILE = {"flags_month": ("flags_current", "flags_month_latest")}


def _latest_month_from_file(con, db: str, table: str, months: list[int]) -> tuple[int | None, str | None]:
    """(the latest screened month, the SELECT of its rows from the new file) when ``table``'s rows of
    that month can be counted from a table written whole in this upkeep (:data:`_LATEST_FROM_FILE`:
    flags_month from flags_current, after a run): the month is one of ``months`` and DONE, and the
    table has as many rows as flags that month (no flag without a person key); else (None, None)."""
    if table not in _LATEST_FROM_FILE:
        return None, None
    source, step = _LATEST_FROM_FILE[table]
    latest, ok = run_step(con, STEPS["upkeep_latest_from_file"], db=db, source=source)[0]
    if latest is None or latest not in months or not ok:
        return None, None
    return latest, query(STEPS[step], db=db)


def _screened_months(con, db: str, table: str) -> tuple[int, int] | None:
    """(the latest screened month now, the copy's latest screened month) when the copy's
    ledger_current can follow a run in place (sql/analysts/upkeep_ledger_run.sql): no run of the
    copy's month began, ended or was rerun since, and no month screened between the two; else None."""
    latest, copy_mi, between = run_step(con, STEPS["upkeep_screened_months"], db=db, table=table)[0]
    if latest is None or copy_mi is None or latest < copy_mi or between:
        return None
    return latest, copy_mi


def _same_count(con, db: str, table: str, source: str) -> bool:
    """Whether the copy's table has as many rows as ``source`` (a SELECT of one row per row of it)."""
    kept, now = run_step(con, STEPS["upkeep_count"], db=db, table=table, select=source)[0]
    if kept != now:
        log.warning("analysts' file: %s kept up to date has %d rows, not %d: written whole", table, kept, now)
    return kept == now


def _upkeep_units(con, db: str, table: str, select: str, how: Units) -> bool:
    since, unchanged, ahead, same_at_since = run_step(
        con, STEPS["upkeep_units_since"], db=db, table=table, stamp=how.stamp, source=how.source
    )[0]
    if ahead or since is None:
        return False
    if unchanged:  # nothing recorded since the copy (the source only gains rows)
        return True
    run_step(
        con,
        STEPS["upkeep_units"],
        db=db,
        table=table,
        key=how.key,
        stamp=how.stamp,
        since=since,
        since_type=dict(_columns(con, db, table))[how.stamp],
        # the rows stamped with the copy's latest time are the copy's when as many (see notices)
        after=">" if same_at_since else ">=",
        select=select,
    )
    return _same_count(con, db, table, f'SELECT * FROM "{how.source}"')


def rebuild(warehouse: str | Path, settings=None, *, full: bool = False) -> Path:
    """Open the warehouse and bring its analysts' file up to date (``retire-prep analysts``; ``full``:
    write every table afresh, ``--full``).

    A plain connection: the analyst views use only stored objects (sql/warehouse/views.sql), so
    neither the schema statements nor the policy macros of :func:`pipelines.warehouse.connect`
    are needed (they cost more than the build on a small warehouse)."""
    import duckdb

    from .settings import load_settings

    settings = settings or load_settings()
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("SET TimeZone = 'Asia/Shanghai'")
        con.execute("SET enable_progress_bar = false")
        if settings.duckdb_memory_limit:
            con.execute("SET memory_limit = ?", [settings.duckdb_memory_limit])
        return build_analysts(con, analysts_path(warehouse), full=full)
    finally:
        con.close()


# ------------------------------------------------------------------ after every writing command

_depth: contextvars.ContextVar[int] = contextvars.ContextVar("analysts_refresh_depth", default=0)


def wanted(warehouse, settings=None) -> bool:
    """Whether a writing command on ``warehouse`` keeps its analysts' file (setting ``analysts_file``)."""
    if warehouse is None:
        return False
    from .settings import load_settings

    return (settings or load_settings()).analysts_file


@contextlib.contextmanager
def rebuilds_after(warehouse, settings=None):
    """Rebuild the analysts' file when the outermost such block (or decorated call) ends — also after
    a failure (a refused batch or file was recorded, or a run marked FAILED); a rebuild that then
    fails too is only logged, so the command's own error is the one reported.  A task that applies
    several commands (the feedback DAG: one call per office) wraps them in one block: one rebuild."""
    if not wanted(warehouse, settings):
        yield
        return
    token = _depth.set(_depth.get() + 1)
    try:
        yield
    except BaseException:
        _depth.reset(token)
        if _depth.get() == 0 and warehouse is not None and Path(warehouse).is_file():
            try:
                rebuild(warehouse, settings)
            except Exception as exc:  # the warehouse locked, or the rebuild's own fault
                log.warning("analysts' file not rebuilt after the failure: %s", type(exc).__name__)
        raise
    _depth.reset(token)
    if _depth.get() == 0 and warehouse is not None:
        rebuild(warehouse, settings)


def refreshes_analysts(fn):
    """Decorate a command that changes the warehouse (its parameter ``warehouse``): when the
    outermost such call ends, the analysts' file is rebuilt (:func:`rebuilds_after`)."""
    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        bound = sig.bind_partial(*args, **kwargs).arguments
        with rebuilds_after(bound.get("warehouse"), bound.get("settings")):
            return fn(*args, **kwargs)

    return wrapper
