"""Shared test support, moved from tests/ledger/test_ledger.py (issue 15: no test module imports another)."""

from __future__ import annotations

from pathlib import Path

import duckdb
from pipelines import ledger, screen
from pipelines.ingest import ingest_batches
from pipelines.monthly import month_context
from pipelines.settings import load_settings
from pipelines.warehouse import connect
from support.pushkit import segment, write_batch


class Push:
    """Feed months one after another: each call is a FULL (or INCR) and a screen + ledger of its month."""

    def __init__(self, tmp: Path):
        self.tmp, self.wh, self.seq = tmp, tmp / "w.duckdb", 0
        self.settings = load_settings()

    def month(self, month: str, persons, segments=None, push_type="FULL"):
        self.seq += 1
        segs = segments if segments is not None else [segment(p["id_no"]) for p in persons if p.get("op") != "D"]
        b = write_batch(
            self.tmp / f"b{self.seq}",
            persons,
            segs,
            seq=self.seq,
            month=month,
            push_type=push_type,
            base_seq=None if push_type == "FULL" else self.seq - 1,
        )
        rep = ingest_batches([b], self.wh)
        assert not rep.refused, rep.lines()
        with connect(self.wh, settings=self.settings) as con:
            ctx = month_context(con, month, self.settings)
            screen.screen_month(con, ctx, validate=False)
            return ledger.update_ledger(con, ctx, validate=False)

    def ingest_incr(self, month: str, persons) -> None:
        """An INCR batch of ``persons`` (each with its ``op``) ingested, no month run."""
        self.seq += 1
        b = write_batch(
            self.tmp / f"b{self.seq}",
            persons,
            [segment(p["id_no"]) for p in persons],
            seq=self.seq,
            month=month,
            push_type="INCR",
            base_seq=self.seq - 1,
        )
        rep = ingest_batches([b], self.wh)
        assert not rep.refused, rep.lines()

    def q(self, sql, params=None):
        """A read-only query: on a plain connection (no policy macros: a warehouse connection
        renders about sixty of them, ≈ 35 ms, more than most of these queries take), or on a
        warehouse connection when the query needs a macro."""
        con = duckdb.connect(str(self.wh), read_only=True)
        try:
            con.execute("SET TimeZone = 'Asia/Shanghai'")
            return con.execute(sql, params or []).fetchall()
        except duckdb.CatalogException:
            pass
        finally:
            con.close()
        with connect(self.wh, read_only=True, settings=self.settings) as con:
            return con.execute(sql, params or []).fetchall()


def entry(push: Push, id_no: str):
    rows = push.q(
        "SELECT stage, office_code, closed_mi, close_reason, officer_id, opened_by FROM ledger_entries "
        "WHERE id_no = ? ORDER BY opened_mi",
        [id_no],
    )
    return rows[-1] if rows else None


def run_push_month(push: Push, month: str, persons, segments=None, push_type="FULL"):
    """Ingest one batch, then the whole monthly run of its month (worklists and notices too)."""
    from pipelines.monthly import run_month

    push.seq += 1
    segs = segments if segments is not None else [segment(p["id_no"]) for p in persons if p.get("op") != "D"]
    b = write_batch(
        push.tmp / f"b{push.seq}",
        persons,
        segs,
        seq=push.seq,
        month=month,
        push_type=push_type,
        base_seq=None if push_type == "FULL" else push.seq - 1,
    )
    assert not ingest_batches([b], push.wh).refused
    run_month(month, push.wh, push.tmp / "out", validate=False)


def feedback_to_conclusion(push: Push, p: dict, first_day: int, then=()) -> None:
    """County feedback (office 640104) taking p's entry to a conclusion on four days of November
    from ``first_day``, then the rows ``then``; every row must be accepted."""
    import csv as _csv

    from pipelines.feedback import COLUMNS, apply_feedback_files

    rows = [
        {"event": "ARCHIVE_REVIEWED", "result": "PASS"},
        {"event": "YEARS_CONFIRMED", "months": "300"},
        {"event": "RELATIONS_MERGED", "merge_status": "MERGED"},
        {
            "event": "CONCLUSION_ISSUED",
            "merge_status": "MERGED",
            "counted_months": "300",
            "archive_conclusion": "PASS",
            "base_data": "b",
        },
    ]
    for i, r in enumerate(rows):
        r["event_date"] = f"2026-11-{first_day + i:02d}"
    f = push.tmp / "fb.csv"
    with open(f, "w", encoding="utf-8", newline="") as fh:
        w = _csv.DictWriter(fh, fieldnames=list(COLUMNS))
        w.writeheader()
        for r in rows + list(then):
            w.writerow({"office_code": "640104", "id_no": p["id_no"], **r})
    rep = apply_feedback_files([f], push.wh)
    assert rep.files[0].refused == 0, rep.lines()


def correction_push(push: Push, month: str, persons) -> None:
    """A correction FULL of an already-run month (a later seq, the same data month), then its rerun."""
    from pipelines.monthly import run_month

    push.seq += 1
    b = write_batch(
        push.tmp / f"b{push.seq}", persons, [segment(p["id_no"]) for p in persons], seq=push.seq, month=month
    )
    assert not ingest_batches([b], push.wh).refused
    run_month(month, push.wh, push.tmp / "out", validate=False)
