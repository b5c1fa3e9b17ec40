"""Issue 16 item 7: the workbook's data rows are made set-based in DuckDB (pipelines/xlsx.py), not
cell by cell in XlsxWriter. Whatever an officer or a spreadsheet program sees is unchanged: the
workbook is compared, part by part, with the one the cell-by-cell writer (tests/support/xlsx_reference.py,
the writer as first merged) makes from the same rows — every sheet's XML identical once the style
numbers are replaced by the styles they name (the new writer numbers the data cells' styles first).

Rows that take the careful path are covered: a formula-like first character, ``& < >``, control
characters, a literal ``_xHHHH_``, spaces at either end, a text over a cell's 32,767 characters,
overdue rows with empty cells, wrapped long text (row heights), several sheets past a row limit.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from datetime import datetime
from pathlib import Path

import duckdb
import openpyxl
import pytest
from support import xlsx_reference

from support.worklist import P_MI, worklist_row
from pipelines import DATA_DIR, xlsx
from pipelines.ingest import ingest_batches, load_applications
from pipelines.ledger import CLOSED_STAGES
from pipelines.monthly import run_month
from pipelines.outputs import WORKLIST_COLUMNS

SAMPLE = DATA_DIR / "sample"
COLS = [c.strip() for c in WORKLIST_COLUMNS.split(",")]
CREATED = datetime(2026, 11, 1)


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("setbased")
    wh, out = tmp / "w.duckdb", tmp / "out"
    assert not ingest_batches([SAMPLE / "push" / "2026-11-full"], wh, validate=False).refused
    load_applications(sorted((SAMPLE / "applications").glob("*.csv")), wh)
    run_month("2026-11", wh, out, validate=False)
    return wh


def _styles(xml: str) -> list[str]:
    """Each cell style (cellXfs) of styles.xml with the font, fill, border and number format it
    names written out."""

    def items(tag: str, group: str) -> list[str]:
        body = re.search(rf"<{group}[^>]*>(.*?)</{group}>", xml, re.S)
        return re.findall(rf"<{tag}\b(?:[^>]*/>|.*?</{tag}>)", body.group(1), re.S) if body else []

    fonts, fills, borders = items("font", "fonts"), items("fill", "fills"), items("border", "borders")
    fmts = dict(re.findall(r'<numFmt numFmtId="(\d+)" formatCode="([^"]*)"/>', xml))
    out = []
    for xf in items("xf", "cellXfs"):
        xf = re.sub(r'fontId="(\d+)"', lambda m: f"font={fonts[int(m.group(1))]}", xf)
        xf = re.sub(r'fillId="(\d+)"', lambda m: f"fill={fills[int(m.group(1))]}", xf)
        xf = re.sub(r'borderId="(\d+)"', lambda m: f"border={borders[int(m.group(1))]}", xf)
        xf = re.sub(r'numFmtId="(\d+)"', lambda m: f"fmt={fmts.get(m.group(1), m.group(1))}", xf)
        out.append(hashlib.sha1(xf.encode()).hexdigest()[:10])
    return out


def _parts(path: Path) -> dict[str, str | bytes]:
    """The workbook's parts; in the sheets, each style number replaced by the style it names."""
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    styles = _styles(parts.pop("xl/styles.xml").decode())
    for name in [n for n in parts if n.startswith("xl/worksheets/")]:
        text = parts[name].decode()
        parts[name] = re.sub(r'\b(s|style)="(\d+)"', lambda m: f'{m.group(1)}="{styles[int(m.group(2))]}"', text)
    return parts


def _both(con, tmp: Path, office: str, **kw) -> tuple[dict, dict, int, int]:
    new, ref = tmp / "new.xlsx", tmp / "ref.xlsx"
    args = dict(columns=COLS, created=CREATED, closed_stages=CLOSED_STAGES, **kw)
    n_new = xlsx.write_workbook(con, P_MI, office, new, **args)
    n_ref = xlsx_reference.write_workbook(con, P_MI, office, ref, **args)
    return _parts(new), _parts(ref), n_new, n_ref


def _same(new: dict, ref: dict) -> None:
    assert list(new) == list(ref)  # the same parts, in the same order
    for name in ref:
        if new[name] != ref[name]:
            a, b = new[name], ref[name]
            i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            pytest.fail(
                f"{name} differs at {i}:\n new {a[max(0, i - 200) : i + 200]!r}\n ref {b[max(0, i - 200) : i + 200]!r}"
            )


