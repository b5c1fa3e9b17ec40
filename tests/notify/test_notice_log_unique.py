"""notice_log without its UNIQUE indexes (issue 19): the check that replaced them, in every writer.

DuckDB kept the index entries a transaction inserts into notice_log in memory until COMMIT, and a
FULL month of 5,000,000 persons did not commit within 1 GB; the PRIMARY KEY (notice_id) and UNIQUE
(id_no, kind, reference_mi) are gone. Every insert into the log is followed, in the writer's
transaction, by sql/notify/35_unique.sql (pipelines.notify.check_unique): a notice sent twice harms a
person, so a duplicate must still be refused with one clear line and nothing of the transaction
committed. Each writer is made to write one notice twice (a step observer copies a row it inserted:
the anti-joins "lost") and must refuse it: the run's notice stage, declare, feedback's RESULT
notices, and the withdrawals' restore. An older warehouse's table is rebuilt without the
constraints on a writer's connection, every row kept.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines import DATA_DIR, notify
from pipelines import steps as steps_module
from pipelines import warehouse
from pipelines.errors import DuplicateNotice, RetirePrepError
from pipelines.ingest import ingest_batches
from pipelines.monthly import run_month
from pipelines.warehouse import connect
from support.declare import confirm, declare
from support.feedback import P, Wh, path_rows
from support.old_schema import constraints, failing_step, to_old_notice_log
from support.sample_world import first_sample_month
from support.warehouse import q as _q

SAMPLE = DATA_DIR / "sample"
ROOT = Path(__file__).resolve().parents[2]
ID_NO = re.compile(r"\d{17}[\dX]")


@pytest.fixture
def twice(monkeypatch):
    """After the given step, write one of the rows it inserted into notice_log a second time
    (``how``: the same row, or the same notice_id under another reference month)."""
    calls = []

    def arm(step_name: str, source: str, how: str = "same row"):
        def observe(con, step, given):
            if step.name != step_name or calls:
                return
            n = con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0]
            if not n:
                return
            calls.append(step.name)
            first = f"(SELECT min(notice_id) FROM {source})"
            if how == "same row":
                con.execute(f"INSERT INTO notice_log SELECT * FROM notice_log WHERE notice_id = {first}")
            else:  # one notice_id for two keys (e.g. two persons whose person_key collides)
                con.execute(
                    "INSERT INTO notice_log SELECT * REPLACE (reference_mi + 100 AS reference_mi) "
                    f"FROM notice_log WHERE notice_id = {first}"
                )

        monkeypatch.setattr(steps_module, "OBSERVERS", [*steps_module.OBSERVERS, observe])
        return calls

    return arm


def _refused_in_one_line(exc: BaseException) -> None:
    text = str(exc)
    assert isinstance(exc, DuplicateNotice), repr(exc)
    assert "\n" not in text and "twice" in text and "nothing of this transaction is committed" in text
    assert not ID_NO.search(text), "the error names no person"


# ------------------------------------------------------------------------------ the writers


def test_the_notice_stage_refuses_a_notice_written_twice_and_commits_nothing(tmp_path, twice):
    wh, out = first_sample_month(tmp_path)
    calls = twice("30_insert", "_notice_ins")
    with pytest.raises(RetirePrepError) as e:
        run_month("2026-11", wh, out, validate=False)
    assert calls == ["30_insert"]
    _refused_in_one_line(e.value)
    assert _q(wh, "SELECT count(*) FROM notice_log") == [(0,)]
    assert _q(wh, "SELECT count(*) FROM ledger_transitions WHERE to_stage = 'NOTIFIED'") == [(0,)]
    assert _q(wh, "SELECT status FROM month_runs WHERE command = 'run'") == [("FAILED",)]
    assert not (out / "2026-11").exists()


def test_the_notice_stage_refuses_one_notice_id_for_two_keys(tmp_path, twice):
    wh, out = first_sample_month(tmp_path)
    twice("30_insert", "_notice_ins", how="same id")
    with pytest.raises(RetirePrepError) as e:
        run_month("2026-11", wh, out, validate=False)
    _refused_in_one_line(e.value)
    assert "0 (id_no, kind, reference_mi)" in str(e.value) and "1 notice_id" in str(e.value)
    assert _q(wh, "SELECT count(*) FROM notice_log") == [(0,)]


def test_declare_refuses_a_declaration_written_twice(tmp_path, twice):
    wh = Wh(tmp_path)
    ps = [wh.person(S=P + 2), wh.person(S=P + 3)]
    confirm(wh, ps)
    before = wh.q("SELECT * FROM notice_log ORDER BY notice_id")
    twice("30_insert", "_notice_ins")
    with pytest.raises(RetirePrepError) as e:
        declare(wh)
    _refused_in_one_line(e.value)
    assert wh.q("SELECT * FROM notice_log ORDER BY notice_id") == before  # the RESULT notices only
    assert wh.q("SELECT count(*) FROM notice_log WHERE kind = 'DECLARATION'") == [(0,)]
    assert [wh.stage(p) for p in ps] == ["CONFIRMED", "CONFIRMED"]
    assert wh.q("SELECT status FROM month_runs WHERE command = 'declare'") == [("FAILED",)]


def test_feedback_refuses_a_result_notice_written_twice_and_keeps_nothing_of_the_file(tmp_path, twice):
    wh = Wh(tmp_path)
    p = wh.person(S=P + 4)
    twice("30_insert", "_notice_ins")
    with pytest.raises(RetirePrepError) as e:
        wh.apply(path_rows(p, "RESULT_RECEIVED"))
    _refused_in_one_line(e.value)
    assert wh.q("SELECT count(*) FROM notice_log") == [(0,)]
    assert wh.q("SELECT count(*) FROM feedback_files") == [(0,)]
    assert wh.q("SELECT count(*) FROM ledger_transitions") == [(0,)]
    assert wh.stage(p) == "NOTIFIED"
    # the same file without the fault: applied, one RESULT notice
    steps_module.OBSERVERS.clear()
    rep = wh.apply(path_rows(p, "RESULT_RECEIVED"))
    assert rep.refused == 0
    assert wh.q("SELECT kind, count(*) FROM notice_log GROUP BY kind") == [("RESULT", 1)]


def test_the_withdrawals_restore_is_checked(tmp_path):
    """46_withdraw.sql's restore (a notice withdrawn by a run of P, its entry reopened by a rerun) is
    the other insert into the log: its rows go through the same check."""
    wh = Wh(tmp_path)
    p = wh.person(S=P + 4)
    wh.apply(path_rows(p, "CONCLUSION_ISSUED"))  # one RESULT notice
    with wh.con() as con:
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE TEMP TABLE _restore AS SELECT * FROM notice_log")
        notify.check_unique(con, "_restore")  # the log as it is: fine
        con.execute("INSERT INTO notice_log SELECT * FROM _restore")  # restored over itself
        with pytest.raises(DuplicateNotice) as e:
            notify.check_unique(con, "_restore")
        con.execute("ROLLBACK")
    _refused_in_one_line(e.value)
    assert "1 (id_no, kind, reference_mi)" in str(e.value)


def test_a_duplicate_within_one_insert_is_refused(tmp_path):
    """Two rows of one key in what a writer inserts (the anti-join against the log cannot see it)."""
    wh = Wh(tmp_path)
    p = wh.person(S=P + 4)
    wh.apply(path_rows(p, "CONCLUSION_ISSUED"))
    with wh.con() as con:
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE TEMP TABLE _new AS SELECT * REPLACE (reference_mi + 1 AS reference_mi) FROM notice_log")
        con.execute("INSERT INTO _new SELECT * FROM _new")
        con.execute("INSERT INTO notice_log SELECT * FROM _new")
        with pytest.raises(DuplicateNotice) as e:
            notify.check_unique(con, "_new")
        con.execute("ROLLBACK")
    assert "1 (id_no, kind, reference_mi) key(s) and 1 notice_id(s)" in str(e.value)  # one id three times


def test_every_insert_into_the_log_is_one_the_check_follows():
    """A new writer of notice_log must come with the check: the SQL that inserts into it is the two
    files pipelines.notify checks after (and the migration, which copies a log that was unique),
    no Python inserts into it, and no UPDATE changes a key column."""
    inserting = sorted(
        str(f.relative_to(ROOT / "sql"))
        for f in (ROOT / "sql").rglob("*.sql")
        if re.search(r"\binsert\s+into\s+notice_log\b", f.read_text(encoding="utf-8"), re.I)
    )
    assert inserting == ["notify/30_insert.sql", "notify/46_withdraw.sql", "warehouse/migrate_notice_log.sql"]
    src = (ROOT / "pipelines" / "notify.py").read_text(encoding="utf-8")
    assert re.search(r'STEPS\["30_insert"\].*\n\s+check_unique\(con, "_notice_ins"\)', src)
    assert re.search(r'STEPS\["46_withdraw"\],(?:.|\n)*?\)\n\s+check_unique\(con, "_restore"\)', src)
    for f in (ROOT / "pipelines").rglob("*.py"):
        assert not re.search(r"insert\s+into\s+notice_log\b", f.read_text(encoding="utf-8"), re.I), f
    for f in (ROOT / "sql").rglob("*.sql"):
        text = re.sub(r"--[^\n]*", "", f.read_text(encoding="utf-8"))
        for m in re.finditer(r"\bupdate\s+notice_log\b\s+\w*\s*set\b(.*?);", text, re.I | re.S):
            changed = set(re.findall(r"(\w+)\s*=", m.group(1).split(" WHERE ")[0].split("\nWHERE")[0]))
            assert not changed & {"notice_id", "id_no", "kind", "reference_mi"}, f


# ------------------------------------------------------------------------------ the migration


def test_an_older_warehouse_is_rebuilt_without_the_constraints_every_row_kept(tmp_path):
    wh, out = first_sample_month(tmp_path)
    run_month("2026-11", wh, out, validate=False)
    rows = _q(wh, "SELECT * FROM notice_log")  # in the table's order
    assert len(rows) > 100
    n = to_old_notice_log(wh)
    assert n == len(rows) and constraints(wh) == ["PRIMARY KEY", "UNIQUE"]
    assert _q(wh, "SELECT * FROM notice_log") == rows
    with connect(wh):  # a writer's connection rebuilds it
        pass
    assert constraints(wh) == []
    assert _q(wh, "SELECT * FROM notice_log") == rows  # every row, every column, same order
    cols = _q(
        wh,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'notice_log' ORDER BY ordinal_position",
    )
    fresh = tmp_path / "fresh.duckdb"
    with connect(fresh):
        pass
    assert cols == _q(
        fresh,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'notice_log' ORDER BY ordinal_position",
    )
    assert _q(wh, "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'notice_log_%'") == [(0,)]
    # the views over the log still read it, and the next month runs on the rebuilt table
    assert _q(wh, "SELECT count(*) FROM notices") == [(len(rows),)]
    assert not ingest_batches([SAMPLE / "push" / "2026-12-incr"], wh, validate=False).refused
    run_month("2026-12", wh, out, validate=False)
    assert _q(wh, "SELECT count(*) FROM notice_log")[0][0] > len(rows)
    with connect(wh) as con:  # a second connection: nothing to rebuild
        assert warehouse.migrate_notice_log(con, warehouse.load_settings()) is False


def test_a_rebuild_that_fails_leaves_the_old_table_whole(tmp_path, monkeypatch):
    wh = Wh(tmp_path)
    p = wh.person(S=P + 4)
    wh.apply(path_rows(p, "CONCLUSION_ISSUED"))
    rows = wh.q("SELECT * FROM notice_log")
    to_old_notice_log(wh.path)
    failing_step(monkeypatch, "migrate_notice_log", "disk full (simulated) while copying the log")
    with pytest.raises(OSError, match="simulated"):
        with connect(wh.path):
            pass
    assert constraints(wh.path) == ["PRIMARY KEY", "UNIQUE"]
    assert wh.q("SELECT * FROM notice_log") == rows
    assert wh.q("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'notice_log_%'") == [(0,)]
