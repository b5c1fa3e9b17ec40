"""The DuckDB warehouse: connections, the SQL files of ``sql/``, the schema.

Python orchestrates and DuckDB computes: every set-based step is a ``.sql``
file under ``sql/<stage>/``, rendered with Jinja2 (settings and parameters
only, never data) and run on one connection by :mod:`pipelines.steps`.  One writing process per file:
writers take ``connect(path)``; readers ``connect(path, read_only=True)``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from . import policy_macros
from .settings import Settings, load_settings
from .steps import sql_ident, sql_list, sql_str  # noqa: F401  (the quoting filters: pipelines/steps.py)

log = logging.getLogger(__name__)


def _steps():
    from .steps import Step, Steps

    return Steps(
        Step(f"{name}.sql")
        for name in (
            # the policy macros (pipelines/policy_macros.py, else TEMP: register_policy), person_key (TEMP)
            "policy/identifiers",
            "policy/regions",
            "policy/retirement",
            "policy/scope",
            "warehouse/person_key",
            "warehouse/attach_policy",  # the policy macros' file (pipelines/policy_macros.py)
            # the ID number and credit code checks: in the policy macros' file, else TEMP on ingest's
            # and applications' connections only (register_id_checks)
            "policy/identifiers_checks",
            # a writer's: tables first (schema.sql, then the stages' own schema_*.sql), analyst views last
            "warehouse/schema",
            "warehouse/schema_feedback",
            "warehouse/schema_forecast",
            "warehouse/schema_screen",
            "warehouse/views",
            "warehouse/backfill_batch_holds",  # run by create_schema after views, in its transaction
            "warehouse/migrate_notice_log",  # run by migrate_notice_log only (an older warehouse)
            "warehouse/migrate_ledger_entries",  # run by migrate_ledger_entries only (an older warehouse)
        )
    )


#: the warehouse's set-up: ``policy/*`` and ``person_key`` on every connection, ``schema*`` and
#: ``views`` on a writer's (:func:`connect`)
STEPS = _steps()
#: the policy macros' file (pipelines/policy_macros.py): every policy macro, the ID checks last
POLICY_FILE = STEPS[:"scope"] + (STEPS["identifiers_checks"],)


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """ROLLBACK in an ``except`` block, never raising over the error being handled: after a
    COMMIT that failed (a full disk) DuckDB has already ended the transaction, and ROLLBACK's own
    error ("no transaction is active") would hide "No space left on device" (issue 14 item 8)."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error as exc:
        log.debug("ROLLBACK after a failure failed too (%s)", type(exc).__name__)


def drop_temp_tables(con: duckdb.DuckDBPyConnection) -> int:
    """Drop the connection's temporary tables (not its views): what a stage made for itself.

    A DAG task's process ends with its stage, and its temporary tables with it; the command line's
    ``run`` keeps one connection for every stage, so it drops them between stages, or DuckDB's spill
    on disk holds every stage's at once (46 GB by the outputs stage at 25,000,000 persons, issue 19).
    No stage reads another's temporary tables (each is also a DAG task of its own).  Returns how
    many were dropped."""
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary AND database_name = 'temp'"
        ).fetchall()
    ]
    for name in names:
        con.execute(f"DROP TABLE IF EXISTS temp.main.{sql_ident(name)}")
    return len(names)


def _nfkc(col):
    import pyarrow.compute as pc

    return pc.utf8_normalize(col, form="NFKC")


def register_nfkc(con: duckdb.DuckDBPyConnection) -> None:
    """``nfkc(text)``, the Unicode NFKC normalisation DuckDB lacks (vectorised, Arrow); the policy
    macros use it."""
    from duckdb.sqltypes import VARCHAR

    con.create_function("nfkc", _nfkc, [VARCHAR], VARCHAR, type="arrow", null_handling="special")


def create_policy_macros(con: duckdb.DuckDBPyConnection, settings: Settings, *, temp: bool = True) -> None:
    """The policy macros (``sql/policy/``, rendered with ``settings``; ``nfkc`` registered first):
    TEMP, for this connection only, or stored in its database (``temp=False``: the file of
    :mod:`pipelines.policy_macros`, with the ID checks)."""
    from .steps import run_steps

    run_steps(con, STEPS[:"scope"] if temp else POLICY_FILE, settings=settings, temp=temp)


