"""Shared test support, moved from tests/screen/test_screen.py (issue 15: no test module imports another)."""

from __future__ import annotations

from pathlib import Path
from pipelines.ingest import ingest_batches, load_applications
from pipelines.monthly import month_context
from pipelines import screen
from pipelines.settings import load_settings
from pipelines.warehouse import connect
from support.pushkit import segment, write_batch

P = "2026-11"


def born(months_before_original: int, original_age: int = 60, month: str = P) -> str:
    """A birth date whose original-age month is P + months_before_original."""
    y, m = int(month[:4]), int(month[5:])
    idx = y * 12 + m - 1 + months_before_original - original_age * 12
    return f"{idx // 12:04d}{idx % 12 + 1:02d}10"


def screen_rows(tmp_path: Path, persons, segments=None, month=P, applications=None) -> dict:
    """Ingest one FULL and screen month P; returns {person n: screen row dict} keyed by id_no."""
    segs = segments if segments is not None else [segment(p["id_no"]) for p in persons]
    # pad with plain persons so the batch is well under the bad-row threshold and realistic
    b = write_batch(tmp_path / "b1", persons, segs, month=month)
    wh = tmp_path / "w.duckdb"
    rep = ingest_batches([b], wh)
    assert not rep.refused, rep.lines()
    if applications:
        f = tmp_path / "apps.csv"
        f.write_text(
            "id_no,applicant_type,applied_on,channel,county_code\n"
            + "".join(f"{i},2,{d},online,640104\n" for i, d in applications),
            encoding="utf-8",
        )
        load_applications([f], wh)
    s = load_settings()
    with connect(wh, settings=s) as con:
        ctx = month_context(con, month, s)
        screen.screen_month(con, ctx, validate=False)
        cur = con.execute("SELECT * FROM screen_results")
        cols = [d[0] for d in cur.description]
        recs = [dict(zip(cols, row)) for row in cur.fetchall()]
        fl = con.execute("SELECT id_no, code, evidence FROM flags").fetchall()
    rows = {r["id_no"]: r for r in recs}
    for i, code, ev in fl:
        rows[i].setdefault("_evidence", {})[code] = ev
    return rows