def test_every_office_of_the_sample_as_the_cell_by_cell_writer(wh, tmp_path):
    con = duckdb.connect(str(wh), read_only=True)
    offices = [r[0] for r in con.execute("SELECT DISTINCT office_code FROM worklist_rows ORDER BY 1").fetchall()]
    assert offices
    for office in offices:
        new, ref, n_new, n_ref = _both(con, tmp_path, office)
        assert n_new == n_ref
        _same(new, ref)
    con.close()


def test_all_offices_in_one_query_as_each_alone(wh, tmp_path):
    """The command line's run writes every office from one query; each file is the file written
    for its office alone, byte for byte."""
    con = duckdb.connect(str(wh), read_only=True)
    offices = [r[0] for r in con.execute("SELECT DISTINCT office_code FROM worklist_rows ORDER BY 1").fetchall()]
    paths = {o: tmp_path / "all" / f"{o}.xlsx" for o in offices + ["640999"]}  # one office without rows
    (tmp_path / "all").mkdir()
    counts = xlsx.write_workbooks(con, P_MI, paths, columns=COLS, created=CREATED, closed_stages=CLOSED_STAGES)
    for o in offices + ["640999"]:
        alone = tmp_path / f"{o}.xlsx"
        assert (
            xlsx.write_workbook(con, P_MI, o, alone, columns=COLS, created=CREATED, closed_stages=CLOSED_STAGES)
            == counts[o]
        )
        assert alone.read_bytes() == paths[o].read_bytes(), o
    assert counts["640999"] == 0
    assert openpyxl.load_workbook(paths["640999"]).sheetnames == [
        xlsx.WORKLIST_SHEET,
        xlsx.FEEDBACK_SHEET,
        xlsx.HELP_SHEET,
    ]
    assert not list((tmp_path / "all").glob("*.tmp"))
    con.close()


def _table(tmp: Path, wh: Path, rows: list[dict]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp / "t.duckdb"))
    con.execute(f"ATTACH '{wh}' AS src (READ_ONLY)")
    con.execute("CREATE OR REPLACE TABLE worklist_rows AS SELECT * FROM src.worklist_rows LIMIT 0")
    con.execute("DETACH src")
    for r in rows:
        con.execute(
            f"INSERT INTO worklist_rows ({', '.join(r)}) VALUES ({', '.join('?' for _ in r)})", list(r.values())
        )
    return con


def _row(i: int, **kw) -> dict:
    return worklist_row(i, **{"months_to_statutory": i - 3, **kw})


ODD = [
    dict(name='=HYPERLINK("http://x","y")'),
    dict(name="+1+2", overdue=True),
    dict(name="-3", responsible_officer="@SUM(A1)"),
    dict(name="\t制表", overdue=True, flags=""),
    dict(name="a & b <c> \"d\" 'e'"),
    dict(name="ctl\x01\x1f\x0b end\r"),
    dict(name="_x0041_ literal", responsible_officer="x_x00ZZ_"),
    dict(name=" 前空格", responsible_officer="后空格 "),
    dict(name="全角空格\u3000", responsible_officer="\u00a0nbsp"),
    dict(name="多行\n文字"),
    dict(name="\ufffe\uffff"),
    dict(name="长" * 33_000, overdue=True),
    dict(flag_evidence="ARREARS: arrears_months=19 | KEY_INFO_MISSING: phone missing; hukou_region missing " * 3),
    dict(
        flag_evidence="INSUFFICIENT_YEARS: projected 146 months (counted 146, not contributing) < minimum 180 for 2023"
    ),
    dict(stage="RETIRED", overdue=True),
    dict(name=""),
]


@pytest.mark.parametrize("max_rows", [xlsx.EXCEL_MAX_ROWS, 5, 1])
def test_odd_values_and_row_limits_as_the_cell_by_cell_writer(wh, tmp_path, max_rows):
    rows = [_row(i + 1, **kw) for i, kw in enumerate(ODD)]
    con = _table(tmp_path, wh, rows)
    new, ref, n_new, n_ref = _both(con, tmp_path, "640104", max_rows=max_rows)
    con.close()
    assert n_new == n_ref == len(rows)
    _same(new, ref)
    sheet = new["xl/worksheets/sheet1.xml"]
    if max_rows > len(rows):
        assert 'xml:space="preserve"' in sheet and "_x0001_" in sheet and "_x005F_x0041_" in sheet
        assert "&lt;c&gt;" in sheet and 'customHeight="1"' in sheet


