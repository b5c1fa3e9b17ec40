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
INCR month's run at 1,000,000 persons): the large per-person tables of :data:`UPKEEP` are compared
with what their SELECT gives now and only the rows that differ are deleted, updated or inserted
(``sql/analysts/upkeep_rows.sql``); ``transitions``, whose source only gains rows, has the rows of
the entries with a transition recorded since the copy's latest written again (``upkeep_units.sql``);
every other table is written whole.  The per-key tables are compared with the warehouse itself, not
with a record of what changed: whatever the copy holds, the result is the table a full rebuild
writes (tests/test_analysts_upkeep.py compares them after every command of a multi-month flow).  No previous file, one that does not open, or a table whose columns changed:
written whole (``retire-prep analysts --full`` forces it).

A table is one line of :data:`TABLES`: its name and the SQL file (a SELECT on the warehouse).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .warehouse import render_sql, run_sql

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
)


@dataclass(frozen=True)
class Rows:
    """Upkeep of a table with one row per ``key``: rows gone or whose other columns differ are
    deleted and inserted again; the ``volatile`` columns (those a run changes on nearly every row,
    such as the month screened) are updated column by column where they differ."""

    key: tuple[str, ...]
    volatile: tuple[str, ...] = ()


@dataclass(frozen=True)
class Units:
    """Upkeep of a table with several rows per ``key`` and no key of its own, whose source only gains
    rows, each stamped (``stamp``) when recorded: the rows of every key with a row stamped since the
    previous file's latest are deleted and inserted again.  Checked: a copy whose latest stamp is after
    the warehouse's (a warehouse restored from a backup), or that ends with another number of rows
    than the SELECT, is written whole."""

    key: str
    stamp: str


#: the per-person tables kept up to date in a copy of the previous file (the others are written whole)
UPKEEP: dict[str, Rows | Units] = {
    "ledger_current": Rows(("entry_id",), volatile=("screened_month", "overdue")),
    "flags_current": Rows(("person_key", "code"), volatile=("month",)),
    "notices": Rows(("notice_id",)),
    "transitions": Units("entry_id", stamp="recorded_at"),
}

#: SQL params every analysts' SQL file may use (office_month.sql is shared with the report)
_PARAMS = {"upto_mi": None, "include_mi": None}


def analysts_path(warehouse: str | Path) -> Path:
    """The analysts' file of ``warehouse``: beside it, ``<stem>.analysts.duckdb``."""
    warehouse = Path(warehouse)
    stem = warehouse.name[: -len(".duckdb")] if warehouse.name.endswith(".duckdb") else warehouse.name
    return warehouse.with_name(f"{stem}.analysts.duckdb")


def _small_tables(con, db: str) -> None:
    """offices, code_labels: a few dozen rows each, from data/."""
    from .labels import label_rows
    from .notify import office_short_name, offices

    con.execute(
        f"CREATE TABLE {db}.offices (office_code VARCHAR, office_name VARCHAR, short_name VARCHAR, city VARCHAR)"
    )
    _insert(
        con,
        f"{db}.offices",
        [(c, o["office_name"], office_short_name(o["office_name"]), o["city"]) for c, o in sorted(offices().items())],
    )
    con.execute(f"CREATE TABLE {db}.code_labels (kind VARCHAR, code VARCHAR, label_zh VARCHAR)")
    _insert(con, f"{db}.code_labels", label_rows())


def _insert(con, table: str, rows: list[tuple]) -> None:
    """A few hundred rows from data/ in one statement (executemany costs a statement a row)."""
    if rows:
        one = "(" + ", ".join("?" * len(rows[0])) + ")"
        con.execute(f"INSERT INTO {table} VALUES " + ", ".join([one] * len(rows)), [v for r in rows for v in r])


def _about(con, db: str) -> None:
    con.execute(f"""CREATE TABLE {db}.about AS
        SELECT CAST(timezone('Asia/Shanghai', now()) AS TIMESTAMP) AS built_at,
               (SELECT max(seq) FROM push_batches WHERE status = 'APPLIED') AS last_applied_seq,
               (SELECT month_text(max(month_mi)) FROM month_runs
                 WHERE command = 'run' AND status = 'DONE') AS last_month_run,
               (SELECT month_text(max(month_mi)) FROM month_runs
                 WHERE command = 'declare' AND status = 'DONE') AS last_month_declared""")


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
    con.execute(
        f"CREATE TABLE {db}.dictionary (table_name VARCHAR, column_name VARCHAR, data_type VARCHAR, "
        "name_zh VARCHAR, meaning VARCHAR)"
    )
    _insert(con, f"{db}.dictionary", rows)
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
    if incremental:
        try:
            _write(con, tmp, copy_of=target)
        except duckdb.Error as exc:  # the previous file does not open, or a table of it is unreadable
            log.warning("analysts' file: the previous one not usable (%s), written afresh", type(exc).__name__)
            incremental = False
    if not incremental:
        _write(con, tmp, copy_of=None)
    os.replace(tmp, target)
    log.info(
        "analysts' file %s in %.1f s", "brought up to date" if incremental else "written", time.perf_counter() - t0
    )
    return target


