"""ORACLE (tests only): the cell-by-cell XlsxWriter writer of issue 16 as first merged, kept
unchanged as the reference the set-based writer (pipelines/xlsx.py) is compared with, part by part.

The office's workbook ``worklists/<office>/worklist.xlsx`` (issue 16): a file to work in and send back.

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
  of the Chinese labels; ``retire-prep feedback`` reads it back (``pipelines.feedback_xlsx``).
* **填报说明** — what each event needs, what each column takes, and the lists the drop-downs use.

Rows are streamed from DuckDB in Arrow batches into XlsxWriter's ``constant_memory`` mode
(each row is flushed to disk as it is written): memory does not grow with an office's size.
Labels and the Chinese evidence are computed in SQL (set-based).  The file is written to a
temporary name and renamed; its properties carry a fixed date, so a rerun writes the same bytes.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from pipelines import labels
from pipelines.tabular import dictionary

# The sheet set-up and the constants are the production writer's own (the same code; what this
# reference keeps is the cell-by-cell writing of the rows, the part the set-based writer replaced).
from pipelines.xlsx import EXCEL_MAX_ROWS, BATCH_ROWS
from pipelines.xlsx_book import _sheet_name
from pipelines.xlsx_rows import _LABELLED, _NUMBERS, _LONG, _FORMULA_FIRST, _case, _width
from pipelines.xlsx_sheets import (  # noqa: F401
    EXTRA_FEEDBACK_ROWS,
    WORKLIST_SHEET,
    FEEDBACK_SHEET,
    HELP_SHEET,
    FEEDBACK_PREFILLED,
    FEEDBACK_INPUT,
    _DROPDOWNS,
    _Formats,
    _setup_print,
    _display_len,
    _list_ranges,
    _feedback_sheet,
    _help_sheet,
)


def _shown(col: str) -> str:
    """The SQL of a worklist column as the workbook shows it."""
    if col in ("flags", "entered_by"):  # code lists joined by ';'
        domain = "flag" if col == "flags" else "entered_by"
        return f"array_to_string(list_transform(string_split({col}, ';'), lambda x: {_case(domain, 'x')}), '；')"
    if col == "flag_evidence":
        return labels.evidence_zh_sql("flag_evidence")
    if col in _LABELLED:
        return _case(_LABELLED[col], col)
    if col == "statutory_age":  # 63y0m → 63岁0个月
        return r"regexp_replace(statutory_age, '^([0-9]+)y([0-9]+)m$', '\1岁\2个月')"
    if col in _NUMBERS:
        return col
    return f"CAST({col} AS VARCHAR)"


def _write_rows(
    ws,
    fmts,
    reader,
    first_row: int,
    kinds: list[str],
    overdue_at: int | None,
    limit: int,
    next_sheet,
    widths: list[float] | None = None,
) -> int:
    """Stream the batches of ``reader`` into ``ws`` (and continuation sheets from ``next_sheet()``
    past ``limit`` data rows); returns the rows written.  A row with wrapped long text gets the
    height of its lines (spreadsheets do not all size rows on opening)."""
    r = first_row
    total = 0
    cells = fmts.cells
    long_cols = [c for c, k in enumerate(kinds) if k == "long"] if widths else []
    for batch in reader:
        columns = [c.to_pylist() for c in batch.columns]
        for values in zip(*columns):
            if r - first_row >= limit:
                ws = next_sheet()
                r = first_row
            lines = 1
            for c in long_cols:
                if values[c]:
                    lines = max(lines, -(-_display_len(values[c]) // max(1, int(widths[c]) - 4)))
            if lines > 1:
                ws.set_row(r, 13.5 * min(lines, 30))
            od = bool(overdue_at is not None and values[overdue_at] == "是")
            for c, v in enumerate(values):
                if v is None or v == "":
                    if od:
                        ws.write_blank(r, c, None, cells[("text", od)])
                    continue
                if kinds[c] == "number":
                    ws.write_number(r, c, v, cells[("number", od)])
                else:
                    kind = "quoted" if v[0] in _FORMULA_FIRST else kinds[c]
                    ws.write_string(r, c, v, cells[(kind, od)])
            r += 1
            total += 1
    return total


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
    if not re.fullmatch(r"[0-9]{6}", office):  # inlined in the queries below
        raise ValueError(f"not an office code: {office!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        written = _write(
            con, month_mi, office, tmp, columns=columns, created=created, max_rows=max_rows, closed_stages=closed_stages
        )
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return written


def _write(con, month_mi: int, office: str, tmp: Path, *, columns, created, max_rows, closed_stages) -> int:
    import xlsxwriter

    names = dictionary()
    where = f"month_mi = {int(month_mi)} AND office_code = '{office}'"
    order = "ORDER BY statutory_age_month, entry_id"

    # widths from the values as shown (a CJK character counts two), one aggregate query
    shown = [_shown(c) for c in columns]
    lens = con.execute(
        "SELECT "
        + ", ".join(f"max(length(v{i}) + (strlen(v{i}) - length(v{i})) // 2)" for i in range(len(columns)))
        + " FROM (SELECT "
        + ", ".join(f"CAST({s} AS VARCHAR) AS v{i}" for i, s in enumerate(shown))
        + f" FROM worklist_rows WHERE {where})"
    ).fetchall()[0]

    wb = xlsxwriter.Workbook(
        str(tmp),
        {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False},
    )
    wb.set_properties({"title": f"退休预服务工作台账 {office}", "created": created or datetime(2000, 1, 1)})
    fmts = _Formats(wb)
    kinds = ["number" if c in _NUMBERS else "long" if c in _LONG else "text" for c in columns]
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

    n = con.execute(f"SELECT count(*) FROM worklist_rows WHERE {where}").fetchall()[0][0]
    parts = max(1, -(-n // max_rows))
    sheets = [worklist_sheet(p) for p in range(1, parts + 1)]
    for i, ws in enumerate(sheets):  # the filter covers exactly the rows of each sheet
        rows_here = min(max_rows, n - i * max_rows)
        ws.autofilter(0, 0, max(rows_here, 1), len(columns) - 1)

    # 反馈: one row per open entry
    closed = ", ".join(f"'{s}'" for s in closed_stages) or "''"
    fb_where = f"{where} AND stage NOT IN ({closed})"
    m = con.execute(f"SELECT count(*) FROM worklist_rows WHERE {fb_where}").fetchall()[0][0]
    fb_parts = max(1, -(-m // max_rows))
    fb_sheets = [
        _feedback_sheet(
            wb, fmts, _sheet_name(FEEDBACK_SHEET, p), min(max_rows, m - (p - 1) * max_rows) if m else 0, max_rows
        )
        for p in range(1, fb_parts + 1)
    ]
    _help_sheet(wb, fmts)

    it = iter(sheets[1:])
    reader = con.sql(
        "SELECT "
        + ", ".join(f"{s} AS c{i}" for i, s in enumerate(shown))
        + f" FROM worklist_rows WHERE {where} {order}"
    ).to_arrow_reader(BATCH_ROWS)
    overdue_at = columns.index("overdue") if "overdue" in columns else None
    written = _write_rows(sheets[0], fmts, reader, 1, kinds, overdue_at, max_rows, lambda: next(it), widths)

    fit = iter(fb_sheets[1:])
    fb_reader = con.sql(
        f"SELECT office_code, id_no, name, {_case('stage', 'stage')}, CAST(due_date AS VARCHAR) "
        f"FROM worklist_rows WHERE {fb_where} {order}"
    ).to_arrow_reader(BATCH_ROWS)
    _write_rows(fb_sheets[0], fmts, fb_reader, 1, ["text"] * 5, None, max_rows, lambda: next(fit))
    wb.close()
    return written
