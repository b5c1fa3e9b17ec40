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
        rows = con.execute("SELECT batch_id, reason_code, reason, file, row_no FROM batch_refusals").fetchall()
    finally:
        con.close()
    notes = refusal_notes([(code, reason, file, row) for _, code, reason, file, row in rows])
    return [f"{batch}: {reason}" for (batch, _, reason, _, _), note in zip(rows, notes, strict=True) if note is None]


def refusal_note(code: str, reason: str, file: str | None = None, row: int | None = None) -> str | None:
    """The 说明 the leaders' report gives one refusal (for those a test makes without a warehouse:
    ``read_manifest``'s); None where the report would show "—"."""
    return refusal_notes([(code, reason, file, row)])[0]


def refusal_notes(refusals: list[tuple]) -> list[str | None]:
    """The 说明 of each (code, English reason, file, row) as sql/report/60_refused_batches.sql gives it
    (None: "—"), in one run of that step over the refusals, each under a batch id of its own."""
    from pipelines.report import STEPS
    from pipelines.steps import run_step

    if not refusals:
        return []
    con = duckdb.connect()
    try:
        con.execute(
            "CREATE TABLE batch_refusals (refused_at TIMESTAMPTZ, batch_id VARCHAR, seq BIGINT, source_dir VARCHAR, "
            "file VARCHAR, row_no BIGINT, reason_code VARCHAR, reason VARCHAR)"
        )
        con.executemany(
            "INSERT INTO batch_refusals VALUES (now(), ?, 1, NULL, ?, ?, ?, ?)",
            [[f"R{i:06d}", file, row, code, reason] for i, (code, reason, file, row) in enumerate(refusals)],
        )
        got = {b: note for b, _, _, note, _ in run_step(con, STEPS["60_refused_batches"], bind=[None] * 4)}
    finally:
        con.close()
    return [got[f"R{i:06d}"] for i in range(len(refusals))]
