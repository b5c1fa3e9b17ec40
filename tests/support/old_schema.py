"""A warehouse as the code before issue 19 left it: notice_log with its PRIMARY KEY (notice_id) and
UNIQUE (id_no, kind, reference_mi), which pipelines.warehouse.migrate_notice_log rebuilds away; and
ledger_entries with its PRIMARY KEY (entry_id) and index on id_no (before the ninth session), which
pipelines.warehouse.migrate_ledger_entries rebuilds away."""

from __future__ import annotations

from pathlib import Path

import duckdb

# schema.sql's notice_log before issue 19 (file_office came by ALTER TABLE, last)
OLD_NOTICE_LOG = """
CREATE TABLE notice_log (
    notice_id        VARCHAR PRIMARY KEY,
    id_no            VARCHAR NOT NULL,
    entry_id         VARCHAR,
    kind             VARCHAR NOT NULL,
    reference_mi     INTEGER NOT NULL,
    issued_mi        INTEGER NOT NULL,
    office_code      VARCHAR NOT NULL,
    channel          VARCHAR NOT NULL,
    phone            VARCHAR,
    text             VARCHAR NOT NULL,
    segments         INTEGER,
    offline_reason   VARCHAR,
    created_at       TIMESTAMPTZ NOT NULL,
    file_office      VARCHAR,
    UNIQUE (id_no, kind, reference_mi)
)
"""


# schema.sql's ledger_entries before issue 19's ninth session, with its index
OLD_LEDGER_ENTRIES = """
CREATE TABLE ledger_entries (
    entry_id              VARCHAR PRIMARY KEY,
    id_no                 VARCHAR NOT NULL,
    office_code           VARCHAR NOT NULL,
    opened_mi             INTEGER NOT NULL,
    opened_by             VARCHAR NOT NULL,
    officer_id            VARCHAR,
    stage                 VARCHAR NOT NULL,
    stage_since           DATE NOT NULL,
    due_date              DATE,
    closed_mi             INTEGER,
    close_reason          VARCHAR,
    elected_retirement_mi INTEGER,
    pre_review_office     VARCHAR
);
CREATE INDEX ledger_entries_by_person ON ledger_entries (id_no);
"""


def _to_old(wh: Path, table: str, ddl: str) -> int:
    """Give the warehouse ``wh`` (made by the present code) the old ``table`` made by ``ddl``, every
    row kept in its order; the number of rows."""
    con = duckdb.connect(str(wh))
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"CREATE TEMP TABLE _keep AS SELECT * FROM {table}")
        con.execute(f"DROP TABLE {table}")
        con.execute(ddl)
        con.execute(f"INSERT INTO {table} SELECT * FROM _keep")
        con.execute("DROP TABLE IF EXISTS warehouse_schema")  # that code kept no schema stamp
        con.execute("COMMIT")
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    finally:
        con.close()


def to_old_ledger_entries(wh: Path) -> int:
    """The old ledger_entries (PRIMARY KEY, index on id_no) in ``wh``; the number of rows."""
    return _to_old(wh, "ledger_entries", OLD_LEDGER_ENTRIES)


def ledger_keys(wh: Path) -> list[str]:
    """The PRIMARY KEY / UNIQUE constraints and the indexes of ledger_entries (none since issue 19)."""
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return [
            r[0]
            for r in con.execute(
                "SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'ledger_entries' "
                "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') "
                "UNION ALL SELECT 'INDEX ' || index_name FROM duckdb_indexes() WHERE table_name = 'ledger_entries' "
                "ORDER BY 1"
            ).fetchall()
        ]
    finally:
        con.close()


def to_old_notice_log(wh: Path) -> int:
    """The old notice_log (PRIMARY KEY, UNIQUE) in ``wh``; the number of rows."""
    return _to_old(wh, "notice_log", OLD_NOTICE_LOG)


def constraints(wh: Path) -> list[str]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return [
            r[0]
            for r in con.execute(
                "SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'notice_log' "
                "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') ORDER BY 1"
            ).fetchall()
        ]
    finally:
        con.close()


def failing_step(monkeypatch, name: str, message: str) -> None:
    """``pipelines.warehouse.STEPS[name]`` raises ``OSError(message)``: a migration's copy that fails
    (a full disk) inside its transaction."""
    from pipelines import warehouse

    real = warehouse.STEPS

    class Failing(type(real)):
        def __getitem__(self, key):
            if key == name:
                raise OSError(message)
            return real[key]

    monkeypatch.setattr(warehouse, "STEPS", Failing(real))


def to_old_push_batches(wh: Path) -> int:
    """``push_batches`` as the code before ``persons_kept_segments`` (twelfth session and before: the
    trees c7c7f75, a5563a9, 1afd5fe) left it in ``wh``, with that code's stamp; the number of rows."""
    con = duckdb.connect(str(wh))
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute("DROP VIEW IF EXISTS batches")  # the older code's view named no such column
        con.execute("ALTER TABLE push_batches DROP COLUMN persons_kept_segments")
        con.execute("UPDATE warehouse_schema SET stamp = 'older code'")
        con.execute("COMMIT")
        return con.execute("SELECT count(*) FROM push_batches").fetchall()[0][0]
    finally:
        con.close()
