"""Upgrading a warehouse that older code kept for months (docs/operations.md §7 "Upgrading the code",
docs/decisions.md "Upgrades"): the first writer of this code brings an older warehouse's shape up
without losing or changing a row, and what older code left waiting for a batch goes out as this code
would have written it. The older shapes are made with SQL (support/old_schema.py), not from git."""

from __future__ import annotations

import duckdb

from pipelines.ingest import ingest_batches
from pipelines.warehouse import connect
from support.old_schema import to_old_push_batches
from support.pushkit import population, write_batch


def _rows(wh, sql):
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _batch(tmp, seq, month, persons, segments, push_type="FULL"):
    return write_batch(
        tmp / f"b{seq}",
        persons,
        segments,
        seq=seq,
        month=month,
        push_type=push_type,
        base_seq=None if push_type == "FULL" else seq - 1,
    )


def test_an_older_push_batches_gains_its_column_every_row_kept(tmp_path):
    """The code before `persons_kept_segments` (c7c7f75 … 1afd5fe) left push_batches without it: the
    first writer adds it (NULL for the batches applied before: not counted then), every row and
    column kept; the `batches` view shows it, and the next batch records its count."""
    wh = tmp_path / "w.duckdb"
    ps, ss = population(25, segs_per=1)
    assert not ingest_batches([_batch(tmp_path, 1, "2026-10", ps, ss)], wh, validate=False).refused
    cols = "seq, batch_id, status, persons_rows, persons_accepted, segments_accepted, persons_inserted"
    before = _rows(wh, f"SELECT {cols} FROM push_batches")
    assert to_old_push_batches(wh) == 1
    with connect(wh):
        pass
    assert _rows(wh, f"SELECT {cols} FROM push_batches") == before
    assert _rows(wh, "SELECT seq, persons_kept_segments, rows_balanced FROM batches") == [(1, None, True)]
    # an INCR with one segment row of a known person quarantined (1 of 25): he keeps his segments
    bad = dict(ss[0], region_code="64O104")
    incr = _batch(tmp_path, 2, "2026-11", [dict(p, op="U") for p in ps], [bad] + ss[1:], push_type="INCR")
    rep = ingest_batches([incr], wh, validate=False)
    assert not rep.refused, rep.lines()
    assert _rows(wh, "SELECT seq, persons_kept_segments FROM batches ORDER BY seq") == [(1, None), (2, 1)]
