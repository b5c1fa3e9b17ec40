"""An office's *list* workbook (seventeenth session): one sheet of a list's rows and a 说明 sheet,
for a county officer — ``declarations/<office>/declarations.xlsx`` (:mod:`pipelines.declare`) and
``notifications/<office>/offline.xlsx`` (:mod:`pipelines.notify_files`).

Written by the worklist's writer (:mod:`pipelines.xlsx`; its module docstring says how): the caller's
rows are made once into a temporary table, under the connection's own settings (:data:`LIST_ROWS`);
XlsxWriter writes each office's workbook without its data rows (header, widths, frozen panes, filter,
print set-up, 说明, properties: the *template*), ONE DuckDB query makes the XML of every data row of every
office (the cells' values shown as the caller's SQL shows them: labels, Chinese texts), and its Arrow
batches are streamed into the templates (``xlsx._stream``, ``xlsx_book._Book``), under the writer's
memory bound (``xlsx.write_bounded``).  No Python per row.  Every text cell is a text cell (an
18-digit ID number or credit code is never a number a spreadsheet rounds); counts are numbers; long
texts wrap, their row as high as their lines.  Each file is written to a temporary name and renamed;
its properties and zip entries carry fixed dates, so a rerun writes the same bytes.

The caller's query (``rows``) gives, per row: ``_office`` (the office whose file holds it), ``_s`` and
``_e`` (its order in the file: ``_s`` NULLs last, then ``_e``, the order of the list's CSV) and
``c0 … c{n-1}``, the values as shown (text, or a number for a ``number`` column).
"""

from __future__ import annotations

import io
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .steps import sql_str
from .tabular import dictionary
from .xlsx import EXCEL_MAX_ROWS, WRITER_ROW_BYTES, Own, _limit, _stream, write_bounded
from .xlsx_book import _K_OFFICE, _Book, _sheet_name
from .xlsx_rows import _rows_select, _width
from .xlsx_sheets import _display_len, _Formats, _setup_print, display_len_sql

#: the explanation sheet of every list workbook
NOTE_SHEET = "说明"
#: the Chinese label of every code (pipelines.labels.label_rows: kind, code, label_zh), registered for
#: the lists' queries while their workbooks are written (:func:`code_labels_registered`)
CODE_LABELS = "_code_labels"
#: the caller's rows while its workbooks are written (:func:`write_list_workbooks`)
LIST_ROWS = "_xlsx_list_rows"
#: the writer's memory bound (pipelines.xlsx._limit) for a list's rows: WRITER_ROW_BYTES a row plus
#: this many times the bytes of their values.  A list's rows are wider than a worklist's (an offline
#: notice carries its SMS text, ≈ 500 bytes): 543,300 offline notices of 352 MiB (a first month of
#: 5,000,000 persons) ran out of memory at 133 MiB (256 bytes a row) and were written at 199 MiB;
#: this gives them 309 MiB (docs/benchmarks.md, twentieth session)
LIST_BYTES_FACTOR = 0.5


@contextmanager
def code_labels_registered(con):
    """``_code_labels`` (kind, code, label_zh): the one label table, as a view of an Arrow table."""
    import pyarrow as pa

    from .labels import label_rows

    rows = label_rows()
    con.register(
        CODE_LABELS,
        pa.table({n: [r[i] for r in rows] for i, n in enumerate(("kind", "code", "label_zh"))}),
    )
    try:
        yield
    finally:
        con.unregister(CODE_LABELS)


@dataclass(frozen=True)
class ListBook:
    """What a list workbook shows: its data sheet's name, the title in its properties, its columns
    (contract names: the headers come from data/dictionary.csv) with each one's kind (``text``,
    ``number`` or ``long``: wrapped), the columns kept on screen and on every printed page
    (``keep``: first and last, 0-based) and the 说明 sheet's lines for an office
    (``note(office, counts)``: (heading, text) pairs; ``counts``: its rows by the value of
    ``count_by``, the caller's column of the query)."""

    sheet: str
    title: str
    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    keep: tuple[int, int]
    note: object  # (office, {value: rows}) -> list[tuple[str, str]]
    count_by: str | None = None
    widths: dict = field(default_factory=dict)  # column → a fixed width (else: fitted to its values)


