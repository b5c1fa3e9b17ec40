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

#: Excel's (and WPS's, LibreOffice's) last row is 1,048,576: one header row + this many data rows
EXCEL_MAX_ROWS = 1_048_575
#: rows of each Arrow batch fetched from DuckDB
BATCH_ROWS = 20_000
#: empty rows below the prefilled ones in 反馈 that keep the drop-downs (more events for a person)
EXTRA_FEEDBACK_ROWS = 500

WORKLIST_SHEET = "工作台账"
FEEDBACK_SHEET = "反馈"
HELP_SHEET = "填报说明"

# worklist column → label domain (shown as its Chinese label)
_LABELLED = {
    "gender": "gender",
    "insurance_type": "insurance_type",
    "person_type": "person_type",
    "stage": "stage",
    "channel": "channel",
    "scope_rule": "scope_rule",
    "objection_status": "objection_status",
    "overdue": "overdue",
}
# worklist columns that are counts (numbers in the workbook); every other column is text
_NUMBERS = {
    "months_to_original",
    "months_to_statutory",
    "min_contribution_months",
    "counted_contribution_months",
    "projected_contribution_months",
    "delay_months",
}
# long free text, wrapped in its cell
_LONG = {"flag_evidence", "objection_missing_notice"}
_FORMULA_FIRST = ("=", "+", "-", "@", "\t", "\r")

# the 反馈 sheet: prefilled columns, then the feedback columns (docs/feedback-format.md)
FEEDBACK_PREFILLED = ("office_code", "id_no", "name", "stage", "due_date")
FEEDBACK_INPUT = (
    "event",
    "event_date",
    "officer_id",
    "result",
    "months",
    "items",
    "counted_months",
    "merge_status",
    "archive_conclusion",
    "base_data",
    "elected_month",
    "confirmer",
    "pre_review_office",
    "reason",
    "basis",
    "remedy",
    "note",
)
# feedback column → the label domain of its drop-down list
_DROPDOWNS = {
    "event": "event",
    "result": "result",
    "merge_status": "merge_status",
    "archive_conclusion": "archive_conclusion",
    "confirmer": "confirmer",
    "items": "item",
}


def _case(domain: str, expr: str) -> str:
    return labels.sql_label(domain, expr)


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


def _width(text_len: int | None) -> float:
    return float(min(50, max(6, (text_len or 0) + 2)))


