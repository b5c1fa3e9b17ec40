"""Upgrading a warehouse that older code kept for months (docs/operations.md §7 "Upgrading the code",
docs/decisions.md "Upgrades"): the first writer of this code brings an older warehouse's shape up
without losing or changing a row, and what older code left waiting for a batch goes out as this code
would have written it. The older shapes are made with SQL (support/old_schema.py), not from git."""

from __future__ import annotations

import duckdb
import pytest

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


AUG, SEP = 2025 * 12 + 7, 2025 * 12 + 8


def test_reminders_older_code_left_waiting_for_a_batch_go_out_rendered_for_that_batch(tmp_path, monkeypatch):
    """rules.md §5, docs/decisions.md "A notice is rendered for the month it is sent in": code before
    the thirteenth session rendered what a rerun of a published month raised for that month, and the
    notices wait in notice_log for the next batch. 2025-08 run and published; a correction push of
    2025-08 run again by such code: a's AGE_REACHED says 本月（2025年8月）, b's PRE_SERVICE offers
    flexible retirement from 2025-08. Upgraded, 2025-09's batch must say what this code says in
    September: no 本月 of a month gone, no earliest month already past."""
    from pipelines import notify
    from support.ledger import Push, correction_push, run_push_month
    from support.pushkit import person

    push = Push(tmp_path)
    a = dict(person(1, birth_date="19650910", arrears_months=2))
    b = person(2, birth_date="19650815")  # original age 2025-08 = the earliest flexible month; S 2025-10
    run_push_month(push, "2025-08", [a])
    real = notify._render_texts
    with monkeypatch.context() as older_code:  # rendered for the month raised in, as before ec30054
        older_code.setattr(notify, "_render_texts", lambda con, k, cols, _mi, s: real(con, k, cols, AUG, s))
        correction_push(push, "2025-08", [dict(a, birth_date="19650610"), b])
    waiting = dict(push.q("SELECT kind, text FROM notice_log WHERE issued_mi = ? AND reference_mi = ?", [SEP, AUG]))
    assert "您已于本月（2025年8月）" in waiting["AGE_REACHED"] and "最早2025年8月" in waiting["PRE_SERVICE"]

    run_push_month(push, "2025-09", [dict(a, birth_date="19650610"), b])
    sent = dict(push.q("SELECT kind, text FROM notice_log WHERE issued_mi = ? AND reference_mi = ?", [SEP, AUG]))
    assert "本月" not in sent["AGE_REACHED"] and "您已于2025年8月达到法定退休年龄" in sent["AGE_REACHED"]
    assert "最早" not in sent["PRE_SERVICE"] and "弹性提前或延迟退休（最晚2028年10月）" in sent["PRE_SERVICE"]
    sms = "".join(
        p.read_text(encoding="utf-8-sig") for p in (tmp_path / "out" / "2025-09").glob("notifications/*/sms.csv")
    )
    assert sent["AGE_REACHED"] in sms and sent["PRE_SERVICE"] in sms and "本月（2025年8月）" not in sms


def test_a_stored_macro_named_as_a_policy_macro_is_dropped_by_the_first_writer(tmp_path):
    """The first session's code stored province_of, is_region_code, is_office_code and person_key
    (with the key) in the warehouse; every connection now looks in the warehouse before the policy
    macros' file (sql/warehouse/attach_policy.sql), so a stored macro of a policy macro's name would
    replace this code's rule without a word (the same for a macro moved one day from views.sql to
    sql/policy/). The first writer drops them; the warehouse's own macros stay."""
    wh = tmp_path / "w.duckdb"
    with connect(wh):
        pass
    stored = (
        "SELECT DISTINCT function_name FROM duckdb_functions() WHERE database_name = 'w' AND NOT internal ORDER BY 1"
    )
    own = _rows(wh, stored)  # the warehouse's own macros (schema_feedback.sql, views.sql)
    assert ("month_text",) in own and ("is_office_code",) not in own
    con = duckdb.connect(str(wh))
    con.execute("CREATE MACRO is_office_code(code) AS 'stale rule'")
    con.execute("CREATE MACRO person_key(id_no) AS 'a key in the file'")
    con.execute("UPDATE warehouse_schema SET stamp = 'older code'")
    con.close()
    with connect(wh) as con:
        assert con.execute("SELECT is_office_code('640104'), is_office_code('999999')").fetchall() == [(True, False)]
        assert con.execute("SELECT person_key('640104196603150011')").fetchall() != [("a key in the file",)]
    assert _rows(wh, stored) == own


_KILL_AFTER = """
import os, signal, sys
from pipelines import steps, warehouse
steps.OBSERVERS.append(lambda con, step, given: step.name == sys.argv[2] and os.kill(os.getpid(), signal.SIGKILL))
with warehouse.connect(sys.argv[1]):
    pass
"""


def _tables(wh) -> dict:
    """Every table's columns and rows (the schema stamp aside)."""
    con = duckdb.connect(str(wh), read_only=True)
    try:
        names = [
            r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()
        ]
        return {
            t: (con.execute(f"DESCRIBE {t}").fetchall(), con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall())
            for t in sorted(names)
            if t != "warehouse_schema"
        }
    finally:
        con.close()


