"""Reading a county's workbook (``worklist.xlsx`` sent back) as feedback: the 反馈 sheet.

:func:`read_workbook` turns the sheet into exactly what the CSV path of
:mod:`pipelines.feedback.reading` consumes — ``(row_no, row dict or None)`` with the columns of
docs/feedback-format.md — and the rows are then applied as a CSV's are.  ``row_no`` is the
sheet row minus one (the header is row 1), as for a CSV (a spreadsheet row is ``row_no + 1``);
a continuation sheet ``反馈(2)`` … goes on counting after the rows of the sheets before it.

* Column names: English (any case) or the Chinese headers of ``data/labels.csv``; the columns
  the sheet prefills for reading (姓名, 当前环节, 办结时限) are dropped.  Unknown, repeated or
  missing required columns refuse the file (``BAD_HEADER``), as for a CSV.
* A prefilled row without an event, and nothing else filled in, is not a row.
* Cells: text as typed (NFKC, trimmed, as a CSV cell); a whole number as its digits; a date
  cell as ``YYYY-MM-DD`` (``YYYY-MM`` in ``elected_month``).
* An ID number cell a spreadsheet turned into a number (a numeric cell, scientific notation,
  fewer than 18 characters) is refused ``MALFORMED`` with a reason telling the officer to
  format the column as text: its digits are not the person's, and it is never matched.
* The whole file is refused, nothing applied, with one line: not an .xlsx workbook (damaged,
  an old .xls), password-protected (``ENCRYPTED``), macro-enabled (``MACRO_ENABLED``), or
  without the 反馈 sheet (``NO_FEEDBACK_SHEET``), 反馈 without its header (``EMPTY_FILE``), a
  continuation sheet with rows but no header in its row 1 (``BAD_HEADER``: its rows would be
  lost; one with nothing in it is passed over).

Read with openpyxl in read-only mode (rows streamed from the file, values only).
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime, time
from pathlib import Path

from .. import labels
from ..contract import shown_column_names, shown_text
from .format import COLUMNS, CONTROL_CHARACTERS, MAX_CELL, REQUIRED_COLUMNS, _cell, _norm, _Refuse, _Why

FEEDBACK_SHEET = "反馈"
#: the names of a workbook (read, or refused as a workbook with what to do): Excel's, WPS's (.et), and
#: what an officer's Save As may choose instead of .xlsx (OpenDocument .ods/.fods, Excel's binary .xlsb)
SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm", ".xls", ".xlsb", ".et", ".ods", ".fods")
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SCIENTIFIC = re.compile(r"^[0-9]+(\.[0-9]+)?[eE][+-]?[0-9]+$")
_CONTINUATION = re.compile(rf"^{FEEDBACK_SHEET}\(([0-9]+)\)$")

#: the unpacked size of a workbook accepted back (zip parts as declared, which zipfile enforces):
#: an office of 50,000 open entries sends ~100 MB; a 1 MB "zip bomb" unpacking to 1 GB took 1 GB of
#: memory to read (review of issue 16)
MAX_UNPACKED = 400 << 20

ID_AS_NUMBER = (
    "id_no: the spreadsheet turned the ID number into a number and changed its digits; "
    "format the column as text (文本) and type the 18 characters again"
)


def is_workbook(path: Path, head: bytes = b"") -> bool:
    """A workbook by its name (.xlsx, .xlsm, .xls …) or its first bytes (a zip or an OLE file)."""
    return Path(path).suffix.lower() in SUFFIXES or head.startswith(_ZIP) or head.startswith(_OLE)


def _refuse(code: str, reason: str, text: str | None = None, **params):
    return _Refuse(code, reason, text=text, **params)


#: a zip that is a spreadsheet but no .xlsx, refused with the Save As that makes one (LibreOffice
#: names the filter "Excel 2007-365 (.xlsx)", Excel and WPS "Excel 工作簿 (.xlsx)")
_SAVE_AS_XLSX = {
    "ods": lambda: _refuse(
        "NOT_XLSX",
        "an OpenDocument spreadsheet (.ods), not an .xlsx workbook: save it as Excel 2007-365 (.xlsx)",
        "NOT_XLSX.ods",
    ),
    "xlsb": lambda: _refuse(
        "NOT_XLSX", "an Excel binary workbook (.xlsb), not an .xlsx workbook: save it as .xlsx", "NOT_XLSX.xlsb"
    ),
}


def _other_kind(z: zipfile.ZipFile, parts: set) -> str | None:
    """``ods`` (OpenDocument: its first part ``mimetype`` names it) or ``xlsb``, else None."""
    if "mimetype" in parts and z.read("mimetype")[:80].startswith(b"application/vnd.oasis.opendocument"):
        return "ods"
    return "xlsb" if "xl/workbook.bin" in parts else None


def _open(data: bytes, name: str):
    """The workbook (openpyxl, read-only) — or a whole-file refusal."""
    if data.startswith(_OLE):
        if "EncryptionInfo".encode("utf-16-le") in data or "EncryptedPackage".encode("utf-16-le") in data:
            raise _refuse("ENCRYPTED", "the workbook is password-protected: save it without a password")
        raise _refuse(
            "NOT_XLSX", "an old .xls or another binary file, not an .xlsx workbook: save as .xlsx", "NOT_XLSX.old_xls"
        )
    if not data.startswith(_ZIP):
        if b"opendocument.spreadsheet" in data[:4096] or Path(name).suffix.lower() == ".fods":
            raise _SAVE_AS_XLSX["ods"]()  # LibreOffice's flat XML .fods
        if data[:4096] and b"\x00" not in data[:4096]:  # a text file (a CSV renamed): say so
            raise _refuse(
                "NOT_XLSX", "a text file (CSV?) named as a workbook, not an .xlsx: send it named .csv", "NOT_XLSX.text"
            )
        raise _refuse("NOT_XLSX", "not an .xlsx workbook (damaged, or another kind of file)", "NOT_XLSX.damaged")
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        parts = set(z.namelist())
        types = z.read("[Content_Types].xml") if "[Content_Types].xml" in parts else b""
    except (zipfile.BadZipFile, OSError, KeyError, EOFError, ValueError):
        raise _refuse("NOT_XLSX", "not an .xlsx workbook (damaged)", "NOT_XLSX.damaged") from None
    if (
        any(p.lower().endswith("vbaproject.bin") for p in parts)
        or b"macroEnabled" in types
        or Path(name).suffix.lower() in (".xlsm", ".xltm")
    ):
        raise _refuse("MACRO_ENABLED", "a macro-enabled workbook is not accepted: save as .xlsx (工作簿), not .xlsm")
    if sum(i.file_size for i in z.infolist()) > MAX_UNPACKED:  # the zip's sizes bound what is read
        raise _refuse(
            "NOT_XLSX",
            f"the workbook unpacks to more than {MAX_UNPACKED >> 20} MB, far more than an office's worklist: "
            "send the 反馈 sheet alone, or as CSV",
            "NOT_XLSX.too_big",
            mb=MAX_UNPACKED >> 20,
        )
    kind = _other_kind(z, parts)
    if kind:
        raise _SAVE_AS_XLSX[kind]()
    if "xl/workbook.xml" not in parts:
        raise _refuse("NOT_XLSX", "not an .xlsx workbook (no workbook part)", "NOT_XLSX.damaged")
    import openpyxl

    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise _refuse(
            "NOT_XLSX", f"not a readable .xlsx workbook ({exc.__class__.__name__})", "NOT_XLSX.damaged"
        ) from None


#: the columns of a day or a month, and the days a number there is read as (a spreadsheet's serial)
_DATE_COLUMNS = ("event_date", "elected_month")
_SERIAL_DAYS = (date(2000, 1, 1), date(2099, 12, 31))


def _day(v, col: str, epoch) -> date | None:
    """A number in a day or month column as the day it stands for, or None.

    A date typed into a text cell stays text; but a date that reaches a text cell otherwise — Paste
    Special › values only, a macro or an add-in writing the cell (LibreOffice's ``setFormula``) — is
    stored as the spreadsheet's serial number of the day (46359 for 2026-12-03), kept a number by the
    text format and shown as one.  It is read as the day in the workbook's date system (``epoch``:
    1900, or 1904 for workbooks saved so) when that day is within 2000–2099: a smaller number (300, a
    year typed as 2027) or a larger one (20261203) is no day anyone meant, and stays digits (refused
    as not ``YYYY-MM-DD``)."""
    if col not in _DATE_COLUMNS or isinstance(v, bool) or not isinstance(v, (int, float)) or epoch is None:
        return None
    from openpyxl.utils.datetime import from_excel

    try:
        day = from_excel(v, epoch).date()
    except (OverflowError, ValueError, TypeError):
        return None
    return day if _SERIAL_DAYS[0] <= day <= _SERIAL_DAYS[1] else None


def _text(v, col: str, epoch=None) -> str | None:
    """A cell as the CSV path would see it."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    day = _day(v, col, epoch)
    if day is not None:
        v = day
    if isinstance(v, datetime):
        if v.time() == time(0) or col in ("elected_month", "event_date"):
            return v.strftime("%Y-%m") if col == "elected_month" else v.strftime("%Y-%m-%d")
        return v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.strftime("%Y-%m") if col == "elected_month" else v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (int, float)):
        return str(v)
    return _cell(str(v), col)


