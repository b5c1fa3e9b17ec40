"""The analysts' file (issue 17 items 3–5): beside the warehouse, rebuilt after every writing
command and swapped in atomically, so an analyst's open session blocks no command.

One module fixture runs the sample's two months (tests/sample_world.py) while a separate Python
process holds a read-only session on the analysts' file from the end of the first month's run on;
the tests then look at what each side saw, and at the file itself.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from support import sample_world
from support.feedback import settled
from pipelines import PROJECT_ROOT
from pipelines.analysts import TABLES, analysts_path

# an analyst's session: opens the file once, answers each line on stdin with one JSON line
SESSION = r"""
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
print(json.dumps("open"), flush=True)
for line in sys.stdin:
    if line.strip() == "quit":
        break
    row = con.execute("SELECT max(month), sum(ledger_entries) FROM office_month").fetchone()
    print(json.dumps([row[0], int(row[1])]), flush=True)
con.close()
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("analysts")
    wh, out = tmp / "warehouse.duckdb", tmp / "out"
    ana = analysts_path(wh)
    seen, done, inodes = [], [], []
    session = None
    try:
        for name, step in sample_world.steps(wh, out):
            step()  # raises if the warehouse were locked by the session
            done.append(name)
            inodes.append(os.stat(ana).st_ino)
            if session is None and name == "run 2026-11":
                session = subprocess.Popen(
                    [sys.executable, "-c", SESSION, str(ana)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
                )
                assert json.loads(session.stdout.readline()) == "open"
            if session is not None:
                session.stdin.write("q\n")
                session.stdin.flush()
                seen.append((name, json.loads(session.stdout.readline())))
        session.stdin.write("quit\n")
        session.stdin.flush()
        assert session.wait(timeout=30) == 0
    finally:
        if session is not None and session.poll() is None:
            session.kill()
    return {"wh": wh, "out": out, "ana": ana, "seen": seen, "done": done, "inodes": inodes, "tmp": tmp}


@pytest.fixture()
def con(world):
    c = duckdb.connect(str(world["ana"]), read_only=True)
    yield c
    c.close()


def test_an_open_analyst_session_blocks_no_command(world):
    """Item 5: feedback, declare, ingest and run all succeed while a session is open on the file;
    the session keeps reading the version it opened; a new session sees the new month."""
    assert world["done"] == [n for n, _ in sample_world.steps(world["wh"], world["out"])]
    names = [n for n, _ in world["seen"]]
    assert names == ["run 2026-11", "feedback", "declare 2026-12", "ingest INCR", "run 2026-12"]
    first = world["seen"][0][1]
    assert first[0] == "2026-11"
    assert all(v == first for _, v in world["seen"])  # the version it opened, throughout
    fresh = duckdb.connect(str(world["ana"]), read_only=True)
    try:
        assert fresh.execute("SELECT max(month) FROM office_month").fetchone()[0] == "2026-12"
        assert fresh.execute("SELECT last_month_run, last_month_declared FROM about").fetchone() == (
            "2026-12",
            "2026-12",
        )
    finally:
        fresh.close()


def test_replaced_by_a_new_file_after_every_command(world):
    """A new file each time (os.replace), none left half-written beside it."""
    inodes = world["inodes"]  # the new file exists before the old one goes: never the same inode twice running
    assert all(a != b for a, b in zip(inodes, inodes[1:]))
    assert world["ana"].name == "warehouse.analysts.duckdb" and world["ana"].parent == world["wh"].parent
    # beside it only its stamp (pipelines/analysts.py _stamp: the file as the rebuild left it)
    assert sorted(p.name for p in world["ana"].parent.iterdir() if "analysts" in p.name) == [
        f".{world['ana'].name}.built",
        world["ana"].name,
    ]


def test_every_writing_command_and_dag_task_rebuilds_it():
    """The functions the CLI commands and the DAG tasks that write the warehouse call."""
    from pipelines import declare, feedback, ingest, monthly

    for fn in (
        ingest.ingest_batches,
        ingest.ingest_inbox,
        ingest.load_applications,
        monthly.run_month,
        monthly.stage_finish,
        declare.declare_month,
        feedback.apply_feedback_files,
    ):
        assert getattr(fn, "__wrapped__", None) is not None, fn.__name__


def test_tables_views_history_and_dictionary(con):
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {t for t, _ in TABLES} | {"offices", "code_labels", "dictionary", "about"} == tables
    # outputs.md views, as tables
    assert {"batches", "quarantine", "ledger_current", "flags_current", "notices", "office_progress"} <= tables
    # history per office and month, and flags per month
    assert con.execute("SELECT list(DISTINCT month ORDER BY month) FROM office_month").fetchone()[0] == [
        "2026-11",
        "2026-12",
    ]
    assert con.execute("SELECT count(DISTINCT month) FROM flags_month").fetchone()[0] == 2
    # every column of every table has its Chinese name and meaning
    cols = con.execute("SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal").fetchall()
    named = set(
        con.execute("SELECT table_name, column_name FROM dictionary WHERE name_zh <> '' AND meaning <> ''").fetchall()
    )
    assert set(cols) - named == set()
    assert all(re.search(r"[\u4e00-\u9fff]", z) for (z,) in con.execute("SELECT name_zh FROM dictionary").fetchall())


def test_office_month_is_what_the_worklists_published(world, con):
    """The history is the published worklists: the sum of an office's rows of 2026-12 is its file's."""
    csvs = sorted((world["out"] / "2026-12" / "worklists").glob("*/worklist.csv"))
    by_file = {p.parent.name: sum(1 for _ in p.open(encoding="utf-8-sig")) - 1 for p in csvs}
    hist = dict(
        con.execute(
            "SELECT office_code, ledger_entries FROM office_month WHERE month = '2026-12' AND ledger_entries > 0"
        ).fetchall()
    )
    assert hist == by_file


ID_RE = r"(^|[^0-9A-Za-z])[1-9][0-9]{5}(19|20)[0-9]{2}[01][0-9][0-3][0-9]{4}[0-9Xx]([^0-9A-Za-z]|$)"
PHONE_RE = r"(^|[^0-9A-Za-z])1[3-9][0-9]{9}([^0-9A-Za-z]|$)"


def test_no_id_number_name_or_phone(world, con):
    con.execute(f"ATTACH '{world['wh']}' AS w (READ_ONLY)")
    try:
        cols = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = "
            "current_database() AND data_type = 'VARCHAR'"
        ).fetchall()
        assert len(cols) > 40
        for t, c in cols:
            hits = con.execute(f"""
                SELECT count(*) FROM "{t}" WHERE regexp_matches("{c}", '{ID_RE}') OR regexp_matches("{c}", '{PHONE_RE}')
                   OR "{c}" IN (SELECT id_no FROM w.person_versions) OR "{c}" IN (SELECT name FROM w.person_versions)
                   OR "{c}" IN (SELECT phone FROM w.person_versions WHERE phone <> '')""").fetchone()[0]
            assert hits == 0, f"{t}.{c}"
    finally:
        con.execute("DETACH w")


