"""The office's workbook ``worklists/<office>/worklist.xlsx`` (issue 16): a file to work in and send back.

Parquet and CSV stay the contract for systems; the workbook is for the county officer, in
Excel, WPS or LibreOffice:

* **工作台账** — the worklist's rows and columns in the CSV's order and Chinese headers
  (``data/dictionary.csv``).  Every text value — ID number, office and region codes, months,
  dates, officer ids — is a *text* cell (never a number a spreadsheet could round: an 18-digit
  ID number as a number loses its last digits); counts of months are numbers.  Codes are shown
  with their Chinese label (``data/labels.csv``), the flag evidence in Chinese.  Header frozen,
  autofilter, widths that fit, overdue rows marked, landscape A4 with the header (and the ID
  number and name) on every printed page.  An office beyond a sheet's row limit continues on
  ``工作台账(2)`` ….
* **反馈** — one row per open entry, prefilled (office, ID number as text, name, stage, due
  date), then the columns of docs/feedback-format.md with Chinese headers and drop-down lists
  of the Chinese labels; ``retire-prep feedback`` reads it back (``pipelines.feedback.xlsx``).
* **填报说明** — what each event needs, what each column takes, and the lists the drop-downs use.

How it is written (issue 16 item 7: XlsxWriter cell by cell, ≈ 6.7 µs of Python a cell, added
+416 % to the monthly run): XlsxWriter writes each workbook *without* the data rows of 工作台账 and
反馈 — headers, widths, styles, frozen panes, filters, print setup, drop-downs, 填报说明 and
properties, a few kB in memory — and ONE DuckDB query makes the XML of every data row of every
office (labels and the Chinese evidence included, set-based), exactly the XML XlsxWriter's
``constant_memory`` mode writes for those cells (inline strings; tests/test_xlsx_setbased.py
compares every part with the cell-by-cell writer, tests/xlsx_reference.py).  Its Arrow batches
are written into the templates' sheets as they come, deflated (level 1, ZIP_LEVEL) while DuckDB
makes the next batch: no Python per row, memory bounded by a few batches.  Each file is written to
a temporary name and renamed; its properties and its zip entries carry fixed dates, so a rerun
writes the same bytes.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from datetime import datetime
from pathlib import Path

from . import labels
from .tabular import dictionary
from .xlsx_rows import (  # noqa: F401 -- re-exported: the rows' SQL moved to xlsx_rows
    _EVIDENCE,
    _FORMULA_FIRST,
    _LABELLED,
    _LONG,
    _NUMBERS,
    _case,
    _col_letter,
    _rows_select,
    _shown,
    _width,
)
from .xlsx_sheets import (  # noqa: F401 -- re-exported: the sheets' set-up moved to xlsx_sheets
    EXTRA_FEEDBACK_ROWS,
    FEEDBACK_INPUT,
    FEEDBACK_PREFILLED,
    FEEDBACK_SHEET,
    HELP_SHEET,
    WORKLIST_SHEET,
    _feedback_sheet,
    _Formats,
    _help_sheet,
    _setup_print,
)

#: Excel's (and WPS's, LibreOffice's) last row is 1,048,576: one header row + this many data rows
EXCEL_MAX_ROWS = 1_048_575
#: rows of each Arrow batch fetched from DuckDB: a row of 工作台账 is ≈ 2.5 kB of XML and up to four
#: batches are alive (two queued, one written, one being made): 20,000 rows held ≈ 110 MiB more at the
#: office_files task's peak than 5,000, for no measurable time (docs/benchmarks.md "Offices' workbooks")
BATCH_ROWS = 5_000
#: deflate level of the workbook's parts (measured: docs/benchmarks.md, issue 16 item 7)
ZIP_LEVEL = 1


def _sheet_name(base: str, part: int) -> str:
    return base if part == 1 else f"{base}({part})"


def write_workbook(
    con,
    month_mi: int,
    office: str,
    path: Path,
    *,
    columns: list[str],
    created: datetime | None = None,
    max_rows: int = EXCEL_MAX_ROWS,
    closed_stages: tuple = (),
) -> int:
    """Write ``path`` (``worklist.xlsx``) for ``office`` from ``worklist_rows`` of ``month_mi``;
    returns the worklist rows written.  ``columns``: the worklist's columns in the CSV's order."""
    return write_workbooks(
        con, month_mi, {office: path}, columns=columns, created=created, max_rows=max_rows, closed_stages=closed_stages
    )[office]


def write_workbooks(
    con,
    month_mi: int,
    paths: dict[str, Path],
    *,
    columns: list[str],
    created: datetime | None = None,
    max_rows: int = EXCEL_MAX_ROWS,
    closed_stages: tuple = (),
) -> dict[str, int]:
    """Write the workbook of each office of ``paths`` (office → its ``worklist.xlsx``); returns the
    worklist rows written for each.  Each file is written to a temporary name and renamed.

    Set-based (issue 16 item 7: XlsxWriter's cell-by-cell Python cost +416 % of the monthly run):
    XlsxWriter writes each office's workbook without the data rows of 工作台账 and 反馈 (headers,
    widths, styles, frozen panes, filters, print setup, drop-downs, 填报说明, properties: its
    *template*, in memory); ONE DuckDB query makes the XML of every data row of every office's
    sheets (what XlsxWriter's ``constant_memory`` mode writes for those cells), in the order of the
    files; its Arrow batches are written into the templates' sheets as they come, compressed while
    DuckDB makes the next batch.  No Python per row: per batch, per run of rows of one sheet."""
    for office in paths:
        if not re.fullmatch(r"[0-9]{6}", office):  # inlined in the queries below
            raise ValueError(f"not an office code: {office!r}")
    offices = sorted(paths)
    if not offices:
        return {}
    codes = ", ".join(f"'{o}'" for o in offices)
    where = f"month_mi = {int(month_mi)} AND office_code IN ({codes})"
    # the flag evidence in Chinese, translated once per distinct text (38 rules: the costliest column)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_EVIDENCE} AS SELECT en, {labels.evidence_zh_sql('en')} AS zh "
        f"FROM (SELECT DISTINCT flag_evidence AS en FROM worklist_rows WHERE {where} AND flag_evidence IS NOT NULL)"
    )
    tmps = {o: paths[o].with_name(paths[o].name + ".tmp") for o in offices}
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        written = _write_all(con, offices, tmps, where, columns, created, max_rows, closed_stages)
    except BaseException:
        for t in tmps.values():
            t.unlink(missing_ok=True)
        raise
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_EVIDENCE}")
    for o in offices:
        os.replace(tmps[o], paths[o])
    return written


def _write_all(con, offices, tmps, where, columns, created, max_rows, closed_stages) -> dict[str, int]:
    source = f"worklist_rows LEFT JOIN {_EVIDENCE} ev ON ev.en = worklist_rows.flag_evidence"
    closed = ", ".join(f"'{s}'" for s in closed_stages) or "''"
    shown = [_shown(c) for c in columns]
    kinds = ["number" if c in _NUMBERS else "long" if c in _LONG else "text" for c in columns]
    # per office: its rows, its open entries (反馈), the widths of the values as shown (a CJK
    # character counts two) — one aggregate query
    stats = {
        r[0]: r[1:]
        for r in con.execute(
            f"SELECT office_code, count(*), count(*) FILTER (WHERE stage NOT IN ({closed})), "
            + ", ".join(f"max(length(v{i}) + (strlen(v{i}) - length(v{i})) // 2)" for i in range(len(columns)))
            + " FROM (SELECT office_code, stage, "
            + ", ".join(f"CAST({s} AS VARCHAR) AS v{i}" for i, s in enumerate(shown))
            + f" FROM {source} WHERE {where}) GROUP BY office_code"
        ).fetchall()
    }
    books = {}
    for o in offices:
        n, m, *lens = stats.get(o, (0, 0) + (None,) * len(columns))
        books[o] = _template(o, columns, kinds, lens, n, m, created, max_rows)
    for o in offices:
        books[o].tmp = tmps[o]
    xf = books[offices[0]].xf
    assert all(b.xf == xf for b in books.values())  # the same formats, made in the same order

    # the long columns' widths per office (wrapped text: the row's height follows its lines)
    longs = [c for c, k in enumerate(kinds) if k == "long"]
    per_office = ", ".join(
        f"({i}, '{o}'{''.join(f', {max(1, int(books[o].widths[c]) - 4)}' for c in longs)})"
        for i, o in enumerate(offices)
    )
    lines = (
        "greatest(1, "
        + ", ".join(
            f"coalesce((length(c{c}) + (strlen(c{c}) - length(c{c})) // 2 + w.d{j} - 1) // w.d{j}, 0)"
            for j, c in enumerate(longs)
        )
        + ")"
        if longs
        else "1"
    )
    order = "statutory_age_month, entry_id"
    fb_select = ["office_code", "id_no", "name", _case("stage", "stage"), "CAST(due_date AS VARCHAR)"]
    # the raw columns the shown values are made of: sorted, then shown (labels, Chinese evidence,
    # the text of every value) after the sort, which so moves codes and numbers, not their texts
    fb_raw = ["office_code", "id_no", "name", "stage", "due_date"]
    raw = list(dict.fromkeys([c for c in columns if c != "flag_evidence"] + fb_raw))
    shown_after = ["ev_zh" if c == "flag_evidence" else s for c, s in zip(columns, shown)]
    overdue_after = f"({shown_after[columns.index('overdue')]}) = '是'" if "overdue" in columns else "false"
    d_cols = "".join(f", d{j}" for j in range(len(longs)))
    query = f"""
        WITH w AS (SELECT * FROM (VALUES {per_office}) w(oi, office{d_cols})),
        -- each row's place in its sheets, numbered on the keys alone: a window over the wide rows
        -- holds them all at once (the office_files task's peak at 81,241 rows: 660 MiB with windows
        -- and the sort over the shown values, 530 numbering and sorting the raw ones, 465 so;
        -- docs/benchmarks.md "Offices' workbooks"); (month_mi, entry_id) is unique in worklist_rows
        keys AS (
            SELECT w.oi, worklist_rows.entry_id, row_number() OVER win AS rn,
                   CASE WHEN stage NOT IN ({closed})
                        THEN CAST(count(*) FILTER (WHERE stage NOT IN ({closed})) OVER win AS BIGINT) END AS frn
            FROM worklist_rows JOIN w ON w.office = worklist_rows.office_code WHERE {where}
            WINDOW win AS (PARTITION BY w.oi ORDER BY {order} ROWS UNBOUNDED PRECEDING)
        ),
        -- the rows in the order of the files: their raw values sorted, shown and made XML after
        ordered AS (
            SELECT keys.oi * {_K_OFFICE} + (keys.rn - 1) // {max_rows} AS k, keys.rn AS rn,
                   {", ".join(f"worklist_rows.{c} AS {c}" for c in raw)}, ev.zh AS ev_zh{"".join(f", w.d{j} AS d{j}" for j in range(len(longs)))}
            FROM {source} JOIN keys ON keys.entry_id = worklist_rows.entry_id JOIN w ON w.oi = keys.oi
            WHERE {where}
            UNION ALL
            SELECT keys.oi * {_K_OFFICE} + {_K_SHEET} + (keys.frn - 1) // {max_rows}, keys.frn,
                   {", ".join(f"worklist_rows.{c}" if c in fb_raw else "NULL" for c in raw)}, NULL{", NULL" * len(longs)}
            FROM worklist_rows JOIN keys ON keys.entry_id = worklist_rows.entry_id
            WHERE {where} AND keys.frn IS NOT NULL
            ORDER BY k, rn
        ),
        shown AS (
            SELECT k, rn, CAST((rn - 1) % {max_rows} + 2 AS VARCHAR) AS rs, coalesce({overdue_after}, false) AS od,
                   {", ".join(f"{x} AS c{i}" for i, x in enumerate(shown_after))},
                   {", ".join(f"{x} AS f{i}" for i, x in enumerate(fb_select))}{d_cols}
            FROM ordered
        ),
        made AS (
            SELECT *, {lines.replace("w.d", "d")} AS lines FROM shown
        )
        SELECT CASE WHEN k % {_K_OFFICE} < {_K_SHEET}
                    THEN {_rows_select("c", kinds, xf, heights=True)}
                    ELSE {_rows_select("f", ["text"] * len(fb_select), xf, heights=False)} END AS x, k, rn
        FROM made"""
    return _stream(con, query, offices, books)


#: the sheet of a row: office index × _K_OFFICE + (0 工作台账, 1 反馈) × _K_SHEET + part
_K_OFFICE = 1_000_000
_K_SHEET = 100_000


class _Book:
    """One office's workbook being written: its template (XlsxWriter's parts, in their order) copied
    into the file, the data rows of its sheets inserted as they come."""

    def __init__(self, template: bytes, xf: dict, widths: list[float], sheets: dict[tuple[int, int], tuple]):
        self.template, self.xf, self.widths = template, xf, widths
        self.sheets = sheets  # (sheet, part) → (zip part, rows, columns)
        self.rows: dict[tuple[int, int], int] = {}  # (sheet, part) → rows written
        self.tmp: Path | None = None
        self.zin = self.zout = self.fh = self.key = None

    def open(self) -> None:
        self.zin = zipfile.ZipFile(io.BytesIO(self.template))
        self.items = iter(self.zin.infolist())
        self.zout = zipfile.ZipFile(self.tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True)

    def close(self) -> None:
        """Close the files (after a failure: the caller removes the temporary file)."""
        for f in (self.fh, self.zout, self.zin):
            if f is not None:
                try:
                    f.close()
                except Exception:  # noqa: BLE001 — already failing; the first error is the one raised
                    pass
        self.zin = self.zout = self.fh = None

    def _info(self, item: zipfile.ZipInfo) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(item.filename, date_time=item.date_time)  # XlsxWriter's fixed date
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr, info.create_system = item.external_attr, item.create_system
        if hasattr(zipfile.ZipInfo, "compress_level"):  # (a public name from Python 3.13)
            info.compress_level = ZIP_LEVEL
        else:
            info._compresslevel = ZIP_LEVEL
        return info

    def _copy_until(self, name: str | None) -> zipfile.ZipInfo | None:
        for item in self.items:
            if item.filename == name:
                return item
            self.zout.writestr(self._info(item), self.zin.read(item.filename))
        if name is not None:
            raise RuntimeError(f"the template has no part {name}")  # parts come in the order of the sheets
        return None

    def sheet(self, key: tuple[int, int]) -> None:
        """Start the sheet ``key`` (its template's parts before it copied): its XML up to its rows."""
        self.close_sheet()
        part, rows, n_cols = self.sheets[key]
        item = self._copy_until(part)
        head, self.tail = self.zin.read(part).split(b"</sheetData>", 1)
        last = f"{_col_letter(n_cols - 1)}{rows + 1}".encode()  # the cells written: header and rows
        head = re.sub(rb'<dimension ref="A1:[A-Z]+1"/>', b'<dimension ref="A1:' + last + b'"/>', head, count=1)
        # a sheet past 4 GiB needs ZIP64 sizes, decided before its size is known (≈ 60 bytes a cell)
        self.fh = self.zout.open(self._info(item), "w", force_zip64=rows * n_cols > 30_000_000)
        self.fh.write(head)
        self.key = key
        self.rows[key] = 0

    def write(self, data, rows: int) -> None:
        self.fh.write(data)
        self.rows[self.key] += rows

    def close_sheet(self) -> None:
        if self.fh is not None:
            self.fh.write(b"</sheetData>" + self.tail)
            self.fh.close()
            self.fh = None

    def finish(self) -> int:
        """The rest of the template; returns the worklist rows written."""
        self.close_sheet()
        self._copy_until(None)
        self.zout.close()
        self.zin.close()
        self.zin = self.zout = None
        for key, (_, rows, _) in self.sheets.items():  # every row the counts announced, in its sheet
            if self.rows.get(key, 0) != rows:
                raise RuntimeError(f"sheet {key}: {self.rows.get(key, 0)} rows written, {rows} expected")
        return sum(r for (sheet, _), r in self.rows.items() if sheet == 0)


def _template(office, columns, kinds, lens, n: int, m: int, created, max_rows) -> _Book:
    """The workbook of ``office`` without its data rows, written by XlsxWriter into memory."""
    import xlsxwriter

    names = dictionary()
    template = io.BytesIO()
    wb = xlsxwriter.Workbook(
        template,
        {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False},
    )
    # the template's parts packaged in memory, not through a temporary file each (≈ 11 a workbook,
    # most of a small office's cost); set after the constructor, which would otherwise turn
    # constant_memory off: the sheets' inline strings stay, the bytes are the same
    wb.in_memory = True
    wb.set_properties({"title": f"退休预服务工作台账 {office}", "created": created or datetime(2000, 1, 1)})
    fmts = _Formats(wb)
    # the data cells' styles get their index now (XlsxWriter gives one to a format at its first cell)
    xf = {key: f._get_xf_index() for key, f in fmts.cells.items()}
    widths: list[float] = []

    def worklist_sheet(part: int):
        ws = wb.add_worksheet(_sheet_name(WORKLIST_SHEET, part))
        for i, c in enumerate(columns):
            head = names[c]
            # the header wraps (two lines): it asks for at most half its length
            w = min(50.0, max(_width(lens[i]), min(len(head) * 2 + 2, len(head) + 3)))
            if part == 1:
                widths.append(w)
            ws.set_column(i, i, w, None if kinds[i] == "number" else fmts.text_col)
            ws.write_string(0, i, head, fmts.header)
        ws.set_row(0, 30)
        ws.freeze_panes(1, 2)
        _setup_print(ws, len(columns))
        return ws

    parts = max(1, -(-n // max_rows))
    sheets = [worklist_sheet(p) for p in range(1, parts + 1)]
    for i, ws in enumerate(sheets):  # the filter covers exactly the rows of each sheet
        rows_here = min(max_rows, n - i * max_rows)
        ws.autofilter(0, 0, max(rows_here, 1), len(columns) - 1)
    # 反馈: one row per open entry
    fb_parts = max(1, -(-m // max_rows))
    fb_sheets = [
        _feedback_sheet(
            wb, fmts, _sheet_name(FEEDBACK_SHEET, p), min(max_rows, m - (p - 1) * max_rows) if m else 0, max_rows
        )
        for p in range(1, fb_parts + 1)
    ]
    _help_sheet(wb, fmts)
    wb.close()
    part_of = {ws.name: f"xl/worksheets/sheet{k}.xml" for k, ws in enumerate(wb.worksheets(), start=1)}
    filled = {}
    for i, ws in enumerate(sheets):
        if n - i * max_rows > 0:
            filled[(0, i)] = (part_of[ws.name], min(max_rows, n - i * max_rows), len(columns))
    n_fb = len(FEEDBACK_PREFILLED) + len(FEEDBACK_INPUT)
    for i, ws in enumerate(fb_sheets):
        if m - i * max_rows > 0:
            filled[(1, i)] = (part_of[ws.name], min(max_rows, m - i * max_rows), n_fb)
    return _Book(template.getvalue(), xf, widths, filled)


def _stream(con, query: str, offices: list[str], books: dict[str, _Book]) -> dict[str, int]:
    """Write every office's workbook from the rows of ``query`` (``x``: a row's XML, ``k``: its
    sheet, in the order of the files).  A thread fetches the Arrow batches (DuckDB works without
    the GIL) while this one writes and compresses them (zlib works without the GIL)."""
    import queue
    import threading

    import numpy as np

    batches: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():  # (the writer may have stopped: never wait for it forever)
            try:
                batches.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def fetch():
        try:
            for batch in con.sql(query).to_arrow_reader(BATCH_ROWS):
                if not put(batch):
                    return
        except BaseException as exc:  # handed to the writer
            put(exc)
            return
        put(None)

    t = threading.Thread(target=fetch, name="xlsx-rows", daemon=True)
    t.start()
    written: dict[str, int] = {}
    current: list = []  # [index, book] of the office being written

    def reach(oi: int) -> None:
        """Finish the files of the offices before office ``oi`` (those without rows too); begin its."""
        while not current or current[0] < oi:
            if current:
                written[offices[current[0]]] = current[1].finish()
            i = current[0] + 1 if current else 0
            current[:] = [i, books[offices[i]]]
            current[1].open()

    last = np.array([-1, 0], dtype=np.int64)  # (sheet, row) of the last row written
    try:
        while (batch := batches.get()) is not None:
            if isinstance(batch, BaseException):
                raise batch
            if not batch.num_rows:
                continue
            x, keys, rn = batch.column(0), batch.column(1).to_numpy(), batch.column(2).to_numpy()
            # the rows come in the order of the files (sheet by sheet, row by row): checked, not assumed
            k_all, rn_all = np.concatenate([last[:1], keys]), np.concatenate([last[1:], rn])
            dk, drn = np.diff(k_all), np.diff(rn_all)
            if not np.all((dk > 0) | ((dk == 0) & (drn > 0))):
                raise RuntimeError("the workbook rows did not come in the order of the files")
            last = np.array([keys[-1], rn[-1]], dtype=keys.dtype)
            cuts = [0, *(np.flatnonzero(keys[1:] != keys[:-1]) + 1).tolist(), len(keys)]
            for a, b in zip(cuts, cuts[1:]):  # runs of rows of one sheet
                k = int(keys[a])
                reach(k // _K_OFFICE)
                book = current[1]
                key = (k % _K_OFFICE // _K_SHEET, k % _K_SHEET)
                if book.fh is None or book.key != key:
                    book.sheet(key)
                book.write(_text_buffer(x.slice(a, b - a)), b - a)
        reach(len(offices) - 1)
        written[offices[-1]] = current[1].finish()
    finally:
        stop.set()
        t.join()
        for book in books.values():
            book.close()
    return written


def _text_buffer(arr) -> memoryview:
    """The bytes of every value of a string array, one after the other (its data buffer)."""
    if arr.null_count:
        raise ValueError("a sheet row's XML is NULL")
    if hasattr(arr, "combine_chunks"):
        arr = arr.combine_chunks()
    large = str(arr.type) in ("large_string", "large_utf8")
    _, offsets, data = arr.buffers()[:3]
    offs = memoryview(offsets).cast("q" if large else "i")
    start, end = offs[arr.offset], offs[arr.offset + len(arr)]
    return memoryview(data)[start:end] if data is not None else memoryview(b"")
