"""Backup and restore of the warehouse (docs/operations.md §7, issue 20 item 4).

The two ways operations.md gives, each restored and checked to give the same analyst views,
and to run the next month exactly as the original does:

* **file copy** while no process writes (after ``CHECKPOINT``: the write-ahead log is folded in,
  the copy is the whole database);
* **EXPORT DATABASE** (schema + Parquet) and ``IMPORT DATABASE`` into a new file: the way across
  DuckDB versions whose storage formats differ.
"""

from __future__ import annotations

import hashlib
import shutil

import duckdb
import pytest
from support.pushkit import person, segment, write_batch

from pipelines.ingest import ingest_batches
from pipelines.monthly import run_month

VIEWS = ("batches", "quarantine", "ledger_current", "flags_current", "notices", "office_progress")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("backup")
    births = ("19661015", "19640510", "19710201", "19660101", "19651201")
    people = [person(n, birth_date=b, gender=1 + n % 2) for n, b in enumerate(births, 1)]
    write_batch(tmp / "b1", people, [segment(p["id_no"]) for p in people], seq=1)
    wh = tmp / "w.duckdb"
    assert not ingest_batches([tmp / "b1"], wh).refused
    run_month("2026-11", wh, tmp / "out", validate=False)
    write_batch(
        tmp / "b2",
        [dict(people[0], op="U", phone="13912345679")],
        [],
        seq=2,
        push_type="INCR",
        base_seq=1,
        month="2026-12",
    )
    return dict(tmp=tmp, wh=wh)


def _views(path) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {v: sorted(map(repr, con.execute(f"SELECT * FROM {v}").fetchall())) for v in VIEWS}
    finally:
        con.close()


def _next_month_files(wh, tmp, name) -> dict:
    """Ingest the December INCR and run 2026-12 on ``wh``; the files' hashes."""
    assert not ingest_batches([tmp / "b2"], wh).refused
    out = tmp / f"out-{name}"
    run_month("2026-12", wh, out, validate=False)
    return {
        f.relative_to(out).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted((out / "2026-12").rglob("*"))
        if f.is_file()
    }


def _backup_by_copy(src, dst):
    con = duckdb.connect(str(src))  # the only process: no run may hold the warehouse
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()
    shutil.copy2(src, dst)


def _backup_by_export(src, folder, dst):
    con = duckdb.connect(str(src), read_only=True)
    try:
        con.execute(f"EXPORT DATABASE '{folder}' (FORMAT parquet)")
    finally:
        con.close()
    con = duckdb.connect(str(dst))
    try:
        con.execute(f"IMPORT DATABASE '{folder}'")
    finally:
        con.close()


def test_a_file_copy_after_checkpoint_restores_the_same_views_and_next_month(warehouse):
    tmp, wh = warehouse["tmp"], warehouse["wh"]
    copy = tmp / "restored-copy.duckdb"
    _backup_by_copy(wh, copy)
    assert _views(copy) == _views(wh)
    assert any(_views(wh)[v] for v in VIEWS)
    original = tmp / "original-1.duckdb"
    shutil.copy2(wh, original)
    assert _next_month_files(copy, tmp, "copy") == _next_month_files(original, tmp, "original-1")


def test_export_and_import_restore_the_same_views_and_next_month(warehouse):
    tmp, wh = warehouse["tmp"], warehouse["wh"]
    restored = tmp / "restored-import.duckdb"
    _backup_by_export(wh, tmp / "export", restored)
    assert (tmp / "export" / "schema.sql").is_file()
    assert _views(restored) == _views(wh)
    original = tmp / "original-2.duckdb"
    shutil.copy2(wh, original)
    assert _next_month_files(restored, tmp, "import") == _next_month_files(original, tmp, "original-2")
