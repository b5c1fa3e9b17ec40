"""ledger_entries without its PRIMARY KEY and id_no index (issue 19, ninth session): the check that
replaced the key, in its writer; feedback's look-ups by rowid; the migration of an older warehouse.

DuckDB keeps the index entries a transaction inserts in memory until COMMIT: a FULL month of
25,000,000 persons opens ≈ 17 M entries, ≈ 2 GB of them, over the 3 GiB asked. The PRIMARY KEY
(entry_id) and the index on id_no are gone; the ledger stage's insert (sql/ledger/30_open.sql) is
followed, in its transaction, by sql/ledger/31_unique.sql (pipelines.ledger.check_unique): an
entry_id held twice would split a person's history (transitions, notices, conclusions are keyed by
it), so a duplicate is refused with one clear line and nothing of the stage committed. An older
warehouse's table is rebuilt without them on a writer's connection, every row kept.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines import DATA_DIR, ledger, warehouse
from pipelines import steps as steps_module
from pipelines.errors import DuplicateEntry, RetirePrepError
from pipelines.ingest import ingest_batches
from pipelines.monthly import run_month
from pipelines.warehouse import connect
from support.feedback import D0, P, Wh, path_rows, row
from support.old_schema import failing_step, ledger_keys, to_old_ledger_entries
from support.sample_world import first_sample_month
from support.warehouse import q as _q

SAMPLE = DATA_DIR / "sample"
ROOT = Path(__file__).resolve().parents[2]
ID_NO = re.compile(r"\d{17}[\dX]")


def _refused_in_one_line(exc: BaseException) -> None:
    text = str(exc)
    assert isinstance(exc, DuplicateEntry), repr(exc)
    assert "\n" not in text and "twice" in text and "nothing of this transaction is committed" in text
    assert not ID_NO.search(text), "the error names no person"


@pytest.fixture
def twice(monkeypatch):
    """After the ledger's insert (step 30_open), write one of the entries it inserted a second time
    (the anti-join against the ledger "lost")."""
    calls = []

    def observe(con, step, given):
        if step.name != "30_open" or calls:
            return
        calls.append(step.name)
        con.execute(
            "INSERT INTO ledger_entries SELECT * FROM ledger_entries "
            "WHERE entry_id = (SELECT min(entry_id) FROM _opening)"
        )

    monkeypatch.setattr(steps_module, "OBSERVERS", [*steps_module.OBSERVERS, observe])
    return calls


# ------------------------------------------------------------------------------ the schema


def test_a_new_warehouse_keeps_no_index_on_a_table_that_grows_by_millions(tmp_path):
    """Issue 19's survey: what keys and indexes a warehouse has, each on a table that one
    transaction grows by at most thousands of rows (docs/decisions.md "Issue 19 (ninth session)").
    A new index on the ledger, the log, the push, the screening or the worklists fails here."""
    wh = tmp_path / "w.duckdb"
    with connect(wh):
        pass
    assert ledger_keys(wh) == []
    keyed = _q(
        wh,
        "SELECT DISTINCT table_name FROM duckdb_constraints() WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE') "
        "UNION SELECT table_name FROM duckdb_indexes() ORDER BY 1",
    )
    assert [t for (t,) in keyed] == [
        "conclusions",  # a feedback file's conclusions
        "declaration_decisions",  # a declare month's decisions: persons reaching retirement in P
        "feedback_rows",  # a feedback file's rows
        "handovers",  # one month's office and benefit-place moves
        "notice_withdrawals",  # one run's withdrawn notices
        "objections",  # a feedback file's objections
        "push_batches",  # one row a batch
    ]


# ------------------------------------------------------------------------------ the writer


def test_the_ledger_stage_refuses_an_entry_written_twice_and_commits_nothing(tmp_path, twice):
    wh, out = first_sample_month(tmp_path)
    with pytest.raises(RetirePrepError) as e:
        run_month("2026-11", wh, out, validate=False)
    assert twice == ["30_open"]
    _refused_in_one_line(e.value)
    assert "1 entry_id(s)" in str(e.value)
    assert _q(wh, "SELECT count(*) FROM ledger_entries") == [(0,)]
    assert _q(wh, "SELECT count(*) FROM ledger_transitions") == [(0,)]
    assert _q(wh, "SELECT count(*) FROM handovers") == [(0,)]
    assert _q(wh, "SELECT status FROM month_runs WHERE command = 'run'") == [("FAILED",)]
    assert not (out / "2026-11").exists()
    # the same month without the fault: every entry once
    steps_module.OBSERVERS.remove(steps_module.OBSERVERS[-1])
    run_month("2026-11", wh, out, validate=False)
    n, ids = _q(wh, "SELECT count(*), count(DISTINCT entry_id) FROM ledger_entries")[0]
    assert n == ids > 10


def test_an_entry_id_of_the_ledger_opened_again_is_refused(tmp_path):
    """A duplicate against the entries of earlier months (a person_key collision, a lost anti-join):
    the ledger is read for the inserted ids, old and new rows alike."""
    wh = Wh(tmp_path)
    for s in range(4):
        wh.person(S=P + 4 + s)
    with wh.con() as con:
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE TEMP TABLE _opening AS SELECT * FROM ledger_entries LIMIT 3")
        ledger.check_unique(con, "_opening")  # the ledger as it is: fine
        con.execute("INSERT INTO ledger_entries SELECT * FROM _opening")
        with pytest.raises(DuplicateEntry) as e:
            ledger.check_unique(con, "_opening")
        con.execute("ROLLBACK")
    _refused_in_one_line(e.value)
    assert "3 entry_id(s)" in str(e.value)


def test_a_duplicate_within_one_insert_is_refused(tmp_path):
    """Two rows of one entry_id in what the stage inserts (the anti-join against the ledger cannot see it)."""
    wh = Wh(tmp_path)
    wh.person(S=P + 4)
    with wh.con() as con:
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE TEMP TABLE _new AS SELECT * REPLACE (entry_id || '-x' AS entry_id) FROM ledger_entries")
        con.execute("INSERT INTO _new SELECT * FROM _new")
        con.execute("INSERT INTO ledger_entries SELECT * FROM _new")
        with pytest.raises(DuplicateEntry) as e:
            ledger.check_unique(con, "_new")
        con.execute("ROLLBACK")
    assert "1 entry_id(s) twice" in str(e.value)


def test_every_insert_into_the_ledger_is_one_the_check_follows():
    """A new writer of ledger_entries must come with the check: the SQL that inserts into it is
    30_open.sql, which pipelines.ledger checks after (and the migration, which copies a ledger that was
    unique); no Python inserts into it; no UPDATE changes entry_id; nothing relies on a key that is
    gone (ON CONFLICT needs one)."""
    inserting = sorted(
        str(f.relative_to(ROOT / "sql"))
        for f in (ROOT / "sql").rglob("*.sql")
        if re.search(r"\b(insert|copy)\s+(or\s+\w+\s+)?(into\s+)?ledger_entries\b", f.read_text(encoding="utf-8"), re.I)
    )
    assert inserting == ["ledger/30_open.sql", "warehouse/migrate_ledger_entries.sql"]
    src = (ROOT / "pipelines" / "ledger.py").read_text(encoding="utf-8")
    assert re.search(r'STEPS\["30_open"\].*\n\s+check_unique\(con, "_opening"\)', src)
    assert (
        "_opening"
        in (ROOT / "sql" / "ledger" / "30_open.sql")
        .read_text(encoding="utf-8")
        .split("INSERT INTO ledger_entries")[1]
        .split(";")[0]
    )
    for f in (ROOT / "pipelines").rglob("*.py"):
        text = f.read_text(encoding="utf-8")
        assert not re.search(r"\b(insert|copy)\s+(or\s+\w+\s+)?(into\s+)?ledger_entries\b", text, re.I), f
    for f in (ROOT / "sql").rglob("*.sql"):
        text = re.sub(r"--[^\n]*", "", f.read_text(encoding="utf-8"))
        for m in re.finditer(r"\bupdate\s+ledger_entries\b\s+\w*\s*set\b(.*?);", text, re.I | re.S):
            changed = set(re.findall(r"(\w+)\s*=", re.split(r"\b(?:FROM|WHERE)\b", m.group(1), flags=re.I)[0]))
            assert "entry_id" not in changed, f
        for m in re.finditer(r"insert\s+into\s+ledger_entries\b(.*?);", text, re.I | re.S):
            assert "on conflict" not in m.group(1).lower(), f


# ------------------------------------------------------------------------------ feedback by rowid


def test_feedback_finds_each_row_s_entry_by_its_rowid_and_changes_no_other(tmp_path):
    """A person with a closed entry and an open one: the rows go to the open one, the updates by
    rowid change that entry only, and a rowid that is not the named entry's changes nothing."""
    wh = Wh(tmp_path)
    a, b = wh.person(S=P + 4), wh.person(S=P + 5)
    with wh.raw() as con:  # a's earlier enrolment, closed
        con.execute(
            "INSERT INTO ledger_entries (entry_id, id_no, office_code, opened_mi, opened_by, officer_id, stage, "
            "stage_since, due_date, closed_mi, close_reason) VALUES ('old-a', ?, ?, ?, 'PUSH', NULL, 'LEFT_PUSH', "
            "DATE '2025-01-01', NULL, ?, 'LEFT_PUSH')",
            [a.id_no, a.office, P - 24, P - 12],
        )
    others = "SELECT * FROM ledger_entries WHERE entry_id <> ? ORDER BY entry_id"
    before = wh.q(others, [a.entry_id])
    rep = wh.apply([row(a, "OFFICER_ASSIGNED", D0, officer_id="640104-02"), *path_rows(a, "CONCLUSION_ISSUED")])
    assert rep.refused == 0, rep
    assert wh.stage(a) == "CONCLUDED"
    assert wh.q(
        "SELECT officer_id, pre_review_office, closed_mi FROM ledger_entries WHERE entry_id = ?", [a.entry_id]
    ) == [("640104-02", "640104", None)]
    assert wh.q(others, [a.entry_id]) == before  # the closed entry and b's: untouched
    with wh.con() as con:
        from pipelines.feedback.queries import sql

        (rid_a,) = con.execute("SELECT rowid FROM ledger_entries WHERE entry_id = ?", [a.entry_id]).fetchone()
        con.execute(sql("entries", "set_officer"), {"officer_id": "X", "row_id": rid_a, "entry_id": b.entry_id})
    assert wh.q(others, [a.entry_id]) == before