def write_list_workbooks(
    con,
    rows: str,
    paths: dict[str, Path],
    book: ListBook,
    *,
    month: str | None = None,
    settings=None,
    max_rows: int = EXCEL_MAX_ROWS,
) -> dict[str, int]:
    """Write ``paths[office]`` for every office of ``paths`` (an office without rows gets the
    workbook with its header and 说明) from the rows of ``rows``, which may read ``_code_labels``
    (registered here while they are written); returns the rows written per office.  ``month``
    (``YYYY-MM``) dates the files (its first day); ``settings`` gives DuckDB's memory limit."""
    created = datetime(int(month[:4]), int(month[5:7]), 1) if month else None
    memory_limit = (settings.duckdb_memory_limit or None) if settings else None
    for office in paths:
        if not re.fullmatch(r"[0-9]{6}", office):  # inlined in the queries below
            raise ValueError(f"not an office code: {office!r}")
    if len(book.columns) != len(book.kinds):
        raise ValueError("a kind for every column")
    offices = sorted(paths)
    if not offices:
        return {}
    tmps = {o: paths[o].with_name(paths[o].name + ".tmp") for o in offices}
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)

    def work(bound: bool, own: Own, used: list) -> dict[str, int]:  # (stats, sizes, counts: made below)
        if bound:
            n_rows = sum(s[0] for s in stats.values())
            used[0] = _limit(con, own, n_rows * WRITER_ROW_BYTES + sizes * LIST_BYTES_FACTOR)
        books = {}
        for o in offices:
            k, *lens = stats.get(o, (0,) + (None,) * len(book.columns))
            books[o] = _list_template(o, book, lens, k, counts[o], created, max_rows)
            books[o].tmp = tmps[o]
        return _stream(con, _rows_query(LIST_ROWS, offices, books, book, max_rows), offices, books)

    # The caller's rows made once, under the connection's own settings, before the writer's bound
    # (the statistics, the counts and the rows' XML then read a table; the statistics made once too,
    # not again on a retry): a list's query may join the whole push (the offline notices' persons),
    # and under the writer's bound and its joins taken as written that join's table did not fit (a first month of 5,000,000 persons: 543,300 offline
    # notices against 4,994,524 persons; docs/benchmarks.md, twentieth session).
    with code_labels_registered(con):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {LIST_ROWS} AS {rows}")
        try:
            stats, sizes, counts = _list_stats(con, book, offices)
            written = write_bounded(con, memory_limit, tmps, work)
        finally:
            con.execute(f"DROP TABLE IF EXISTS temp.main.{LIST_ROWS}")
    for o in offices:
        os.replace(tmps[o], paths[o])
    return written


def _list_stats(con, book: ListBook, offices: list[str]) -> tuple[dict, int, dict]:
    """Of the rows in :data:`LIST_ROWS`: per office its rows and the widths of its values as shown
    (a CJK character counts two); the bytes of all the values; per office its rows by the value of
    ``book.count_by``."""
    n = len(book.columns)
    widths = ", ".join(f"max({display_len_sql(f'CAST(c{i} AS VARCHAR)')})" for i in range(n))
    size = " + ".join(f"coalesce(strlen(CAST(c{i} AS VARCHAR)), 0)" for i in range(n))
    stats, sizes = {}, 0
    for office, values, *rest in con.execute(
        f"SELECT _office, sum({size}), count(*), {widths} FROM {LIST_ROWS} GROUP BY _office"
    ).fetchall():
        stats[office] = tuple(rest)  # its rows, then the widths
        sizes += values
    counts: dict[str, dict] = {o: {} for o in offices}
    if book.count_by:
        for o, v, k in con.execute(
            f"SELECT _office, {book.count_by}, count(*) FROM {LIST_ROWS} GROUP BY ALL ORDER BY ALL"
        ).fetchall():
            if o in counts:
                counts[o][v] = k
    return stats, sizes, counts


