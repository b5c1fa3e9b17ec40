"""The office's receipt (回执) of a feedback file: what happened to its rows, in Chinese.

After ``feedback`` applies or refuses a file, :func:`write_receipt` writes
``<receipts>/<office>/<file stem>.回执.xlsx`` (docs/feedback-format.md "Receipt"): the counts (applied,
already applied, refused) and every refused row with its row number, event, date, the reason code's
Chinese label and a Chinese reason that says what to fix; a file refused whole gets one line, why and
what to do.  Below, the rows taken as sent again although they would change the entry's pre-service
now (``SENT_AGAIN``: identical to a row applied before; a genuine repeat needs a note), in a table of
their own.

* The texts are one table, ``data/labels.csv``: domain ``refusal`` (a code's label and its generic
  text), domain ``refusal_text`` (the texts keyed ``<code>`` or ``<code>.<detail>``, with ``{column}``,
  ``{event}``, ``{stage}``, ``{deadline}`` … filled in by :func:`reason_zh`).  The English ``reason``
  stays the division's (warehouse, log); ``feedback_rows.reason_zh`` keeps what the receipt shows.
* A receipt is derived from the warehouse (``feedback_files``, ``feedback_rows``), never from the
  run that wrote it: the same file applied again, or found again in the inbox, writes the same bytes
  (then the file is not touched); a receipt lost (disk full, deleted) is written again by the next
  ``feedback`` of the file.  A copy of an applied file under another name gets its own receipt saying
  it was not applied again, with the first time's results.
* Privacy: the receipt goes to the office only.  It names the ID number of a refused row only when
  the row's ledger entry is that office's (a row refused ``UNKNOWN_PERSON`` — no entry, or another
  office's person — shows the same text and no ID number); a row refused by its own checks
  (``MALFORMED`` …) gets its entry when its valid ID number names one of the office's
  (:meth:`.run.FileRun._own_entries`, one query per file).  Logs and the receipt name the file with the
  digits that may be an ID or mobile number masked (``contract.shown_file_name``), never a row's data.
  Identifiers are text cells (a spreadsheet mangles an 18-digit number).
"""

from __future__ import annotations

import io
import logging
import os
import re
from datetime import datetime
from pathlib import Path

from .. import labels
from ..contract import shown_file_name
from .queries import sql

log = logging.getLogger("pipelines.feedback")

#: the folder of a file refused before its office was known (no --office, rows of several offices)
NO_OFFICE = "_no_office"
SUFFIX = ".回执.xlsx"
SHEET = "回执"
HEADER = ("序号", "表格行", "事件", "发生日期", "公民身份号码", "退回原因", "原因代码", "说明（请按此改正）")
#: the table of the rows taken as sent again (SENT_AGAIN), below the refused rows
SENT_AGAIN_TITLE = "与此前已处理的行完全相同、本次未处理的行（请核对）"
SENT_AGAIN_HEADER = ("序号", "表格行", "事件", "发生日期", "公民身份号码", "处理情况", "代码", "说明")

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _param_zh(name: str, value, params: dict) -> str:
    """A parameter of a reason as the receipt shows it: codes as their Chinese labels."""
    if name == "column":
        return labels.label("feedback_column", value)
    if name == "columns":
        return "、".join(labels.label("feedback_column", c) for c in value)
    if name == "event":
        return labels.label("event", value)
    if name == "stage":
        return labels.label("stage", value)
    if name in ("expected", "given"):
        return labels.label("confirmer", value)
    if name == "values":
        domain = labels.FEEDBACK_VALUE_DOMAINS.get(params.get("column"), "")
        return "、".join(labels.label(domain, v) for v in value)
    return str(value)


def reason_zh(code: str, text: str | None, params: dict) -> str:
    """The Chinese reason of a refusal: the text ``text`` (else ``code``) of domain ``refusal_text``
    with its parameters filled in; a text whose parameter is not given falls back to the code's
    generic text (domain ``refusal``), never to an error."""
    t = labels.table()
    texts = t.get("refusal_text", {})
    entry = texts.get(text or code) or texts.get(code)
    if entry is not None:
        template = entry["zh"]
        names = _PLACEHOLDER.findall(template)
        if all(n in params for n in names):
            return _PLACEHOLDER.sub(lambda m: _param_zh(m.group(1), params[m.group(1)], params), template)
    generic = t.get("refusal", {}).get(code)
    return generic["help"] if generic else code


