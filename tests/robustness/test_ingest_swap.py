"""A batch file replaced after its hash was verified is not applied (issue 14 item 2).

``ingest`` verifies every batch's hashes first (``read_manifest``) and reads the files later, in
the batch's transaction.  A ``persons`` file swapped in between used to be applied, recorded with
the manifest's hash, and the genuine file was then "already applied".  The swap is made by a hook
on the step between the two (``_decide``), not by timing luck.  The bytes applied must be the bytes
whose hash was verified: the batch is refused whole, nothing of it is applied, and the genuine
file, once back, is applied normally.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

import pipelines.ingest as ingest
from pipelines.ingest import ingest_batches
from support.pushkit import person, run_cli, segment, write_batch


def _names(wh: Path) -> list[str]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return [
            r[0]
            for r in con.execute(
                "SELECT name FROM person_versions WHERE valid_to_seq IS NULL ORDER BY id_no"
            ).fetchall()
        ]
    finally:
        con.close()


def _batches(wh: Path) -> list[tuple]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute("SELECT batch_id, status FROM push_batches ORDER BY seq").fetchall()
    finally:
        con.close()


def _batch(tmp: Path, fmt: str) -> tuple[Path, list[dict]]:
    ps = [person(i, name=f"真名{i}") for i in range(1, 6)]
    segs = [segment(p["id_no"]) for p in ps]
    return write_batch(tmp / "b1", ps, segs, fmt=fmt), ps


def _forged(tmp: Path, fmt: str, ps: list[dict]) -> bytes:
    """The same persons under other names: a file as valid as the genuine one, other bytes."""
    other = write_batch(
        tmp / "forged", [dict(p, name="冒名" + p["name"][-1]) for p in ps], [segment(p["id_no"]) for p in ps], fmt=fmt
    )
    return (other / f"persons.{fmt}").read_bytes()


@pytest.mark.parametrize("how", ["renamed over", "rewritten in place"])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_file_swapped_between_verify_and_read_is_refused_and_genuine_applied_later(tmp_path, monkeypatch, fmt, how):
    batch, ps = _batch(tmp_path, fmt)
    target = batch / f"persons.{fmt}"
    genuine = target.read_bytes()
    forged = _forged(tmp_path, fmt, ps)
    real_decide = ingest._decide
    swaps = []

    def decide_then_swap(con, man):  # runs after read_manifest verified the hashes, before the read
        if not swaps:
            if how == "renamed over":
                tmp = batch / "incoming.tmp"
                tmp.write_bytes(forged)
                os.replace(tmp, target)
            else:
                with open(target, "r+b") as fh:
                    fh.write(forged)
                    fh.truncate()
            swaps.append(1)
        return real_decide(con, man)

    monkeypatch.setattr(ingest, "_decide", decide_then_swap)
    wh = tmp_path / "w.duckdb"
    code, out, err = run_cli("ingest", batch, "--warehouse", wh)
    assert swaps, "the hook did not run"
    assert code == 2, (out, err)
    assert len(err.splitlines()) == 1 and f"persons.{fmt}" in err and "changed after its sha256" in err, err
    assert _names(wh) == [], "nothing of the swapped batch is applied"
    assert _batches(wh) == []

    # the genuine file is back (the transfer completed): the batch applies normally, once
    target.write_bytes(genuine)
    rep = ingest_batches([batch], wh)
    assert not rep.refused and [a["batch_id"] for a in rep.applied] == ["NX-2026-11-0001"], rep.lines()
    assert sorted(_names(wh)) == sorted(p["name"] for p in ps)
    assert ingest_batches([batch], wh).noop == ["NX-2026-11-0001"]


def test_file_replaced_by_a_symlink_after_verify_is_refused(tmp_path, monkeypatch):
    batch, ps = _batch(tmp_path, "csv")
    target = batch / "persons.csv"
    outside = tmp_path / "elsewhere.csv"
    outside.write_bytes(target.read_bytes())
    real_decide = ingest._decide

    def decide_then_link(con, man):
        target.unlink()
        target.symlink_to(outside)
        return real_decide(con, man)

    monkeypatch.setattr(ingest, "_decide", decide_then_link)
    rep = ingest_batches([batch], tmp_path / "w.duckdb")
    assert len(rep.refused) == 1 and not rep.applied
    assert rep.refused[0].file == "persons.csv"