def register_policy(con: duckdb.DuckDBPyConnection, settings: Settings, *, temp: bool = True) -> None:
    """``nfkc`` and the policy macros (:func:`create_policy_macros`)."""
    register_nfkc(con)
    create_policy_macros(con, settings, temp=temp)


def register_id_checks(con: duckdb.DuckDBPyConnection) -> None:
    """The macros that check an ID number and a credit code (``sql/policy/identifiers_checks.sql``),
    on a connection that validates input rows (ingest, applications): in the policy macros' file
    when the connection attached it, else created TEMP here (kept off the other connections, whose
    every one would bind them for nothing)."""
    from . import policy_macros
    from .steps import run_step

    if not policy_macros.attached(con):
        run_step(con, STEPS["identifiers_checks"], temp=True)


def person_key_secret(settings: Settings) -> str:
    """The keyed hash's key (outputs.md person_key); an error when the settings have none."""
    key = settings.person_key_secret
    if not key:
        from .errors import RetirePrepError

        raise RetirePrepError(
            "no person_key_secret: set RETIRE_PREP_PERSON_KEY or person_key_secret in the settings file"
        )
    return key


def person_key(id_no: str, settings: Settings) -> str:
    """Python twin of the SQL macro ``person_key(id_no)``: first 16 hex of sha256(key || id_no)."""
    return hashlib.sha256((settings.person_key_secret + "|" + id_no).encode()).hexdigest()[:16]


def refresh_person_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Key every ID number the warehouse holds (persons and quarantined rows) in ``person_keys``.

    Analyst views join this table, so they show the key without the secret.  Ingest keys
    each batch's ID numbers as it applies it; this full pass is for repair (e.g. after the
    table was emptied when the secret was rotated).
    """
    con.execute(
        """INSERT INTO person_keys
           SELECT id_no, person_key(id_no) FROM (
               SELECT DISTINCT id_no FROM person_versions
               UNION SELECT DISTINCT upper(trim(id_no_raw)) FROM quarantine_rows WHERE id_no_raw IS NOT NULL
           ) n WHERE NOT EXISTS (SELECT 1 FROM person_keys k WHERE k.id_no = n.id_no)"""
    )


def temp_directory(path: str | Path, settings: Settings) -> Path:
    """Where DuckDB spills for the warehouse at ``path`` (setting ``duckdb_temp_directory``)."""
    path = Path(path)
    if not settings.duckdb_temp_directory:
        return path.with_name(path.name + ".tmp")
    return path.parent / settings.duckdb_temp_directory  # an absolute setting stays as it is


def copies_directory(path: str | Path, settings: Settings) -> Path:
    """Where a writer keeps its private copies of the files it loads (a push's CSVs, an
    applications file): ``<temp directory>.copies``, on the disk chosen for spilling, not the
    system's /tmp (a tmpfs there would hold a 25,000,000-person push, ≈ 5 GB, in memory)."""
    spill = temp_directory(path, settings)
    return spill.with_name(spill.name + ".copies")


@contextmanager
def private_copies(path: str | Path, settings: Settings):
    """A new folder for one command's private copies, removed afterwards; first the folders a
    killed command left behind (their process gone) are removed, so kills do not fill the disk.
    A folder whose process still runs is left alone (another warehouse may share the directory)."""
    root = copies_directory(path, settings)
    remove_dead_copies(path, settings)
    root.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):  # another command may remove the empty root between mkdir and mkdtemp
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f"copies-{os.getpid()}-", dir=root))
            break
        except FileNotFoundError:
            root.mkdir(parents=True, exist_ok=True)
    else:
        raise OSError(f"cannot make a folder for private copies in {root}")
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_if_empty(root)  # nothing is left beside the warehouse after a command