def test_no_day_of_birth_from_the_id_number(con):
    """A BIRTH_DATE_CONFLICT's evidence gives the ID number's day of birth (eight of its digits):
    analysts get the months only (sql/warehouse/views.sql analysts_evidence)."""
    rows = con.execute("SELECT evidence FROM flags_current WHERE code = 'BIRTH_DATE_CONFLICT'").fetchall()
    assert rows, "the sample has birth-date conflicts"
    assert all(
        re.fullmatch(r"birth_date \d{4}-\d{2} vs ID number \d{4}-\d{2}( \(the days differ\))?", e) for (e,) in rows
    )
    assert not con.execute(
        "SELECT count(*) FROM flags_current WHERE regexp_matches(evidence, '[0-9]{4}-[0-9]{2}-[0-9]{2}')"
    ).fetchone()[0]


def recipes() -> list[tuple[str, str]]:
    text = (PROJECT_ROOT / "docs" / "analysts.md").read_text(encoding="utf-8")
    text = text.split("\n## Questions analysts ask", 1)[0]  # tests/analysts/test_analysts_questions.py
    out, title = [], None
    for part in re.split(r"(^### .*$)", text, flags=re.M):
        if part.startswith("### "):
            title = part[4:].strip()
        elif title:
            out += [(title, sql) for sql in re.findall(r"```sql\n(.*?)```", part, flags=re.S)]
    return out