def _cells_problem(row: dict) -> _Why | None:
    """The CSV path's checks of a record's cells (docs/decisions.md, issue 14): length, controls."""
    cells = [v for v in row.values() if isinstance(v, str)]
    if any(len(c) > MAX_CELL for c in cells):
        return _Why(f"a cell is longer than {MAX_CELL} characters", "MALFORMED.cell_too_long", max=MAX_CELL)
    if any(CONTROL_CHARACTERS.search(c) for c in cells):
        return _Why(
            "a cell holds a control character (NUL, escape …): retype the cell",
            "MALFORMED.control_character",
        )
    return None


def _id_mangled(v) -> bool:
    """An ID number cell a spreadsheet has turned into a number (or typed too short)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return True
    if isinstance(v, str):
        s = _cell(v) or ""
        return bool(_SCIENTIFIC.match(s)) or 0 < len(s) < 18
    return False


def _filled(values) -> bool:
    """A sheet row with something in it (a cell of spaces only is empty)."""
    return any(v is not None and str(v).strip() for v in values)


def _holds_feedback(ws) -> bool:
    """A sheet whose row 1 is a feedback header (事件 and 公民身份号码 among its columns) with a row
    below it: feedback rows that would not be read (the worklist's 工作台账 has no 事件 column)."""
    if not hasattr(ws, "iter_rows"):  # a chart sheet
        return False
    ws.reset_dimensions()
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None) or ()
    named = {labels.feedback_column(_norm(str(h)) or "") for h in header if h is not None}
    return {"event", "id_no"} <= named and any(_filled(values) for values in rows)


