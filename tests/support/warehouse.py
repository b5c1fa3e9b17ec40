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
    sql/report/60_refused_batches.sql, is NULL and the page shows "—"): each as its English reason.
    A new refusal text needs its line in that file."""
    from pipelines.report import STEPS
    from pipelines.steps import run_step

    con = duckdb.connect(str(wh), read_only=True)
    try:
        notes = run_step(con, STEPS["60_refused_batches"], bind=[None, None, None, None])
        reasons = con.execute("SELECT reason FROM batch_refusals ORDER BY refused_at, batch_id, reason_code").fetchall()
    finally:
        con.close()
    return [r for (r,), (_, _, _, note, _) in zip(reasons, notes) if note is None]