def test_the_workbook_reads_the_same_in_openpyxl_and_calamine(wh, tmp_path):
    rows = [_row(i + 1, **kw) for i, kw in enumerate(ODD) if "长" not in kw.get("name", "")]
    con = _table(tmp_path, wh, rows)
    path = tmp_path / "w.xlsx"
    xlsx.write_workbook(con, P_MI, "640104", path, columns=COLS, created=CREATED, closed_stages=CLOSED_STAGES)
    con.close()
    ws = openpyxl.load_workbook(path)[xlsx.WORKLIST_SHEET]
    got = [c.value for c in ws["B"][1:]]
    assert got[:3] == ['=HYPERLINK("http://x","y")', "+1+2", "-3"]
    assert ws["B2"].data_type == "s" and ws["B2"].quotePrefix
    assert (
        got[7] == " 前空格"
        and ws.cell(9, COLS.index("responsible_officer") + 1).value == "后空格 "
        and got[9] == "多行\n文字"
    )
    pytest.importorskip("python_calamine")
    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(xlsx.WORKLIST_SHEET).to_python()
    assert [r[0] for r in sheet[1:]] == [r["id_no"] for r in rows]
    assert [r[1] for r in sheet[1:4]] == ['=HYPERLINK("http://x","y")', "+1+2", "-3"]


def test_a_failure_midway_leaves_no_file_and_no_temporary(wh, tmp_path, monkeypatch):
    """A failure while the rows stream (here: the third run of rows) leaves the offices' earlier
    workbooks as they were and no temporary file; the fetching thread ends."""
    import threading

    con = duckdb.connect(str(wh), read_only=True)
    offices = [r[0] for r in con.execute("SELECT DISTINCT office_code FROM worklist_rows ORDER BY 1").fetchall()]
    paths = {o: tmp_path / o / "worklist.xlsx" for o in offices}
    paths[offices[0]].parent.mkdir()
    paths[offices[0]].write_bytes(b"last month's")
    calls = []
    real = xlsx._text_buffer

    def failing(arr):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(arr)

    monkeypatch.setattr(xlsx, "_text_buffer", failing)
    with pytest.raises(OSError, match="disk full"):
        xlsx.write_workbooks(con, P_MI, paths, columns=COLS, created=CREATED, closed_stages=CLOSED_STAGES)
    assert paths[offices[0]].read_bytes() == b"last month's"
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "worklist.xlsx"]
    assert [p for p in paths.values() if p.exists()] == [paths[offices[0]]]
    assert not any(t.name == "xlsx-rows" for t in threading.enumerate())
    assert con.execute(f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{xlsx._EVIDENCE}'").fetchall() == [
        (0,)
    ]
    con.close()


def _plan_names(node: dict, under_build: bool = False, out: list | None = None) -> list:
    """(operator, is it under a hash join's build side, the table it scans) of a JSON plan."""
    out = [] if out is None else out
    info = node.get("extra_info", {})
    out.append((node["name"], under_build, str(info.get("Table", ""))))
    for i, child in enumerate(node.get("children", [])):
        _plan_names(child, under_build or (node["name"] == "HASH_JOIN" and i == 1), out)
    return out


def _while_streaming(con, tmp_path, monkeypatch) -> dict:
    """The rows' query plan (``plan``, EXPLAIN's JSON) and DuckDB's ``limit`` and ``threads`` as
    they are when office 640104's workbook starts streaming; nothing is written."""
    seen = {}

    class Seen(Exception):
        pass

    def capture(con, query, offices, books):
        seen["plan"] = con.execute("EXPLAIN (FORMAT json) " + query).fetchall()[0][1]
        seen["limit"], seen["threads"] = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads')"
        ).fetchall()[0]
        raise Seen

    monkeypatch.setattr(xlsx, "_stream", capture)
    with pytest.raises(Seen):
        xlsx.write_workbooks(
            con, P_MI, {"640104": tmp_path / "w.xlsx"}, columns=COLS, closed_stages=CLOSED_STAGES, memory_limit="1GB"
        )
    return seen


