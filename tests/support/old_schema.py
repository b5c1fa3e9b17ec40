"""A warehouse as the code before issue 19 left it: notice_log with its PRIMARY KEY (notice_id) and
UNIQUE (id_no, kind, reference_mi), which pipelines.warehouse.migrate_notice_log rebuilds away."""

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


def to_old_notice_log(wh: Path) -> int:
    """Give the warehouse ``wh`` (made by the present code) the old notice_log, every row kept in its
    order; the number of rows."""
    con = duckdb.connect(str(wh))
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE TEMP TABLE _keep AS SELECT * FROM notice_log")
        con.execute("DROP TABLE notice_log")
        con.execute(OLD_NOTICE_LOG)
        con.execute("INSERT INTO notice_log SELECT * FROM _keep")
        con.execute("DROP TABLE IF EXISTS warehouse_schema")  # that code kept no schema stamp
        con.execute("COMMIT")
        return con.execute("SELECT count(*) FROM notice_log").fetchall()[0][0]
    finally:
        con.close()


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
