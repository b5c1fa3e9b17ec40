"""Shared test support, moved from tests/ingest/test_ingest.py (issue 15: no test module imports another)."""

from __future__ import annotations

from pathlib import Path
import duckdb


def q(wh: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def persons_as_of(wh: Path, s: int | None = None) -> dict[str, dict]:
    """id_no -> version row (dict) valid as of seq ``s`` (current when None)."""
    cond = (
        "valid_to_seq IS NULL"
        if s is None
        else f"valid_from_seq <= {int(s)} AND (valid_to_seq IS NULL OR valid_to_seq > {int(s)})"
    )
    con = duckdb.connect(str(wh), read_only=True)
    try:
        cur = con.execute(f"SELECT * FROM person_versions WHERE {cond}")
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()
    out = {}
    for r in rows:
        assert r["id_no"] not in out, f"two versions valid at once for one person (seq {s})"
        out[r["id_no"]] = r
    return out


def unexplained_refusals(wh: Path) -> list[str]:
    """The batch refusals of ``wh`` that the leaders' report cannot explain in Chinese (its 说明,
    sql/report/60_refused_batches.sql, is NULL and the page shows "—"): each as its batch and English
    reason. A new refusal text needs its line in that file."""
    con = duckdb.connect(str(wh), read_only=True)
    try:
        rows = con.execute("SELECT * FROM batch_refusals").fetchall()
    finally:
        con.close()
    return [f"{r[1]}: {r[7]}" for r in rows if refusal_note(r[6], r[7], file=r[4], row=r[5]) is None]


def refusal_note(code: str, reason: str, file: str | None = None, row: int | None = None) -> str | None:
    """The 说明 the leaders' report gives a refusal of ``code`` with ``reason`` (the English text
    recorded in batch_refusals), computed by sql/report/60_refused_batches.sql on that one row;
    None where the report would show "—". For refusals a test makes without a warehouse
    (``read_manifest``'s)."""
    from pipelines.report import STEPS
    from pipelines.steps import run_step

    con = duckdb.connect()
    try:
        con.execute(
            "CREATE TABLE batch_refusals (refused_at TIMESTAMPTZ, batch_id VARCHAR, seq BIGINT, source_dir VARCHAR, "
            "file VARCHAR, row_no BIGINT, reason_code VARCHAR, reason VARCHAR)"
        )
        con.execute("INSERT INTO batch_refusals VALUES (now(), 'B', 1, NULL, ?, ?, ?, ?)", [file, row, code, reason])
        (_, _, _, note, _), *more = run_step(con, STEPS["60_refused_batches"], bind=[None, None, None, None])
        assert not more
        return note
    finally:
        con.close()