def code_label(code: str | None) -> str:
    return labels.label("refusal", code) if code else ""


def receipt_path(folder: Path, office: str | None, file_name: str, file_sha256: str = "") -> Path:
    """``<folder>/<office>/<file stem>.回执.xlsx`` (beside the office's other files of ``--out``).

    In ``_no_office/`` (the division's folder, no office to send it to yet) the stem's digits that may
    be an ID or mobile number are masked with ``#`` as the receipt's text masks them, and the file's
    hash follows so that two names alike but for those digits keep a receipt each (privacy probe)."""
    stem = Path(file_name).stem or "file"
    if office is None and shown_file_name(stem) != stem:
        stem = f"{shown_file_name(stem).replace('*', '#')}-{file_sha256[:8]}"
    return Path(folder) / (office or NO_OFFICE) / f"{stem}{SUFFIX}"


def _summary(f: dict, file_name: str) -> list[tuple[str, str]]:
    """The lines above the table: (label, text)."""
    when = f["processed_at"].strftime("%Y-%m-%d %H:%M") if f["processed_at"] else ""
    if f["status"] == "REFUSED":
        return [
            ("处理结果", "整个文件未处理（退回），文件中的任何一行都没有处理"),
            ("原因", f"{code_label(f['reason_code'])}：{f['reason_zh'] or reason_zh(f['reason_code'], None, {})}"),
            ("怎么办", "请按上述原因改正后，重新报送整个文件"),
            ("处理时间", when),
        ]
    again = f"（其中{f['sent_again']}行按当前环节本可办理，见下表“{SENT_AGAIN_TITLE}”）" if f["sent_again"] else ""
    counts = (
        f"共{f['rows']}行：已处理{f['accepted'] - f['already_applied']}行，"
        f"此前已处理、本次未重复处理{f['already_applied']}行{again}，退回{f['refused']}行"
    )
    lines = []
    if f["file_name"] != file_name:  # a copy of a file applied before, under another name
        lines.append(
            (
                "处理结果",
                f"与已处理的文件“{shown_file_name(f['file_name'])}”完全相同（{when}处理），本次未重复处理；以下是当时的处理结果",
            )
        )
    else:
        lines.append(("处理结果", "已处理"))
    lines += [("行数", counts), ("处理时间", when)]
    if f["refused"]:
        lines.append(
            (
                "怎么办",
                "退回的行未作任何处理。请按下表“说明”改正这些行后重新报送（可只报送改正的行；"
                "已处理的行再次报送不会重复处理）",
            )
        )
    else:
        lines.append(("怎么办", "全部行均已处理，没有退回的行"))
    if f["out_of_order"]:
        lines.append(
            (
                "排列顺序",
                f"有{f['out_of_order']}人的事件未按发生日期先后排列（表格按“事件”等其他列排序后会这样）：同一人的事件"
                "按表中自上而下的顺序处理，发生日期更早的事件排在后面时，前面的事件会被退回。请将“反馈”表按"
                "“发生日期”升序排序后重新报送整个文件（已处理的行不会重复处理）",
            )
        )
    if f["deadlines_open"]:
        lines.append(
            (
                "异议期限",
                f"有{f['deadlines_open']}人的异议期限待定：期限延至的年份，国务院节假日安排尚未录入工作日历。"
                "期间提出的异议按期内受理；录入后自动计算，并在台账清单“异议截止日期”中显示",
            )
        )
    if f["sent_again"]:
        lines.append(
            (
                "请核对",
                f"有{f['sent_again']}行与此前已处理的行完全相同，按重复报送处理，本次未处理（见下表）。"
                "如确为又一次发生的同一事件（如异议驳回后再次确认），请在“备注”栏注明后重新报送这些行",
            )
        )
    return lines