def _feedback_sheets(wb) -> list:
    names = wb.sheetnames
    if FEEDBACK_SHEET not in names:
        raise _refuse(
            "NO_FEEDBACK_SHEET",
            f"the workbook has no sheet {FEEDBACK_SHEET} (send back the worklist.xlsx with its {FEEDBACK_SHEET} sheet)",
        )
    more = sorted((int(m.group(1)), n) for n in names if (m := _CONTINUATION.match(n)))
    # a copy made by the officer (Excel: 反馈 (2), LibreOffice: 反馈_2) would not be read: refused
    # whole rather than its rows silently left out (review of issue 16); so is a copy renamed (12月反馈)
    # or any other sheet holding feedback rows under the feedback header (the officer's round trip)
    others = [
        n for n in names if n.strip().startswith(FEEDBACK_SHEET) and n != FEEDBACK_SHEET and not _CONTINUATION.match(n)
    ] or [n for n in names if n != FEEDBACK_SHEET and not _CONTINUATION.match(n) and _holds_feedback(wb[n])]
    if others:
        # a sheet's name is free text an officer typed (a person's name, a mobile): the office's receipt
        # names it, its digits masked, so that the office finds it; the English reason — the log, the
        # command's output — does not (privacy probe, docs/decisions.md)
        sheet = shown_text(others[0])
        raise _refuse(
            "TWO_FEEDBACK_SHEETS",
            f"the workbook has another sheet holding feedback rows or named as {FEEDBACK_SHEET} (named in the receipt): "
            f"put every feedback row in the sheet {FEEDBACK_SHEET} and delete the other",
            sheet=sheet,
        )
    return [wb[FEEDBACK_SHEET]] + [wb[n] for _, n in more]