@pytest.mark.parametrize("step", ["views", "migrate_notice_log", "migrate_ledger_entries"])
def test_an_upgrade_killed_midway_leaves_a_warehouse_the_next_writer_brings_up(tmp_path, step):
    """kill -9 of the first writer of this code on an older warehouse (the pre-issue-19 indexes, the
    push_batches of before persons_kept_segments): inside the schema's transaction, inside the first
    rebuild, inside the second. The next writer brings it up to the very tables an uninterrupted
    upgrade gives."""
    import shutil
    import subprocess
    import sys

    from pipelines import PROJECT_ROOT
    from support.old_schema import to_old_ledger_entries, to_old_notice_log

    old = tmp_path / "old.duckdb"
    ps, ss = population(25, segs_per=1)
    assert not ingest_batches([_batch(tmp_path, 1, "2026-10", ps, ss)], old, validate=False).refused
    con = duckdb.connect(str(old))  # a notice and a ledger entry for the rebuilds to copy
    con.execute(
        "INSERT INTO ledger_entries (entry_id, id_no, office_code, opened_mi, opened_by, stage, stage_since) "
        "VALUES ('e1', ?, '640104', 24321, 'PUSH', 'ENROLLED', DATE '2026-10-01')",
        [ps[0]["id_no"]],
    )
    con.execute(
        "INSERT INTO notice_log (notice_id, id_no, entry_id, kind, reference_mi, issued_mi, office_code, "
        "channel, text, created_at) VALUES ('n1', ?, 'e1', 'PRE_SERVICE', 24321, 24321, '640104', 'SMS', "
        "'t', now())",
        [ps[0]["id_no"]],
    )
    con.close()
    to_old_push_batches(old), to_old_notice_log(old), to_old_ledger_entries(old)
    upgraded, killed = tmp_path / "upgraded.duckdb", tmp_path / "killed.duckdb"
    shutil.copy(old, upgraded), shutil.copy(old, killed)
    with connect(upgraded):
        pass
    run = subprocess.run([sys.executable, "-c", _KILL_AFTER, str(killed), step], cwd=PROJECT_ROOT, capture_output=True)
    assert run.returncode == -9, run.stderr.decode()[-500:]
    assert _tables(killed) != _tables(upgraded)  # killed half way up
    with connect(killed):
        pass
    assert _tables(killed) == _tables(upgraded)


def test_an_older_warehouse_gains_the_holds_its_push_batches_still_tell(tmp_path):
    """The code before batch_holds (sixteenth session and before) kept a held batch's story only in
    its present push_batches row. The first writer of this code makes the holds that row tells: a
    batch HELD now (held since its reception, still open), a SUPERSEDED one (held from its reception
    to the apply of the FULL above it); every push_batches row kept. Brought up again, nothing is
    added twice; the next batch applied ends the open hold as APPLIED."""
    from pipelines.steps import query
    from pipelines.report import STEPS as REPORT

    wh = tmp_path / "w.duckdb"
    ps, ss = population(5, segs_per=1)
    incr = [dict(p, op="U") for p in ps]
    for seq, kind in ((1, "FULL"), (3, "INCR"), (4, "FULL"), (6, "INCR")):
        b = write_batch(
            tmp_path / f"b{seq}",
            ps if kind == "FULL" else incr,
            ss,
            seq=seq,
            month="2026-10",
            push_type=kind,
            base_seq=None if kind == "FULL" else seq - 1,
        )
        assert not ingest_batches([b], wh, validate=False).refused
    before = _rows(wh, "SELECT * FROM push_batches ORDER BY seq")
    assert [r[10] for r in before] == ["APPLIED", "SUPERSEDED", "APPLIED", "HELD"]
    con = duckdb.connect(str(wh))  # the older code's warehouse: no batch_holds
    con.execute("DROP TABLE batch_holds")
    con.execute("UPDATE warehouse_schema SET stamp = 'older code'")
    con.close()
    with connect(wh):
        pass
    holds = (
        "SELECT h.seq, h.held_at = b.received_at, h.ended_as, h.ended_at "
        "FROM batch_holds h JOIN push_batches b USING (seq) ORDER BY seq"
    )
    full4 = _rows(wh, "SELECT applied_at FROM push_batches WHERE seq = 4")[0][0]
    assert _rows(wh, holds) == [(3, True, "SUPERSEDED", full4), (6, True, None, None)]
    assert _rows(wh, "SELECT * FROM push_batches ORDER BY seq") == before
    con = duckdb.connect(str(wh))
    con.execute("UPDATE warehouse_schema SET stamp = 'older code'")
    con.close()
    with connect(wh) as con:  # brought up again: nothing twice
        assert con.execute("SELECT count(*) FROM batch_holds").fetchall() == [(2,)]
        now = con.execute("SELECT now()").fetchall()[0][0]
        held = con.execute(query(REPORT["25_held_batches"]), [now, now, now]).fetchall()
        assert [(r[0], r[5], r[6]) for r in held] == [(6, 5, 5)]  # waiting for seq 5
    b5 = write_batch(tmp_path / "b5", incr, ss, seq=5, month="2026-10", push_type="INCR", base_seq=4)
    rep = ingest_batches([b5], wh, validate=False)
    assert [r["seq"] for r in rep.applied] == [5, 6], rep.lines()
    assert _rows(wh, "SELECT seq, ended_as FROM batch_holds ORDER BY seq") == [(3, "SUPERSEDED"), (6, "APPLIED")]
