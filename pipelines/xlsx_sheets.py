"""The sheets' set-up of the office's workbook: its formats, the print set-up, and the 反馈 and
填报说明 sheets XlsxWriter writes (headers, widths, drop-downs, instructions).  Split out of
:mod:`pipelines.xlsx` (the module docstring there says how the workbook is written), which
re-exports the sheets' names.
"""

from __future__ import annotations

from . import labels
from .feedback.format import COLUMNS as FEEDBACK_COLUMNS


#: empty rows below the prefilled ones in 反馈 that keep the drop-downs (more events for a person)
EXTRA_FEEDBACK_ROWS = 500

WORKLIST_SHEET = "工作台账"
FEEDBACK_SHEET = "反馈"
HELP_SHEET = "填报说明"

# the 反馈 sheet: prefilled columns, then the feedback columns (docs/feedback-format.md)
FEEDBACK_PREFILLED = ("office_code", "id_no", "name", "stage", "due_date")
#: the feedback file's columns (docs/feedback-format.md) after the prefilled ones, in the file's order
FEEDBACK_INPUT = tuple(c for c in FEEDBACK_COLUMNS if c not in FEEDBACK_PREFILLED)
# feedback column → the label domain of its drop-down list
_DROPDOWNS = {
    "event": "event",
    "result": "result",
    "merge_status": "merge_status",
    "archive_conclusion": "archive_conclusion",
    "confirmer": "confirmer",
    "items": "item",
}


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


def display_len_sql(text: str) -> str:
    """:func:`_display_len` of the text SQL ``text``, as DuckDB SQL (the writers' widths and wrapped lines)."""
    return f"(length({text}) + (strlen({text}) - length({text})) // 2)"


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
        "同一人的多个事件按表中自上而下的顺序处理：需要排序时请按“发生日期”升序排序；按“事件”等其他列排序会打乱先后，排在前面而发生在后的事件将被退回。",
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