def _height(text: str, width: float) -> float:
    """The height of a row whose ``text`` wraps in ``width`` characters (a Chinese one counts two):
    set, as a spreadsheet does not grow a row written with a height of its own."""
    units = sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
    return 16.0 * max(1, -(-units // int(width)))


def _workbook(office: str | None, file_name: str, summary, tables, created: datetime) -> bytes:
    """The receipt's bytes: the summary lines, then each of ``tables`` — (title, header, rows) — that
    has rows (one piece: xlsxwriter's formats and cells, in the order they appear)."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buf, {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False, "in_memory": True}
    )
    wb.set_properties({"title": "退休预服务反馈回执", "created": created})
    title = wb.add_format({"bold": True, "font_size": 14})
    key = wb.add_format({"bold": True, "valign": "top"})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    text = wb.add_format({"num_format": "@", "valign": "top"})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"})
    ws = wb.add_worksheet(SHEET)
    for i, w in enumerate((8, 8, 16, 12, 22, 18, 26, 60)):  # 原因代码: OUTSIDE_FLEXIBLE_WINDOW whole
        ws.set_column(i, i, w, text if i in (0, 1, 3, 4, 6) else wrap)
    ws.write_string(0, 0, "退休预服务反馈文件处理回执", title)
    r = 2
    shown = shown_file_name(file_name)
    for k, v in [("经办机构", office or "（未能确定：文件中含多个机构或无法读取）"), ("文件", shown), *summary]:
        ws.write_string(r, 0, k, key)
        ws.merge_range(r, 1, r, 7, v, wrap)
        ws.set_row(r, _height(v, 130))
        r += 1
    frozen = False
    for name, header, rows in tables:
        if not rows:
            continue
        r += 1
        ws.write_string(r, 0, name, key)
        r += 1
        for c, h in enumerate(header):
            ws.write_string(r, c, h, head)
        if not frozen:
            ws.freeze_panes(r + 1, 0)
            frozen = True
        for row_no, event, event_date, code, zh, id_no in rows:
            r += 1
            ws.write_string(r, 0, str(row_no), text)
            ws.write_string(r, 1, str(row_no + 1), text)
            ws.write_string(r, 2, labels.label("event", event) if event else "", wrap)
            ws.write_string(r, 3, event_date.isoformat() if event_date else "", text)
            ws.write_string(r, 4, id_no or "", text)
            ws.write_string(r, 5, code_label(code), wrap)
            ws.write_string(r, 6, code or "", text)
            why = zh or reason_zh(code, None, {})
            ws.write_string(r, 7, why, wrap)
            ws.set_row(r, _height(why, 52))
        r += 1
    if frozen:
        r += 1
        ws.merge_range(
            r,
            0,
            r,
            7,
            "序号：表头之后的第几行；表格行：在表格软件中看到的行号（表头为第1行）。"
            "公民身份号码只对本机构台账中的人员显示。",
            wrap,
        )
        ws.set_row(r, 30)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    wb.close()
    return buf.getvalue()


def write_receipt(con, folder: Path, file_sha256: str, file_name: str, office: str | None) -> Path | None:
    """Write the receipt of the file recorded under ``file_sha256`` (its office ``office``), from the
    warehouse; atomically (a temporary file renamed over), untouched when its bytes are the same."""
    cur = con.execute(sql("files", "receipt_file"), {"file_sha256": file_sha256})
    r = cur.fetchone()
    if r is None:
        return None
    f = dict(zip([d[0] for d in cur.description], r))
    params = {"file_sha256": file_sha256, "office": office}
    tables = []
    for name, header, statement in (
        ("退回的行", HEADER, "receipt_rows"),
        (SENT_AGAIN_TITLE, SENT_AGAIN_HEADER, "receipt_sent_again"),
    ):
        rows = con.execute(sql("files", statement), params).fetchall()
        if office is None:  # nobody to show an ID number to
            rows = [(*x[:5], None) for x in rows]
        tables.append((name, header, rows))
    created = f["processed_at"] or datetime(2000, 1, 1)
    data = _workbook(office, file_name, _summary(f, file_name), tables, created)
    path = receipt_path(folder, office, file_name, file_sha256)
    if path.is_file() and path.read_bytes() == data:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # (two processes never share one)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("receipt written: %s/%s", office or NO_OFFICE, shown_file_name(path.name))
    return path