def _write(con, tmp: Path, copy_of: Path | None) -> None:
    """Fill ``tmp`` (a copy of ``copy_of``, else a new file) in one transaction; on any failure
    nothing of it is left."""
    db = "retire_prep_analysts_new"
    try:
        if copy_of is not None:
            shutil.copyfile(copy_of, tmp)
        # inside the try: an ATTACH that fails (a full disk) may have created the file already
        con.execute(f"ATTACH '{_sql_str(tmp)}' AS {db}")
        con.execute("BEGIN TRANSACTION")  # one commit: one consistent reading of the warehouse, and faster
        if copy_of is not None:
            keep = {t for t in UPKEEP}
            for (old,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [db]
            ).fetchall():
                if old not in keep:  # written whole below, as are the small tables
                    con.execute(f'DROP TABLE {db}."{old}"')
        for table, sql_file in TABLES:
            select = render_sql(sql_file, **_PARAMS).strip().rstrip(";")
            if copy_of is not None and table in UPKEEP and _upkeep(con, db, table, select, UPKEEP[table]):
                continue
            con.execute(f"DROP TABLE IF EXISTS {db}.{table}")
            con.execute(f"CREATE TABLE {db}.{table} AS " + select)
        _small_tables(con, db)
        _about(con, db)
        missing = _dictionary(con, db)
        con.execute("COMMIT")
        if missing:
            log.warning("analysts' file: columns without a Chinese name in the dictionaries: %s", missing)
        con.execute(f"DETACH {db}")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except Exception:
            pass
        try:
            con.execute(f"DETACH {db}")
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


def _upkeep(con, db: str, table: str, select: str, how: Rows | Units) -> bool:
    """Bring ``db.table`` (the previous file's) to what ``select`` gives now, changing only the rows
    that differ.  False (nothing done) when the table is better written whole: missing or empty in
    the copy, its columns not the SELECT's, a key not unique, or a check of :class:`Units` failed."""
    have = _columns(con, db, table)
    if not have or not con.execute(f"SELECT count(*) FROM (FROM {db}.{table} LIMIT 1)").fetchone()[0]:
        return False
    if isinstance(how, Units):
        return _upkeep_units(con, db, table, select, how, have)
    run_sql(con, "analysts/upkeep_new.sql", select=select)
    try:
        cols = _columns(con, "temp", "_an_new")
        if cols != have:
            return False
        keys = ", ".join(f'"{k}"' for k in how.key)
        if con.execute(f"SELECT count(*) <> count(DISTINCT ({keys})) FROM _an_new").fetchone()[0]:
            return False
        run_sql(
            con,
            "analysts/upkeep_rows.sql",
            db=db,
            table=table,
            key=list(how.key),
            stable=[c for c, _ in cols if c not in how.key and c not in how.volatile],
            volatile=list(how.volatile),
        )
        return True
    finally:
        con.execute("DROP TABLE IF EXISTS temp._an_new")


def _upkeep_units(con, db: str, table: str, select: str, how: Units, have) -> bool:
    cols = con.execute(f"DESCRIBE {select}").fetchall()
    if [(c[0], c[1]) for c in cols] != have:
        return False
    ahead = con.execute(
        f'SELECT (SELECT max("{how.stamp}") FROM {db}.{table}) > (SELECT max("{how.stamp}") FROM ({select}))'
    ).fetchone()[0]
    if ahead:
        return False
    run_sql(con, "analysts/upkeep_units.sql", db=db, table=table, key=how.key, stamp=how.stamp, select=select)
    kept, now = con.execute(f"SELECT (SELECT count(*) FROM {db}.{table}), (SELECT count(*) FROM ({select}))").fetchone()
    if kept != now:
        log.warning("analysts' file: %s kept up to date has %d rows, not %d: written whole", table, kept, now)
        return False
    return True


def _sql_str(p: Path) -> str:
    return str(p).replace("'", "''")


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


@contextlib.contextmanager
def rebuilds_after(warehouse, settings=None):
    """Rebuild the analysts' file when the outermost such block (or decorated call) ends — also after
    a failure (a refused batch or file was recorded, or a run marked FAILED); a rebuild that then
    fails too is only logged, so the command's own error is the one reported.  A task that applies
    several commands (the feedback DAG: one call per office) wraps them in one block: one rebuild."""
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
