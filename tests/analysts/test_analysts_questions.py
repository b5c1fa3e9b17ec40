"""The analysts' file as an analyst meets it (sixteenth session's probe): the questions of
docs/analysts.md "Questions analysts ask" run on the demo's file; the tables they need
(declarations, conclusions, objections) agree with the warehouse and the county files; the
dictionary says what each count covers; and a read-write session (DuckDB's CLI and DBeaver open
read-write unless told otherwise) neither changes what the next file holds nor breaks it.

The demo is built once for the module (≈ 15 s).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import subprocess
import sys
from collections import Counter

import duckdb
import pytest

from pipelines import PROJECT_ROOT
from pipelines.analysts import analysts_path, rebuild


def questions() -> list[tuple[str, str]]:
    text = (PROJECT_ROOT / "docs" / "analysts.md").read_text(encoding="utf-8")
    section = text.split("\n## Questions analysts ask", 1)[1]
    return [
        (title.strip(), sql)
        for title, body in re.findall(r"^### (.*?)\n(.*?)(?=^### |\Z)", section, flags=re.S | re.M)
        for sql in re.findall(r"```sql\n(.*?)```", body, flags=re.S)
    ]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from pipelines.demo import run_demo

    out = tmp_path_factory.mktemp("demo") / "out"
    with contextlib.redirect_stdout(io.StringIO()):
        assert run_demo(out, out / "warehouse.duckdb") == 0
    return out


@pytest.fixture()
def con(demo):
    c = duckdb.connect(str(analysts_path(demo / "warehouse.duckdb")), read_only=True)
    yield c
    c.close()


def test_the_docs_have_ten_questions():
    assert len({t for t, _ in questions()}) == 10


@pytest.mark.parametrize(
    "title,sql", questions(), ids=[f"{t.split('.')[0]}-{i}" for i, (t, _) in enumerate(questions())]
)
def test_question_runs_on_the_demo(con, title, sql):
    rows = con.execute(sql).fetchall()
    if "HAVING count(*) > 1" in sql:  # a notice sent twice: none
        assert rows == [], title
    elif "objections_open" not in sql:  # the demo's objections are all resolved
        assert rows, title


def test_declarations_are_the_published_declaration_files(demo, con):
    """declarations (new): per office and decision, the rows of OUT/2026-12/declarations/<office>/."""
    files = Counter()
    for p in (demo / "2026-12" / "declarations").glob("*/declarations.csv"):
        with p.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
        col = rows[0].index("筛查结论")
        files.update((p.parent.name, r[col]) for r in rows[1:])
    table = Counter(
        {
            (o, d): n
            for o, d, n in con.execute(
                "SELECT office_code, decision, count(*) FROM declarations WHERE month = '2026-12' GROUP BY ALL"
            ).fetchall()
        }
    )
    assert files and table == files


def test_conclusions_and_objections_are_the_warehouse_without_free_text(demo, con):
    con.execute(f"ATTACH '{demo / 'warehouse.duckdb'}' AS w (READ_ONLY)")
    try:
        for t in ("conclusions", "objections"):
            assert (
                con.execute(f"SELECT count(*) FROM {t}").fetchone()
                == con.execute(f"SELECT count(*) FROM w.{t}").fetchone()
            )
        assert con.execute("SELECT count(*) FROM objections WHERE status IN ('UPHELD', 'REJECTED')").fetchone()[0] == 2
        cols = {
            c
            for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                "AND table_name IN ('conclusions', 'objections', 'declarations')"
            ).fetchall()
        }
        # typed by an officer, or a file name: never in the analysts' file
        assert not cols & {
            "id_no",
            "name",
            "base_data",
            "reason",
            "basis",
            "remedy",
            "source",
            "superseded_reason",
            "note",
        }
    finally:
        con.execute("DETACH w")


def test_the_dictionary_says_what_each_count_covers(con):
    meaning = dict(
        ((t, c), m) for t, c, m in con.execute("SELECT table_name, column_name, meaning FROM dictionary").fetchall()
    )
    assert "every published month" in meaning[("office_progress", "notices_sent")]
    assert "day this file was built" in meaning[("office_progress", "overdue_entries")]
    assert "before the 1st of the month" in meaning[("office_month", "overdue_entries")]
    assert "NULL" in meaning[("notices", "segments")] and "NULL" in meaning[("notices", "offline_reason")]
    assert "TIMESTAMPTZ" in meaning[("month_runs", "started_at")]
    assert "every person screened" in meaning[("flags_month", "persons")]
    # every code column names the code_labels kind that labels it, and that kind has labels
    kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM code_labels").fetchall()}
    named = {k for m in meaning.values() for k in re.findall(r"code_labels kind (\w+)", m)}
    assert named and named <= kinds
    for kind, table, col in [
        ("decision", "declarations", "decision"),
        ("timeliness", "objections", "timeliness"),
        ("deadline_status", "conclusions", "deadline_status"),
    ]:
        unlabelled = con.execute(
            f"SELECT count(*) FROM {table} WHERE {col} IS NOT NULL AND {col} NOT IN "
            "(SELECT code FROM code_labels WHERE kind = ?)",
            [kind],
        ).fetchone()[0]
        assert unlabelled == 0, (table, col)


@pytest.fixture()
def copy_of_demo(demo, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(demo, ws, ignore=shutil.ignore_patterns("20*", "*.validation"))
    return ws


def test_a_read_write_sessions_changes_are_not_carried_on(copy_of_demo):
    """An analyst who opened the file read-write and changed a table: the next rebuild writes the
    file afresh (the upkeep would have kept the change in every later file)."""
    wh = copy_of_demo / "warehouse.duckdb"
    ana = analysts_path(wh)
    c = duckdb.connect(str(ana))  # read-write (as root the file's read-only mode does not stop it)
    c.execute("DELETE FROM office_month WHERE month = '2026-11'")
    c.execute("UPDATE notices SET channel = 'X'")
    c.close()
    rebuild(wh)
    c = duckdb.connect(str(ana), read_only=True)
    try:
        assert c.execute("SELECT list(DISTINCT month ORDER BY month) FROM office_month").fetchone()[0] == [
            "2026-11",
            "2026-12",
        ]
        assert c.execute("SELECT count(*) FROM notices WHERE channel = 'X'").fetchone()[0] == 0
    finally:
        c.close()


KILLED_SESSION = """
import duckdb, os, sys
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE scratch AS SELECT 42 AS x")
print("open", flush=True)
sys.stdin.readline()
os._exit(9)
"""


def test_a_killed_read_write_session_does_not_break_the_next_file(copy_of_demo):
    """A read-write session killed with its WAL pending across a rebuild: its WAL, left beside the
    new file, made every later open fail ("WAL … created for an older version") — for good."""
    wh = copy_of_demo / "warehouse.duckdb"
    ana = analysts_path(wh)
    s = subprocess.Popen(
        [sys.executable, "-c", KILLED_SESSION, str(ana)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert s.stdout.readline().strip() == "open"
        rebuild(wh)
        s.stdin.write("x\n")
        s.stdin.flush()
        s.wait(timeout=30)
    finally:
        if s.poll() is None:
            s.kill()
    rebuild(wh)  # the WAL the killed session left is the replaced file's
    c = duckdb.connect(str(ana), read_only=True)
    try:
        assert c.execute("SELECT last_month_run FROM about").fetchone()[0] == "2026-12"
        assert "scratch" not in {t for (t,) in c.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        c.close()


def test_the_file_is_read_only_on_disk(demo):
    assert os.stat(analysts_path(demo / "warehouse.duckdb")).st_mode & 0o222 == 0


def test_read_only_on_disk_keeps_who_may_read_it(copy_of_demo):
    """Only the write bits are taken away: under the service's umask 027 the file stays unreadable
    to others (0440), not opened to everyone by a fixed 0444."""
    wh = copy_of_demo / "warehouse.duckdb"
    old = os.umask(0o027)
    try:
        analysts_path(wh).unlink()
        rebuild(wh)
    finally:
        os.umask(old)
    assert os.stat(analysts_path(wh)).st_mode & 0o777 == 0o440