class _Formats:
    def __init__(self, wb):
        base = {"font_name": "宋体", "font_size": 10, "valign": "top"}
        self.header = wb.add_format(
            {**base, "bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True, "num_format": "@"}
        )
        self.header_input = wb.add_format(
            {**base, "bold": True, "bg_color": "#FFF2CC", "border": 1, "text_wrap": True, "num_format": "@"}
        )
        self.cells = {}
        for overdue in (False, True):
            for kind in ("text", "quoted", "number", "long"):
                f = {**base}
                if kind == "long":
                    f["text_wrap"] = True  # evidence and notices: the whole text, on several lines
                if kind != "number":
                    f["num_format"] = "@"  # text: edited in place, it stays text
                if kind == "quoted":
                    f["quote_prefix"] = True  # shown as typed, never run as a formula
                if overdue:
                    f.update(bg_color="#F8CBAD", font_color="#9C0006")
                self.cells[(kind, overdue)] = wb.add_format(f)
        self.text_col = wb.add_format({**base, "num_format": "@"})
        self.title = wb.add_format({**base, "bold": True, "font_size": 14})
        self.wrap = wb.add_format({**base, "text_wrap": True})
        self.bold = wb.add_format({**base, "bold": True, "bg_color": "#D9E1F2", "border": 1})


def _setup_print(ws, n_cols: int, *, repeat_cols: bool = True) -> None:
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.repeat_rows(0)  # the header on every printed page
    if repeat_cols:
        ws.repeat_columns(0, 1)  # ID number and name on every page across
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.print_across()  # a band of rows with all its columns, then the next band
    ws.set_footer("&C第 &P 页，共 &N 页")
    ws.fit_to_pages(0, 0)


def _display_len(v: str) -> int:
    """Width of a text in character cells: a CJK character (3 UTF-8 bytes) counts two."""
    n = len(v)
    return n + (len(v.encode("utf-8")) - n) // 2


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


def _list_ranges() -> dict[str, str]:
    """domain → the range of its labels on 填报说明 (the drop-downs' source)."""
    out = {}
    for j, domain in enumerate(_DROPDOWNS.values()):
        col = chr(ord("H") + j)
        n = len(labels.codes(domain))
        out[domain] = f"='{HELP_SHEET}'!${col}$2:${col}${n + 1}"
    return out


def _feedback_sheet(wb, fmts, name: str, prefilled: int, max_rows: int):
    ws = wb.add_worksheet(name)
    t = labels.table()
    cols = list(FEEDBACK_PREFILLED) + list(FEEDBACK_INPUT)
    ranges = _list_ranges()
    last = min(max_rows, prefilled + EXTRA_FEEDBACK_ROWS)
    for i, c in enumerate(cols):
        entry = t["feedback_info"].get(c) or t["feedback_column"][c]
        head = entry["zh"]
        ws.write_string(0, i, head, fmts.header_input if c in FEEDBACK_INPUT else fmts.header)
        width = {
            "id_no": 22,
            "name": 10,
            "stage": 16,
            "due_date": 12,
            "office_code": 10,
            "event": 16,
            "event_date": 12,
            "items": 24,
            "base_data": 24,
            "reason": 20,
            "basis": 20,
            "remedy": 20,
            "note": 20,
        }.get(c, max(10, len(head) * 2 + 2))
        ws.set_column(i, i, width, fmts.text_col)  # typed values stay text (ID numbers, dates, months)
        if c in _DROPDOWNS:
            domain = _DROPDOWNS[c]
            opts = {
                "validate": "list",
                "source": ranges[domain],
                "input_title": head[:32],
                "input_message": (entry["help"] or "")[:255],
            }
            if c == "items":
                # several items are typed joined by ；: the list proposes, a typed list is allowed
                opts.update(
                    error_type="information",
                    error_title="缺失或存疑材料",
                    error_message="多项材料请用分号（；）分隔，名称须与下拉列表一致。",
                )
            else:
                opts.update(error_title=head[:32], error_message="请从下拉列表中选择。")
            ws.data_validation(1, i, last, i, opts)
        elif entry.get("help"):
            ws.data_validation(
                1, i, last, i, {"validate": "any", "input_title": head[:32], "input_message": entry["help"][:255]}
            )
    ws.freeze_panes(1, 3)
    ws.autofilter(0, 0, max(prefilled, 1), len(cols) - 1)
    _setup_print(ws, len(cols), repeat_cols=False)
    ws.repeat_columns(1, 2)
    return ws


def _help_sheet(wb, fmts) -> None:
    """填报说明: the instructions, what each event needs and each column takes, and the lists the
    drop-downs use (columns H…).  Cells are collected first and written row by row
    (``constant_memory`` writes each row once, in order)."""
    ws = wb.add_worksheet(HELP_SHEET)
    t = labels.table()
    cells: dict[tuple[int, int], tuple[str, object]] = {}
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 104, fmts.wrap)
    ws.set_column(2, 6, 2)
    ws.set_column(7, 7 + len(_DROPDOWNS), 18)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    r = 0
    cells[(r, 0)] = ("反馈表填报说明", fmts.title)
    r += 1
    intro = [
        "在“反馈”工作表填写：每行一个事件，按行的先后依次处理；同一人有多个事件时，复制该人所在行并插入在下方，按发生顺序填写。",
        "已预填的行（经办机构代码、公民身份号码、姓名、当前环节、办结时限）未选择“事件”的，不报送；姓名、当前环节、办结时限仅供核对。",
        "公民身份号码、日期、年月各列为文本格式：请勿改为数字或日期格式，否则18位号码会丢失末几位，该行将被拒收。",
        "代码列（事件、结果、归集状态、档案结论、确认方、材料）从下拉列表选择；多项材料用分号（；）分隔。也可填写英文代码。",
        "填好后保存为 .xlsx（不要另存为启用宏的 .xlsm，不要加密码），原样报送；也可另存为“CSV UTF-8”报送。",
        "被拒收的行不影响其他行；拒收原因按行号（即表格行号减1）列出。同一文件重复报送不会重复处理。",
    ]
    for line in intro:
        cells[(r, 0)] = ("•", fmts.text_col)
        cells[(r, 1)] = (line, fmts.wrap)
        r += 1
    r += 1
    cells[(r, 0)] = ("事件", fmts.bold)
    cells[(r, 1)] = ("需要填写", fmts.bold)
    r += 1
    for code, e in t["event"].items():
        cells[(r, 0)] = (e["zh"], fmts.text_col)
        cells[(r, 1)] = (f"{e['help']}（代码 {code}）", fmts.wrap)
        r += 1
    r += 1
    cells[(r, 0)] = ("列", fmts.bold)
    cells[(r, 1)] = ("说明", fmts.bold)
    r += 1
    for domain in ("feedback_info", "feedback_column"):
        for code, e in t[domain].items():
            cells[(r, 0)] = (e["zh"], fmts.text_col)
            cells[(r, 1)] = (f"{e['help']}（列名 {code}）", fmts.wrap)
            r += 1
    heads = {
        "event": "事件",
        "result": "结果",
        "merge_status": "归集状态",
        "archive_conclusion": "档案结论",
        "confirmer": "确认方",
        "item": "材料",
    }
    for j, domain in enumerate(_DROPDOWNS.values()):
        cells[(0, 7 + j)] = (heads[domain], fmts.bold)
        for i, code in enumerate(labels.codes(domain)):
            cells[(1 + i, 7 + j)] = (labels.label(domain, code), None)
    current = -1
    for row, col in sorted(cells):
        value, fmt = cells[(row, col)]
        if row != current:  # a row's height before its cells (constant_memory)
            current = row
            text = cells.get((row, 1), ("", None))[0]
            lines = -(-_display_len(text) // 100) if row > 0 else 1
            if lines > 1:
                ws.set_row(row, 14 * lines)
        ws.write_string(row, col, value, fmt)
    ws.print_area(0, 0, r, 1)  # the lists of H… are the drop-downs' source, not for print