def test_the_rows_are_sorted_once_and_never_held_by_a_window_or_a_join(wh, tmp_path, monkeypatch):
    """The office_files task's peak (docs/benchmarks.md, ninth session): the rows' query has no
    window over the rows (only DuckDB's streaming row_number), one sort, and no hash table built on
    the worklist rows (built on the evidence texts and the offices); the settings that make it so
    hold while it runs and are put back after."""
    import json

    con = duckdb.connect(str(wh), read_only=True)
    con.execute("SET memory_limit = '1GB'")
    con.execute("SET threads = 2")
    settings = (
        "SELECT current_setting('memory_limit'), current_setting('disabled_optimizers'), current_setting('threads')"
    )
    before = con.execute(settings).fetchall()
    seen = _while_streaming(con, tmp_path, monkeypatch)
    ops = _plan_names(json.loads(seen["plan"])[0])
    names = [n for n, _, _ in ops]
    assert "WINDOW" not in names and names.count("STREAMING_WINDOW") == 1
    assert names.count("ORDER_BY") == 1
    assert not [t for n, build, t in ops if build and "worklist_rows" in t]
    assert xlsx._bytes(seen["limit"]) <= xlsx._bytes(xlsx.WRITER_MEMORY_LIMIT) and seen["threads"] == 1
    assert con.execute(settings).fetchall() == before
    assert not (tmp_path / "w.xlsx").exists() and not list(tmp_path.glob("*.tmp"))
    con.close()


def test_rows_needing_more_than_the_connection_has_are_written_under_its_limit_not_the_bound(wh, tmp_path, monkeypatch):
    """The CLI's run writes every office's workbook in one query: from ≈ 3.5 M persons its rows
    need more than the connection's limit. The writer then runs under the connection's limit and
    threads, not under WRITER_MEMORY_LIMIT, which ran out of memory every time and wrote all the
    workbooks twice (docs/benchmarks.md, twelfth session); two threads, not one (nineteenth session)."""
    con = duckdb.connect(str(wh), read_only=True)
    con.execute("SET memory_limit = '1GB'")
    con.execute("SET threads = 2")
    before = con.execute("SELECT current_setting('memory_limit')").fetchall()
    monkeypatch.setattr(xlsx, "WRITER_ROW_BYTES", 10**12)  # the rows of a large province at once
    seen = _while_streaming(con, tmp_path, monkeypatch)
    assert [(seen["limit"],)] == before and seen["threads"] == 2
    assert con.execute("SELECT current_setting('memory_limit')").fetchall() == before
    con.close()


def test_a_bound_too_small_writes_the_same_workbook_under_the_connections_limit(wh, tmp_path, monkeypatch, caplog):
    """DuckDB out of memory under the writer's bound: the workbook is written again under the
    connection's own limit (a warning says so), the same bytes; the settings are put back."""
    con = duckdb.connect(str(wh), read_only=True)
    args = dict(columns=COLS, created=CREATED, closed_stages=CLOSED_STAGES)
    xlsx.write_workbook(con, P_MI, "640104", tmp_path / "free.xlsx", **args)
    before = con.execute("SELECT current_setting('memory_limit')").fetchall()
    monkeypatch.setattr(xlsx, "WRITER_MEMORY_LIMIT", "1MB")
    monkeypatch.setattr(xlsx, "WRITER_ROW_BYTES", 0)
    monkeypatch.setattr(xlsx, "EVIDENCE_FACTOR", 0)
    with caplog.at_level("WARNING", logger="pipelines.xlsx"):
        n = xlsx.write_workbook(con, P_MI, "640104", tmp_path / "bound.xlsx", **args)
    assert n > 0 and "did not fit DuckDB's memory_limit 1MB" in caplog.text
    assert (tmp_path / "bound.xlsx").read_bytes() == (tmp_path / "free.xlsx").read_bytes()
    assert con.execute("SELECT current_setting('memory_limit')").fetchall() == before
    assert not list(tmp_path.glob("*.tmp"))
    con.close()