def remove_dead_copies(path: str | Path, settings: Settings) -> None:
    """Remove the folders of private copies whose command is gone (killed: its ``finally`` never
    ran), and the copies' folder when that leaves it empty.  Called by every writer's
    :func:`connect` too, so a killed ingest's copy of a push (names, ID numbers, phones) does not
    wait beside the warehouse for the next ingest, a month later."""
    root = copies_directory(path, settings)
    if not root.is_dir():
        return
    for old in root.glob("copies-*"):
        pid = old.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    _remove_if_empty(root)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:  # not empty (another command's copies), or gone already
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def migrate_notice_log(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Rebuild an older warehouse's ``notice_log`` without its PRIMARY KEY and UNIQUE (issue 19).

    DuckDB cannot drop a constraint in place: in one transaction the table is renamed, made again
    from ``schema.sql``, every row copied (``sql/warehouse/migrate_notice_log.sql``), the counts
    compared, the old table dropped; any failure rolls back to the old table whole.  Uniqueness is
    then :func:`pipelines.notify.check_unique`'s.  True when it rebuilt the table.
    """
    return _migrate(
        con,
        settings,
        "notice_log",
        _OLD_NOTICE_LOG,
        "notice_log rebuilt without its UNIQUE indexes (issue 19): %d notices kept",
    )


def migrate_ledger_entries(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Rebuild an older warehouse's ``ledger_entries`` without its PRIMARY KEY (entry_id) and its
    index on id_no (issue 19, ninth session), as :func:`migrate_notice_log` does the log: one
    transaction, the index dropped, the table renamed and made again from ``schema.sql``, every row
    copied by column name (``sql/warehouse/migrate_ledger_entries.sql``), the counts compared, the
    old table dropped; any failure rolls back to the old table whole.  Uniqueness is then
    :func:`pipelines.ledger.check_unique`'s.  True when it rebuilt the table.
    """
    return _migrate(
        con,
        settings,
        "ledger_entries",
        _OLD_LEDGER_ENTRIES,
        "ledger_entries rebuilt without its indexes (issue 19): %d entries kept",
    )


def _migrate(con: duckdb.DuckDBPyConnection, settings: Settings, table: str, old: str, done: str) -> bool:
    """Rebuild ``table`` (:func:`_rebuild`, its old copy named ``old``) when it still has a key or
    an index; log ``done`` with the rows kept.  True when it rebuilt the table."""
    if not _keyed(con, table):
        return False
    log.info(done, _rebuild(con, settings, table, old))
    return True


def _keyed(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """The PRIMARY KEY / UNIQUE constraints and the indexes of ``table`` (0: nothing to rebuild)."""
    where = "database_name = current_database() AND schema_name = 'main' AND table_name = ?"
    return con.execute(
        f"SELECT (SELECT count(*) FROM duckdb_constraints() WHERE {where} "
        "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')) + (SELECT count(*) FROM duckdb_indexes() WHERE "
        f"{where})",
        [table, table],
    ).fetchall()[0][0]


def _rebuild(con: duckdb.DuckDBPyConnection, settings: Settings, table: str, old: str) -> int:
    """``table`` made again from ``schema.sql`` with every row of the old one, in one transaction
    (its indexes dropped first: DuckDB renames no table that an index depends on); the rows kept."""
    from .errors import RetirePrepError
    from .steps import run_step

    con.execute("BEGIN TRANSACTION")
    try:
        before = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        for (index,) in con.execute(
            "SELECT index_name FROM duckdb_indexes() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = ?",
            [table],
        ).fetchall():
            con.execute(f"DROP INDEX {sql_ident(index)}")
        con.execute(f"ALTER TABLE {table} RENAME TO {old}")
        run_step(con, STEPS["schema"], settings=settings)
        run_step(con, STEPS[f"migrate_{table}"], old=old)
        after = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        if after != before:
            raise RetirePrepError(f"{table}'s rebuild copied {after} of {before} rows: rolled back")
        con.execute(f"DROP TABLE {old}")
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise
    return after


_OLD_NOTICE_LOG = "notice_log_before_issue19"
_OLD_LEDGER_ENTRIES = "ledger_entries_before_issue19"


def create_schema(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Bring a writer's warehouse up to this code's schema: the tables (``CREATE … IF NOT EXISTS``)
    and the analyst views (``CREATE OR REPLACE``) in one transaction, then the migrations, then the
    stamp (table ``warehouse_schema``). A warehouse whose stamp is this code's is left as it is: the
    statements are idempotent, but ran on every writer's connection (≈ 30 ms each: every command and
    DAG task opens one or more)."""
    from .steps import run_step, run_steps

    stamp = schema_stamp(settings)
    if stored_stamp(con) == stamp:
        return
    con.execute("BEGIN TRANSACTION")
    try:
        run_steps(con, STEPS["schema":"views"], settings=settings)
        run_step(con, STEPS["backfill_batch_holds"])  # an older warehouse's holds (idempotent)
        drop_shadowing_macros(con)
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise
    migrate_notice_log(con, settings)
    migrate_ledger_entries(con, settings)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM warehouse_schema")
        con.execute("INSERT INTO warehouse_schema VALUES (?, now())", [stamp])
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise


def drop_shadowing_macros(con: duckdb.DuckDBPyConnection) -> int:
    """Drop the macros stored in the warehouse under the name of a macro every connection makes
    (``sql/policy/``, ``person_key``): a connection looks for a name in the warehouse before the
    policy macros' file (``sql/warehouse/attach_policy.sql``), so a stored one would replace this
    code's rule without a word.  The first session's code stored ``province_of``, ``is_region_code``,
    ``is_office_code`` and ``person_key`` (with the key); a macro moved from ``views.sql`` into
    ``sql/policy/`` would be another.  Run by :func:`create_schema`, in its transaction; how many."""
    from .steps import header

    made = set().union(*(header(step.sql)["writes"] for step in (*POLICY_FILE, STEPS["person_key"])))
    stored = con.execute(
        "SELECT DISTINCT function_name, function_type = 'table_macro' FROM duckdb_functions() "
        "WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal "
        "AND function_type IN ('macro', 'table_macro')"
    ).fetchall()
    shadowing = sorted((name, table) for name, table in stored if name in made)
    db = sql_ident(con.execute("SELECT current_database()").fetchall()[0][0])
    for name, table in shadowing:  # named with its database: temp.main holds this connection's own
        con.execute(f"DROP MACRO {'TABLE ' if table else ''}{db}.main.{sql_ident(name)}")
    if shadowing:
        log.info("macros stored in the warehouse under a policy macro's name dropped: %d", len(shadowing))
    return len(shadowing)


#: the migrations :func:`create_schema` runs after the statements (a new one: add its name)
MIGRATIONS = (
    "notice_log without its UNIQUE indexes (issue 19)",
    "ledger_entries without its PRIMARY KEY and id_no index (issue 19, ninth session)",
    "batch_holds filled from push_batches' HELD and SUPERSEDED rows (seventeenth session)",
)


def schema_stamp(settings: Settings) -> str:
    """What a warehouse brought up to this code's schema holds in ``warehouse_schema``: a hash of
    DuckDB's version, the schema's files as rendered with ``settings``, the migrations' names and
    this module's own text (where the migrations are: a changed or new one changes the stamp even if
    its name were not added to MIGRATIONS)."""
    h = hashlib.sha256(f"duckdb {duckdb.__version__}\n".encode())
    for step in STEPS["schema":"migrate_ledger_entries"]:
        h.update(step.render(**step.given({"settings": settings, "old": _OLD_NOTICE_LOG})).encode())
    h.update("\n".join(MIGRATIONS).encode())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()


def stored_stamp(con: duckdb.DuckDBPyConnection) -> str | None:
    """The stamp of the schema the warehouse was last brought up to; None before the first."""
    try:
        rows = con.execute("SELECT stamp FROM warehouse_schema").fetchall()
    except duckdb.CatalogException:
        return None
    return rows[0][0] if len(rows) == 1 else None


@contextmanager
def connect(
    path: str | Path, read_only: bool = False, settings: Settings | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse; a writer also creates the schema. Closes on exit."""
    settings = settings or load_settings()
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        con.execute("SET TimeZone = 'Asia/Shanghai'")
        con.execute("SET enable_progress_bar = false")  # progress is logged per stage instead
        if settings.duckdb_memory_limit:
            con.execute("SET memory_limit = ?", [settings.duckdb_memory_limit])
        con.execute("SET temp_directory = ?", [str(temp_directory(path, settings))])
        if settings.duckdb_threads:
            con.execute(f"SET threads = {int(settings.duckdb_threads)}")
        from .steps import run_step

        # the policy macros: from the rendered macros' cached file (attached read-only), or, where
        # that cannot be, created TEMP on this connection (pipelines/policy_macros.py)
        register_nfkc(con)
        if not policy_macros.attach(con, settings):
            create_policy_macros(con, settings, temp=True)
        run_step(con, STEPS["person_key"], person_key_secret=person_key_secret(settings))
        if not read_only:
            create_schema(con, settings)
            remove_dead_copies(path, settings)
        yield con
    finally:
        con.close()
