"""The notice stage in buckets of persons (issue 19): a month too large for one pass of the notices'
SQL at DuckDB's memory limit is issued bucket by bucket (pipelines.notify.REMINDER_BUCKET_ENTRIES);
the notices, the ledger and every file are the same as in one pass."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from pipelines import DATA_DIR, notify
from pipelines.ingest import ingest_batches, load_applications
from pipelines.monthly import run_month

SAMPLE = DATA_DIR / "sample"


def _files(root: Path) -> dict[str, str]:
    # the validation results carry run times; every other file must be byte-identical
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "validation" not in p.parts
    }


def _tables(wh: Path) -> dict[str, list]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return {
            "notice_log": con.execute("SELECT * EXCLUDE (created_at) FROM notice_log ORDER BY ALL").fetchall(),
            "ledger_entries": con.execute("SELECT * FROM ledger_entries ORDER BY ALL").fetchall(),
            "ledger_transitions": con.execute(
                "SELECT entry_id, id_no, from_stage, to_stage, event_date, month_mi, source, detail "
                "FROM ledger_transitions ORDER BY ALL"
            ).fetchall(),
            "notice_withdrawals": con.execute("SELECT notice_id FROM notice_withdrawals ORDER BY ALL").fetchall(),
            "coordination_letters": con.execute("SELECT * FROM coordination_letters ORDER BY ALL").fetchall(),
        }
    finally:
        con.close()


def _two_months(tmp: Path, monkeypatch, bucket_entries) -> tuple[dict, dict, dict, int]:
    """The sample's 2026-11 (FULL: PRE_SERVICE for everyone opened) and 2026-12 (INCR: the other
    reminders, OVERDUE's every-N-months rule across runs) with REMINDER_BUCKET_ENTRIES as given."""
    monkeypatch.setattr(notify, "REMINDER_BUCKET_ENTRIES", bucket_entries)
    passes = []
    real = notify.reminder_buckets
    monkeypatch.setattr(notify, "reminder_buckets", lambda con, mi: passes.append(real(con, mi)) or passes[-1])
    wh, out = tmp / "w.duckdb", tmp / "out"
    assert not ingest_batches([SAMPLE / "push" / "2026-11-full"], wh).refused
    load_applications(sorted((SAMPLE / "applications").glob("*.csv")), wh)
    nov = run_month("2026-11", wh, out, validate=False)
    assert not ingest_batches([SAMPLE / "push" / "2026-12-incr"], wh).refused
    dec = run_month("2026-12", wh, out, validate=False)
    counts = {
        m: {k: v for k, v in r.counts.items() if k.startswith("notices ")} for m, r in (("nov", nov), ("dec", dec))
    }
    return counts, _tables(wh), _files(out), max(passes)


@pytest.fixture(scope="module")
def one_pass(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    try:
        return _two_months(tmp_path_factory.mktemp("one"), mp, 0)
    finally:
        mp.undo()


def test_notices_in_buckets_equal_one_pass(one_pass, tmp_path, monkeypatch):
    counts, tables, files, passes = one_pass
    assert passes == 1
    # the sample: hundreds of notices of every reminder kind over the two months
    assert counts["nov"]["notices PRE_SERVICE"] > 50 and counts["nov"]["notices NOTIFIED"] > 50
    assert sum(counts["dec"][f"notices {k}"] for k in notify.REMINDER_KINDS) > 10
    # ≈ 25 passes a month (a bucket of 7 entries made ≈ 200: 21 s of the suite for no more cover)
    b_counts, b_tables, b_files, b_passes = _two_months(tmp_path, monkeypatch, 50)
    assert b_passes > 20, "the sample's entries in many buckets"
    assert b_counts == counts
    for name in tables:
        assert b_tables[name] == tables[name], name
    assert any(f.startswith("2026-11/notifications/") for f in files)
    assert b_files == files


def test_bucket_count_follows_the_open_entries(tmp_path):
    con = duckdb.connect()
    con.execute("CREATE TABLE ledger_entries (opened_mi INTEGER, closed_mi INTEGER)")
    # 10 open in month 100, 3 closed before it, 2 opened after it
    con.execute(
        "INSERT INTO ledger_entries SELECT 90, NULL FROM range(10) UNION ALL SELECT 90, 95 FROM range(3) "
        "UNION ALL SELECT 101, NULL FROM range(2)"
    )
    mp = pytest.MonkeyPatch()
    try:
        for size, want in ((0, 1), (100, 1), (10, 1), (9, 2), (3, 4), (1, 10)):
            mp.setattr(notify, "REMINDER_BUCKET_ENTRIES", size)
            assert notify.reminder_buckets(con, 100) == want, size
    finally:
        mp.undo()
        con.close()