def test_rows_out_of_order_or_misnumbered_are_refused():
    """_stream's check of the rows' order (a row out of place would carry another's number): the
    numbers one by one across batches, the sort keys ascending with NULLs last within a sheet."""
    import pyarrow as pa

    def batch(g, k, s, e):
        return pa.record_batch(
            {
                "x": ["<row/>"] * len(g),
                "k": pa.array(k, pa.int64()),
                "rn": pa.array(g, pa.int64()),
                "g": pa.array(g, pa.int64()),
                "s_": pa.array(s, pa.string()),
                "e_": pa.array(e, pa.string()),
            }
        )

    last = xlsx._check_order(batch([1, 2, 3], [0, 0, 0], ["2027-01", "2027-01", None], ["b", "c", "a"]), None)
    assert last == (0, None, "a", 3)
    # the next sheet starts again from the smallest keys
    assert xlsx._check_order(batch([4, 5], [xlsx._K_SHEET] * 2, ["2026-01", None], ["z", "a"]), last)[3] == 5
    with pytest.raises(RuntimeError, match="numbered"):
        xlsx._check_order(batch([5, 6], [0, 0], [None, None], ["b", "c"]), last)
    with pytest.raises(RuntimeError, match="order of the files"):
        xlsx._check_order(batch([4], [0], ["2027-02"], ["a"]), last)  # a value after a NULL
    with pytest.raises(RuntimeError, match="order of the files"):
        xlsx._check_order(batch([1, 2], [0, 0], ["2027-01", "2027-01"], ["b", "b"]), None)
    with pytest.raises(RuntimeError, match="order of the files"):
        xlsx._check_order(batch([1, 2], [xlsx._K_SHEET, 0], ["2027-01", "2027-01"], ["a", "b"]), None)


def test_the_bytes_do_not_depend_on_how_the_rows_come_in_batches(wh, tmp_path, monkeypatch):
    """ISA-L's deflate output depends on how its input is split between calls (zlib's does not): the
    sheet's bytes are handed to it in pieces of a fixed size (xlsx_book.DEFLATE_PIECE), so a workbook
    is the same file whatever the batches DuckDB returns (its threads, the offices written with it) —
    the DAG's office task and the command line write the same bytes (nineteenth session's review)."""
    from pipelines import xlsx_book

    monkeypatch.setattr(xlsx_book, "DEFLATE_PIECE", 64 * 1024)  # pieces smaller than the sheet
    con = duckdb.connect(str(wh), read_only=True)
    args = dict(columns=COLS, created=CREATED, closed_stages=CLOSED_STAGES)
    files = []
    for rows in (2_000, 7, 333):
        monkeypatch.setattr(xlsx, "BATCH_ROWS", rows)
        xlsx.write_workbook(con, P_MI, "640104", tmp_path / f"b{rows}.xlsx", **args)
        files.append((tmp_path / f"b{rows}.xlsx").read_bytes())
    con.close()
    with zipfile.ZipFile(tmp_path / "b7.xlsx") as z:
        assert z.testzip() is None
        assert z.getinfo("xl/worksheets/sheet1.xml").file_size > 4 * 64 * 1024  # several pieces
    assert files[0] == files[1] == files[2]


def test_a_sheet_in_pieces_is_the_same_file_however_it_is_split(tmp_path):
    """xlsx_book._Pieces: 6 MiB of rows written in different splits (as Arrow batches of different
    sizes would) give the same zip file, which reads back whole; written straight to ISA-L without
    it, the splits give different files (why it is there)."""
    import random

    from pipelines import xlsx_book

    rnd = random.Random(7)
    rows = b"".join(
        f'<row r="{i}"><c r="A{i}" s="1" t="inlineStr"><is><t>{rnd.randrange(10**17, 10**18)}</t></is></c></row>'.encode()
        for i in range(2, 90_000)
    )
    assert len(rows) > 6 * 2**20

    def written(name: str, cuts: list[int], pieces: bool) -> bytes:
        info = zipfile.ZipInfo("xl/worksheets/sheet1.xml", date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with zipfile.ZipFile(tmp_path / name, "w") as z:
            fh = z.open(info, "w")
            xlsx_book._faster_deflate(fh)
            out = xlsx_book._Pieces(fh) if pieces else fh
            for a, b in zip([0, *cuts], [*cuts, len(rows)]):
                out.write(memoryview(rows)[a:b])
            out.close()
        with zipfile.ZipFile(tmp_path / name) as z:
            assert z.testzip() is None and z.read("xl/worksheets/sheet1.xml") == rows
        return (tmp_path / name).read_bytes()

    splits = [[], list(range(0, len(rows), 700_001))[1:], list(range(0, len(rows), 2_500_000))[1:], [5, 3_000_000]]
    assert len({written(f"p{i}.zip", c, True) for i, c in enumerate(splits)}) == 1
    assert len({written(f"r{i}.zip", c, False) for i, c in enumerate(splits)}) > 1