# ------------------------------------------------------------------------------ the migration


def test_an_older_warehouse_is_rebuilt_without_the_key_every_row_kept(tmp_path):
    wh, out = first_sample_month(tmp_path)
    run_month("2026-11", wh, out, validate=False)
    rows = _q(wh, "SELECT * FROM ledger_entries")  # in the table's order
    assert len(rows) > 10
    n = to_old_ledger_entries(wh)
    assert n == len(rows) and ledger_keys(wh) == ["INDEX ledger_entries_by_person", "PRIMARY KEY"]
    assert _q(wh, "SELECT * FROM ledger_entries") == rows
    with connect(wh):  # a writer's connection rebuilds it
        pass
    assert ledger_keys(wh) == []
    assert _q(wh, "SELECT * FROM ledger_entries") == rows  # every row, every column, same order
    cols = "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'ledger_entries' ORDER BY ordinal_position"
    fresh = tmp_path / "fresh.duckdb"
    with connect(fresh):
        pass
    assert _q(wh, cols) == _q(fresh, cols)
    assert _q(wh, "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'ledger_entries_%'") == [(0,)]
    # the views over the ledger still read it, and the next month runs on the rebuilt table
    assert _q(wh, "SELECT count(*) FROM entry_status") == [(len(rows),)]
    assert not ingest_batches([SAMPLE / "push" / "2026-12-incr"], wh, validate=False).refused
    run_month("2026-12", wh, out, validate=False)
    assert _q(wh, "SELECT count(*) FROM ledger_entries")[0][0] >= len(rows)
    assert _q(wh, "SELECT count(*) - count(DISTINCT entry_id) FROM ledger_entries") == [(0,)]
    with connect(wh) as con:  # a second connection: nothing to rebuild
        assert warehouse.migrate_ledger_entries(con, warehouse.load_settings()) is False


def test_a_rebuild_that_fails_leaves_the_old_table_whole(tmp_path, monkeypatch):
    wh = Wh(tmp_path)
    wh.person(S=P + 4)
    rows = wh.q("SELECT * FROM ledger_entries")
    to_old_ledger_entries(wh.path)
    failing_step(monkeypatch, "migrate_ledger_entries", "disk full (simulated) while copying the ledger")
    with pytest.raises(OSError, match="simulated"):
        with connect(wh.path):
            pass
    assert ledger_keys(wh.path) == ["INDEX ledger_entries_by_person", "PRIMARY KEY"]
    assert wh.q("SELECT * FROM ledger_entries") == rows
    assert wh.q("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'ledger_entries_%'") == [(0,)]