def _columns(header) -> list[str | None]:
    """The header row → column names (None: an empty header cell, or a prefilled column to drop)."""
    info = labels.feedback_info_columns()
    cols = [labels.feedback_column(_norm(str(h)) or "") if h is not None else "" for h in header]
    named = [c for c in cols if c]
    shown = lambda names: ", ".join(shown_column_names(names[:5]))  # never a data row's values
    dup = sorted({c for c in named if named.count(c) > 1})
    if dup:
        raise _refuse(
            "BAD_HEADER",
            f"column(s) {shown(dup)} appear twice",
            "BAD_HEADER.duplicate",
            columns=shown_column_names(dup[:5]),
        )
    unknown = [c for c in named if c not in COLUMNS and c not in info]
    if unknown:
        raise _refuse(
            "BAD_HEADER",
            f"{len(unknown)} unknown column(s): {shown(unknown)} (see docs/feedback-format.md)",
            "BAD_HEADER.unknown",
            n=len(unknown),
            names=shown(unknown),
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in named]
    if missing:
        raise _refuse("BAD_HEADER", f"missing column(s) {', '.join(missing)}", "BAD_HEADER.missing", columns=missing)
    return [None if (not c or c in info) else c for c in cols]


def read_workbook(path: Path, data: bytes | None = None) -> tuple[bytes, list[tuple[int, dict | None]]]:
    """The file's bytes and the data records of its 反馈 sheet(s): (row_no, row dict or None).
    ``data``: the bytes when already read (read once: what is applied is what the file's identity is
    taken from). Raises ``feedback._Refuse`` for a file refused whole."""
    path = Path(path)
    if data is None:
        data = path.read_bytes()
    wb = _open(data, path.name)
    epoch = getattr(wb, "epoch", None)  # the workbook's date system (1900, or 1904)
    try:
        sheets = _feedback_sheets(wb)
        records: list[tuple[int, dict | None]] = []
        before = 0  # data rows of the sheets before (row numbers go on across continuation sheets)
        for ws in sheets:
            ws.reset_dimensions()  # trust the rows in the file, not its recorded size
            rows = ws.iter_rows(values_only=True)
            header = next(rows, None)
            if header is None or not _filled(header):
                if ws.title == FEEDBACK_SHEET:
                    raise _refuse("EMPTY_FILE", f"the sheet {FEEDBACK_SHEET} has no header row", "EMPTY_FILE.sheet")
                if any(_filled(values) for values in rows):
                    # its rows cannot be read without a header: refused whole, never left out silently
                    sheet = shown_text(ws.title)
                    raise _refuse(
                        "BAD_HEADER",
                        f"the sheet {sheet} has rows but no header in its row 1: copy the header of "
                        f"{FEEDBACK_SHEET} into it",
                        "BAD_HEADER.sheet_no_header",
                        sheet=sheet,
                    )
                continue  # a continuation sheet with nothing in it
            these = _columns(header)
            last = 0
            for i, values in enumerate(rows, start=1):
                last = i
                row_no = before + i
                if not _filled(values):
                    continue  # an empty row: not a row
                row = {c: None for c in COLUMNS}
                stray = False
                mangled = False
                for j, v in enumerate(values):
                    if v is None or (isinstance(v, str) and not v.strip()):
                        continue
                    c = these[j] if j < len(these) else None
                    if c is None:
                        named = j < len(header) and header[j] is not None and str(header[j]).strip()
                        stray = stray or not named  # a prefilled column (named) is only dropped
                        continue
                    if c == "id_no" and _id_mangled(v):
                        mangled = True
                        continue
                    row[c] = _text(v, c, epoch)
                if all(row[c] is None for c in COLUMNS if c not in ("office_code", "id_no")) and not stray:
                    continue  # a prefilled row without an event: not a row
                # what the CSV path refuses in a record, and the ID number a spreadsheet changed: the
                # reason, never the row (its ID number is not the person's and is never looked up)
                problem = (
                    _Why("a value stands in a column without header", "MALFORMED.no_header_column")
                    if stray
                    else _Why(ID_AS_NUMBER, "MALFORMED.id_as_number", event=row.get("event"))
                    if mangled
                    else _cells_problem(row)
                )
                records.append((row_no, problem or row))
            before += last
        return data, records
    finally:
        wb.close()
