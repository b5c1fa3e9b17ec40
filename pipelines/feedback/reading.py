"""Reading a CSV feedback file into records: its encoding, line ends, quoting, header and cells.

:func:`read_file` returns ``(row_no, row dict, or why the record is no row)`` for every record
after the header (blank lines excepted), or raises ``_Refuse`` for a file that is not the format
(encoding, line ends, header, broken quoting: refused whole, nothing of it applied).  The 反馈
sheet of a workbook is read by :mod:`.xlsx` into the same records.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from .. import labels
from ..contract import decode_csv_text, shown_column_names
from .format import COLUMNS, CONTROL_CHARACTERS, MAX_CELL, REQUIRED_COLUMNS, _cell, _norm, _Refuse, _Why

_LINE_END = re.compile("\r\n|\r|\n")
_OTHER_LINE_END = {"\r\n": re.compile("\r(?!\n)|(?<!\r)\n"), "\n": re.compile("\r"), "\r": re.compile("\n")}


def _decode(data: bytes) -> str:
    """UTF-8 or GB18030 (:func:`pipelines.contract.decode_csv_text`); anything else (UTF-16, a
    binary file) is refused ENCODING."""
    text, line = decode_csv_text(data)
    if text is None:
        raise _Refuse(
            "ENCODING", f"neither UTF-8 nor GB18030/GBK (first bad byte on line {line}; save as CSV UTF-8)", line=line
        )
    return text


def is_gb18030(data: bytes) -> bool:
    """The file was read as GB18030/GBK (it is not UTF-8)."""
    try:
        data.decode("utf-8-sig")
        return False
    except UnicodeDecodeError:
        return True


def _records(text: str):
    """The CSV records of ``text``: (first line, last line, cells), lines counted from 1.

    Python's csv reader is used in strict mode with no field size limit of its own (its default,
    131,072 characters, ended the reading of a file silently, issue 14): a quote never closed, or
    text after a closing quote, raises ``_Refuse('BROKEN_QUOTING')`` for the whole file — where a
    record ends is then unknown, so no row of the file can be trusted."""
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, len(text) + 1))
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        last = 0
        while True:
            try:
                rec = next(reader)
            except StopIteration:
                return
            except csv.Error:
                raise _Refuse(
                    "BROKEN_QUOTING",
                    (
                        f'the record starting on line {last + 1} cannot be read: a quote (") is never closed, '
                        f"or text follows a closing quote; nothing of the file was applied: correct that record "
                        f"and send the file again"
                    ),
                    line=last + 1,
                ) from None
            yield last + 1, reader.line_num, rec
            last = reader.line_num
    finally:
        csv.field_size_limit(old)


#: a quoted field: a quote at the start of a field (the file's start, after a comma or a line end)
#: up to its closing quote, doubled quotes inside (a quote inside an unquoted field is text, as for
#: the csv reader; a quote never closed is left to it: BROKEN_QUOTING)
_QUOTED = re.compile(r'(?<![^,\r\n])"(?:[^"]|"")*"')


def _outside_quotes(text: str) -> str:
    """``text`` with the line ends inside quoted fields blanked (same length: positions kept)."""
    if '"' not in text:
        return text
    return _QUOTED.sub(lambda m: m.group().replace("\r", " ").replace("\n", " "), text)


def _check_line_ends(text: str) -> str | None:
    """Refuse (``MIXED_LINE_ENDS``) a file whose lines do not all end as its header does (CRLF,
    LF, or CR of old Mac spreadsheets): a stray carriage return splits a row in two, and the first
    half can look like a whole row (a note cut short) that would be applied.  Returns the header's
    line end (None: one line only).

    Line ends inside a quoted field are the cell's, not the file's: Excel writes CRLF between rows
    and a bare LF for a line break typed in a cell (Alt+Enter), which refused the whole file
    (docs/decisions.md, issue 16, eighth session)."""
    outside = _outside_quotes(text)
    first = _LINE_END.search(outside)
    if first is None:
        return None
    odd = _OTHER_LINE_END[first.group()].search(outside)
    if odd is not None:
        line = outside.count(first.group(), 0, odd.start()) + 1
        raise _Refuse(
            "MIXED_LINE_ENDS",
            (
                f"line {line} ends otherwise than the header line (a stray carriage return or line feed "
                f"inside a row?); nothing of the file was applied: correct that line and send the file again"
            ),
            line=line,
        )
    return first.group()


def _cells_problem(rec: list[str], first: int, last: int, width: int, eol: str | None = None) -> _Why | None:
    """Why a record cannot be a row (one line, no cell value), refused MALFORMED, or None.

    A record over several lines is refused, unless the file's rows end with CRLF and its cells hold
    bare LFs only: a line break typed in a cell (Excel's Alt+Enter), kept as the cell's text, as the
    same cell of a workbook is.  A cell holding the file's own line end is a quote opened and closed
    on a later line, which swallowed the rows between (issue 14): refused, naming the lines."""
    if last > first and not (eol == "\r\n" and not any("\r" in c for c in rec)):
        return _Why(
            f"the record spans lines {first}-{last}: a cell holds a line break "
            f"(a quote opened and not closed on its line?)",
            "MALFORMED.spans_lines",
            first=first,
            last=last,
        )
    if len(rec) != width:
        return _Why(
            f"the record has {len(rec)} cells, the header {width}",
            "MALFORMED.cell_count",
            n=len(rec),
            width=width,
        )
    if any(len(c) > MAX_CELL for c in rec):
        return _Why(f"a cell is longer than {MAX_CELL} characters", "MALFORMED.cell_too_long", max=MAX_CELL)
    if any(CONTROL_CHARACTERS.search(c) for c in rec):
        return _Why(
            "a cell holds a control character (NUL, escape …): retype the cell",
            "MALFORMED.control_character",
        )
    return None


def _header(header: list[str]) -> list[str]:
    """The header line → column names (English or Chinese, data/labels.csv), or BAD_HEADER."""
    cols = [labels.feedback_column(_norm(h) or "") for h in header]
    shown = lambda names: ", ".join(shown_column_names(names[:5]))  # noqa: E731 (never a data row's values)
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise _Refuse(
            "BAD_HEADER",
            f"column(s) {shown(dup)} appear twice",
            text="BAD_HEADER.duplicate",
            columns=shown_column_names(dup[:5]),
        )
    unknown = [c for c in cols if c not in COLUMNS and c not in labels.feedback_info_columns()]
    if unknown:
        missing_header = not any(c in COLUMNS for c in cols)
        raise _Refuse(
            "BAD_HEADER",
            (
                f"{len(unknown)} unknown column(s): {shown(unknown)}"
                + (" — the first line is no header: is the header line missing?" if missing_header else "")
                + " (see docs/feedback-format.md)"
            ),
            text="BAD_HEADER.no_header" if missing_header else "BAD_HEADER.unknown",
            n=len(unknown),
            names=shown(unknown),
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing:
        raise _Refuse(
            "BAD_HEADER", f"missing column(s) {', '.join(missing)}", text="BAD_HEADER.missing", columns=missing
        )
    return cols


def read_file(path: Path, data: bytes | None = None) -> tuple[bytes, list[tuple[int, dict | str | None]]]:
    """The file's bytes and its data records: (row_no, row dict, or why the record is no row).

    Every record after the header is returned, blank lines excepted (they are not rows, but they
    count in ``row_no``), so every record of the file ends up applied, already applied or refused
    with its row number.  Raises _Refuse for a file that is not the format (encoding, header,
    broken quoting: refused whole).  ``data``: the file's bytes when already read (a file is read
    once: the bytes applied are the bytes its identity is taken from)."""
    if data is None:
        data = path.read_bytes()
    text = _decode(data)
    eol = _check_line_ends(text)
    records = _records(text)
    try:
        _, _, header = next(records)
    except StopIteration:
        raise _Refuse("EMPTY_FILE", "no header line") from None
    cols = _header(header)
    # the 反馈 sheet saved as CSV (填报说明 offers it): its columns for reading (姓名, 当前环节, 办结时限)
    # are dropped, and a prefilled row left without an event is no row, as in the workbook
    sheet = bool(labels.feedback_info_columns() & set(cols))
    out: list[tuple[int, dict | str | None]] = []
    # the whole file is read before anything is applied: broken quoting at its end refuses it whole
    for row_no, (first, last, rec) in enumerate(records, start=1):
        if not any(c.strip() for c in rec) and last == first and not any(CONTROL_CHARACTERS.search(c) for c in rec):
            continue  # blank line: not a row (str.strip() takes FS/GS/RS/US, VT, FF for blanks: refused below)
        problem = _cells_problem(rec, first, last, len(cols), eol)
        if problem:
            out.append((row_no, problem))
            continue
        row = {c: None for c in COLUMNS}
        for c, v in zip(cols, rec):
            if c in row:
                row[c] = _cell(v, c)
        if sheet and all(row[c] is None for c in COLUMNS if c not in ("office_code", "id_no")):
            continue  # a prefilled row of the sheet without an event: not a row
        out.append((row_no, row))
    return data, out