def test_docs_have_ten_recipes():
    assert len(recipes()) == 10


@pytest.mark.parametrize("title,sql", recipes(), ids=[t.split(" (")[0] for t, _ in recipes()])
def test_recipe_runs_on_the_sample_and_returns_rows(con, title, sql):
    rows = con.execute(sql).fetchall()
    assert rows, title


def test_cli_rebuilds_by_hand(world):
    from support.pushkit import run_cli

    before = os.stat(world["ana"]).st_ino
    code, out, err = run_cli("analysts", "--warehouse", world["wh"])
    assert code == 0, err
    assert Path(out.strip()) == world["ana"] and os.stat(world["ana"]).st_ino != before


@pytest.mark.parametrize("table", ["ledger_current", "flags_current"])
def test_table_is_the_view(world, con, table):
    """sql/analysts/ledger_current.sql and flags_current.sql compute the view's rows their own (cheaper)
    way: the same rows."""
    con.execute(f"ATTACH '{world['wh']}' AS w (READ_ONLY)")
    try:
        cols = ", ".join(
            c
            for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = 'w' AND table_name = ? "
                "AND column_name <> 'overdue' ORDER BY column_index",
                [table],
            ).fetchall()
        )
        assert (
            con.execute(
                f"SELECT count(*) FROM (SELECT {cols} FROM {table} EXCEPT ALL SELECT {cols} FROM w.{table})"
            ).fetchone()[0]
            == 0
        )
        assert (
            con.execute(
                f"SELECT count(*) FROM (SELECT {cols} FROM w.{table} EXCEPT ALL SELECT {cols} FROM {table})"
            ).fetchone()[0]
            == 0
        )
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 1000
    finally:
        con.execute("DETACH w")


def test_the_feedback_task_rebuilds_once_for_all_its_offices(world, tmp_path, monkeypatch):
    """The feedback DAG applies one call per office folder: one rebuild after them all, not one each."""
    import shutil

    import pipelines.analysts as analysts
    from pipelines.orchestration import apply_feedback_inbox

    inbox = tmp_path / "inbox"
    files = sorted((sample_world.SAMPLE / "feedback").glob("*.csv"))
    for f in files:
        (inbox / f.stem.split("-")[1]).mkdir(parents=True, exist_ok=True)
        shutil.copy(f, inbox / f.stem.split("-")[1] / f.name)
        settled(inbox / f.stem.split("-")[1] / f.name)  # uploaded a while ago (the inbox takes settled files)
    calls = []
    real = analysts.rebuild
    monkeypatch.setattr(analysts, "rebuild", lambda wh, settings=None: calls.append(wh) or real(wh, settings))
    apply_feedback_inbox(inbox, world["wh"])
    assert len(files) > 1 and calls == [world["wh"]]


def test_a_refused_batch_is_in_the_rebuilt_file(world, tmp_path):
    """A refused command changed the warehouse too (the refusal is recorded): the file shows it,
    and the command still ends with its one-line reason (exit 2). Runs last: it adds to the world."""
    import shutil

    from support.pushkit import run_cli

    bad = tmp_path / "bad"
    shutil.copytree(sorted((sample_world.SAMPLE / "push").iterdir())[1], bad)
    with open(bad / "persons.csv", "ab") as fh:
        fh.write(b"\n")  # the bytes no longer match the manifest's hash
    code, _, err = run_cli("ingest", bad, "--warehouse", world["wh"])
    assert code == 2 and len(err.strip().splitlines()) == 1
    c = duckdb.connect(str(world["ana"]), read_only=True)
    try:
        assert c.execute("SELECT count(*) FROM batches WHERE status = 'REFUSED'").fetchone()[0] == 1
    finally:
        c.close()
