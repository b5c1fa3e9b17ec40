"""The list workbooks' writer (pipelines/xlsx_list.py) on tiny inputs: the caller's query is made once.

Twentieth session: the offline notices' workbook of a first month at 5,000,000 persons was written
twice. Its query (the offline notices joined to the whole push's persons) ran three times under the
writer's 96 MB bound — the statistics, the counts, the rows — and its join's table did not fit there.
Now the caller's rows are made once, under the connection's own settings, into a temporary table the
three read (docs/benchmarks.md, twentieth session).
"""

from __future__ import annotations

import duckdb
import openpyxl
import pytest

import pipelines.xlsx_list as xl
from pipelines.xlsx_list import LIST_ROWS, ListBook, write_list_workbooks

BOOK = ListBook(
    sheet="名单",
    title="名单",
    columns=("id_no", "name"),
    kinds=("text", "text"),
    keep=(0, 1),
    note=lambda office, counts: [(f"名单 {office}", ""), ("本月条数", f"{sum(counts.values())} 条")],
    count_by="c1",
)


def _con(seen: list):
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT CASE WHEN i < 3 THEN '640104' ELSE '640105' END AS office, "
        "lpad(CAST(i AS VARCHAR), 18, '6') AS id, '名' || i AS nm FROM range(5) r(i)"
    )
    # a function that says when it is called: each call is a row the caller's query made
    con.create_function("_seen", lambda x: seen.append(x) or x, ["VARCHAR"], "VARCHAR", side_effects=True)
    return con


ROWS = "SELECT office AS _office, CAST(NULL AS VARCHAR) AS _s, id AS _e, _seen(id) AS c0, nm AS c1 FROM t"


def _tables(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]


def test_the_callers_query_is_made_once_for_every_office_and_its_table_dropped(tmp_path):
    seen: list = []
    con = _con(seen)
    paths = {o: tmp_path / o / "list.xlsx" for o in ("640104", "640105")}
    assert write_list_workbooks(con, ROWS, paths, BOOK, month="2026-11") == {"640104": 3, "640105": 2}
    assert sorted(seen) == sorted(r[0] for r in con.execute("SELECT id FROM t").fetchall())  # once a row
    assert LIST_ROWS not in _tables(con)
    ws = openpyxl.load_workbook(paths["640104"])["名单"]
    assert [r for r in ws.iter_rows(min_row=2, values_only=True)] == [
        ("666666666666666660", "名0"),
        ("666666666666666661", "名1"),
        ("666666666666666662", "名2"),
    ]


def test_a_failed_write_drops_the_table_and_leaves_no_file(tmp_path, monkeypatch):
    con = _con([])

    def fail(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(xl, "_stream", fail)
    paths = {"640104": tmp_path / "640104" / "list.xlsx"}
    with pytest.raises(RuntimeError, match="disk full"):
        write_list_workbooks(con, ROWS, paths, BOOK, month="2026-11")
    assert LIST_ROWS not in _tables(con)
    assert not list(tmp_path.rglob("*.xlsx*"))


def test_the_bound_grows_with_the_rows_and_the_bytes_of_their_values(tmp_path, monkeypatch):
    """A list's rows are wider than a worklist's (an offline notice carries its SMS text): the writer's
    bound is WRITER_ROW_BYTES a row plus LIST_BYTES_FACTOR times the bytes of the values."""
    need = []
    real = xl._limit
    monkeypatch.setattr(xl, "_limit", lambda con, own, n: need.append(n) or real(con, own, n))
    paths = {o: tmp_path / o / "l.xlsx" for o in ("640104", "640105")}
    write_list_workbooks(_con([]), ROWS, paths, BOOK, month="2026-11")
    values = 5 * (18 + len("名0".encode()))  # every row's ID number and name, in UTF-8 bytes
    assert need == [5 * xl.WRITER_ROW_BYTES + values * xl.LIST_BYTES_FACTOR]


class _Spy:
    """The connection, with what DuckDB's settings were when the caller's rows were made."""

    def __init__(self, con):
        self._con, self.at_create = con, None

    def execute(self, sql, *args):
        if sql.startswith(f"CREATE OR REPLACE TEMP TABLE {LIST_ROWS} "):
            self.at_create = self._con.execute(
                "SELECT current_setting('memory_limit'), current_setting('threads'), "
                "current_setting('disabled_optimizers')"
            ).fetchall()[0]
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_the_rows_are_made_under_the_connections_own_settings(tmp_path):
    """Not under the writer's bound (96 MB, one thread, the joins' sides as written): the caller's
    query may join the whole push, and DuckDB plans it as for the CSV."""
    con = _con([])
    con.execute("SET memory_limit = '500MB'")
    con.execute("SET threads = 2")
    own = con.execute(
        "SELECT current_setting('memory_limit'), current_setting('threads'), current_setting('disabled_optimizers')"
    ).fetchall()[0]
    spy = _Spy(con)
    write_list_workbooks(spy, ROWS, {"640104": tmp_path / "l.xlsx"}, BOOK, month="2026-11")
    assert spy.at_create == own and "build_side_probe_side" not in spy.at_create[2]


def test_a_bound_too_small_writes_again_from_the_same_table(tmp_path, monkeypatch, caplog):
    """Out of memory under the bound: written again under the connection's limit (xlsx.write_bounded),
    from the rows already made — the caller's query still made once — and the table dropped after."""
    seen: list = []
    con = _con(seen)
    real, calls = xl._stream, []

    def once_out_of_memory(*a, **k):
        calls.append(1)
        if len(calls) == 1:
            raise duckdb.OutOfMemoryException("Out of Memory Error: failed to pin block")
        return real(*a, **k)

    monkeypatch.setattr(xl, "_stream", once_out_of_memory)
    paths = {o: tmp_path / o / "list.xlsx" for o in ("640104", "640105")}
    with caplog.at_level("WARNING"):
        assert write_list_workbooks(con, ROWS, paths, BOOK, month="2026-11") == {"640104": 3, "640105": 2}
    assert len(calls) == 2 and "written again" in caplog.text
    assert len(seen) == 5  # once a row, over both attempts
    assert LIST_ROWS not in _tables(con)
    assert [r for r in openpyxl.load_workbook(paths["640105"])["名单"].iter_rows(min_row=2, values_only=True)] == [
        ("666666666666666663", "名3"),
        ("666666666666666664", "名4"),
    ]


def test_the_sql_width_of_a_text_is_the_python_one():
    """xlsx_sheets.display_len_sql (the writers' widths and wrapped lines in SQL) = _display_len."""
    from pipelines.xlsx_sheets import _display_len, display_len_sql

    texts = ["", "abc", "名单", "640104 宁夏·银川", "ｅ全角", "😀x"]
    con = duckdb.connect()
    got = [con.execute(f"SELECT {display_len_sql('t')} FROM (SELECT ? AS t)", [t]).fetchall()[0][0] for t in texts]
    assert got == [_display_len(t) for t in texts]