def _rows_query(table: str, offices: list[str], books: dict[str, _Book], book: ListBook, max_rows: int) -> str:
    """ONE query of every office's rows as the XML of their ``<row>`` elements, in the order of
    the files (office, then ``_s`` NULLs last, ``_e``), numbered as they come out of the sort
    (``row_number() OVER ()``: DuckDB's streaming window), each office's from its first row."""
    kinds = list(book.kinds)
    xf = books[offices[0]].xf
    assert all(b.xf == xf for b in books.values())  # the same formats, made in the same order
    longs = [c for c, k in enumerate(kinds) if k == "long"]
    # per office: its index, its first row among all, the long columns' widths (their lines)
    g0, values = 0, []
    for i, o in enumerate(offices):
        values.append(
            f"({i}, {sql_str(o)}, {g0}" + "".join(f", {max(1, int(books[o].widths[c]) - 4)}" for c in longs) + ")"
        )
        g0 += books[o].counts[0]
    d_cols = "".join(f", d{j}" for j in range(len(longs)))
    lines = (
        "greatest(1, "
        + ", ".join(f"coalesce(({display_len_sql(f'c{c}')} + d{j} - 1) // d{j}, 0)" for j, c in enumerate(longs))
        + ")"
        if longs
        else "1"
    )
    cs = ", ".join(f"r.c{i}" for i in range(len(kinds)))
    return f"""
        WITH w AS (SELECT * FROM (VALUES {", ".join(values)}) w(oi, office, g0{d_cols})),
        ordered AS (
            SELECT w.oi * {_K_OFFICE} AS k0, w.g0, r._s AS s_, r._e AS e_, {cs}{d_cols}
            FROM {table} r JOIN w ON w.office = r._office
            ORDER BY k0, s_ NULLS LAST, e_
        ),
        numbered AS (SELECT *, row_number() OVER () AS g FROM ordered),
        shown AS (
            SELECT k0 + (g - g0 - 1) // {max_rows} AS k, g - g0 AS rn, g, s_, e_,
                   CAST((g - g0 - 1) % {max_rows} + 2 AS VARCHAR) AS rs, false AS od,
                   {", ".join(f"c{i}" for i in range(len(kinds)))}{d_cols}
            FROM numbered
        ),
        made AS (SELECT *, {lines} AS lines FROM shown)
        SELECT {_rows_select("c", kinds, xf, heights=True)} AS x, k, rn, g, s_, e_ FROM made"""


def _list_template(office, book: ListBook, lens, n: int, counts: dict, created, max_rows) -> _Book:
    """The workbook of ``office`` without its data rows, written by XlsxWriter into memory."""
    import xlsxwriter

    names = dictionary()
    template = io.BytesIO()
    wb = xlsxwriter.Workbook(
        template,
        {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False},
    )
    wb.in_memory = True  # (pipelines.xlsx_book._template says why after the constructor)
    wb.set_properties({"title": f"{book.title} {office}", "created": created or datetime(2000, 1, 1)})
    fmts = _Formats(wb)
    xf = {key: f._get_xf_index() for key, f in fmts.cells.items()}
    widths: list[float] = []
    first, last = book.keep

    def data_sheet(part: int):
        ws = wb.add_worksheet(_sheet_name(book.sheet, part))
        for i, c in enumerate(book.columns):
            head = names[c]
            w = book.widths.get(c) or min(50.0, max(_width(lens[i]), min(len(head) * 2 + 2, len(head) + 3)))
            if part == 1:
                widths.append(float(w))
            ws.set_column(i, i, w, None if book.kinds[i] == "number" else fmts.text_col)
            ws.write_string(0, i, head, fmts.header)
        ws.set_row(0, 30)
        ws.freeze_panes(1, last + 1)
        _setup_print(ws, len(book.columns), repeat_cols=False)
        ws.repeat_columns(first, last)  # who the row is about, on every page across
        ws.fit_to_pages(1, 0)  # a list: all its columns on one page wide, as many pages down as it takes
        return ws

    parts = max(1, -(-n // max_rows))
    sheets = [data_sheet(p) for p in range(1, parts + 1)]
    for i, ws in enumerate(sheets):  # the filter covers exactly the rows of each sheet
        ws.autofilter(0, 0, max(min(max_rows, n - i * max_rows), 1), len(book.columns) - 1)
    _note_sheet(wb, fmts, book.note(office, counts))
    wb.close()
    part_of = {ws.name: f"xl/worksheets/sheet{k}.xml" for k, ws in enumerate(wb.worksheets(), start=1)}
    filled = {
        (0, i): (part_of[ws.name], min(max_rows, n - i * max_rows), len(book.columns))
        for i, ws in enumerate(sheets)
        if n - i * max_rows > 0
    }
    b = _Book(template.getvalue(), xf, widths, filled)
    b.counts = (n, 0)
    return b


def _note_sheet(wb, fmts, lines: list[tuple[str, str]]) -> None:
    """说明: a title, then (heading, text) rows, the text wrapped; printed on one page wide."""
    ws = wb.add_worksheet(NOTE_SHEET)
    ws.set_column(0, 0, 20)
    ws.set_column(1, 1, 90, fmts.wrap)
    ws.set_portrait()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    for r, (head, text) in enumerate(lines):
        if r == 0:
            ws.set_row(0, 24)
            ws.write_string(0, 0, head, fmts.title)
            continue
        n = -(-_display_len(text) // 86) if text else 1
        if n > 1:
            ws.set_row(r, 14 * n)
        if head:
            ws.write_string(r, 0, head, fmts.bold)
        if text:
            ws.write_string(r, 1, text, fmts.wrap)
