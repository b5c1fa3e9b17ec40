"""One office's workbook file (pipelines/xlsx.py writes them): its template — the workbook without
its data rows, written by XlsxWriter into memory — and the zip it is copied into, the data rows of its
sheets inserted as they come (``_Book``)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from pathlib import Path

from .tabular import dictionary
from .xlsx_rows import _col_letter, _width
from .xlsx_sheets import (
    FEEDBACK_INPUT,
    FEEDBACK_PREFILLED,
    FEEDBACK_SHEET,
    WORKLIST_SHEET,
    _feedback_sheet,
    _Formats,
    _help_sheet,
    _setup_print,
)

#: deflate level of the workbook's parts (measured: docs/benchmarks.md, issue 16 item 7)
ZIP_LEVEL = 1


def _faster_deflate(fh) -> None:
    """Deflate a data sheet's part (the rows: nearly all of a workbook's bytes) with ISA-L (``isal``)
    instead of zlib: the same format at its level 1, ≈ 3 times zlib's speed, 4 % larger. At 5 M persons
    every office's workbooks took 40.7 s against 46.8 with zlib, 65 CPU s against 89
    (docs/benchmarks.md, nineteenth session). The compressor of the open zip entry ``fh`` (zipfile's
    ``_ZipWriteFile``, which keeps the CRC and the sizes) is replaced before its first byte; where
    ``isal`` or that attribute is missing, zlib stays."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - a dependency (pyproject.toml); zlib writes the same format
        return
    if getattr(fh, "_compressor", None) is not None and getattr(fh, "_file_size", None) == 0:
        fh._compressor = isal_zlib.compressobj(ZIP_LEVEL, isal_zlib.DEFLATED, -15)


#: a data sheet's bytes go to the deflater in pieces of this size, whatever the batches they come in
DEFLATE_PIECE = 1 << 20


class _Pieces:
    """The writer of a data sheet's zip entry ``fh`` (deflated by ISA-L: :func:`_faster_deflate`), handing it the bytes in pieces of DEFLATE_PIECE
    (the last one shorter): ISA-L's output depends on how its input is split between calls (zlib's
    does not), and the rows come in Arrow batches whose sizes follow DuckDB's threads and the offices
    written together; so a workbook is the same file however it was written (the DAG's office task,
    the command line). Whole pieces go straight from the caller's buffer; only a piece's start and
    end are copied."""

    def __init__(self, fh):
        _faster_deflate(fh)
        self.fh, self.buf = fh, bytearray()

    def write(self, data) -> None:
        view = memoryview(data).cast("B")
        if self.buf:
            take = DEFLATE_PIECE - len(self.buf)
            self.buf += view[:take]
            view = view[take:]
            if len(self.buf) < DEFLATE_PIECE:
                return
            self.fh.write(bytes(self.buf))
            self.buf.clear()
        whole = len(view) // DEFLATE_PIECE * DEFLATE_PIECE
        for i in range(0, whole, DEFLATE_PIECE):
            self.fh.write(view[i : i + DEFLATE_PIECE])
        self.buf += view[whole:]

    def close(self) -> None:
        try:
            if self.buf:
                self.fh.write(bytes(self.buf))
        finally:
            self.buf.clear()
            self.fh.close()


def _sheet_name(base: str, part: int) -> str:
    return base if part == 1 else f"{base}({part})"


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
        self.counts = (0, 0)  # (worklist rows, open entries): where its sheets start among the rows

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
        self.fh = _Pieces(self.zout.open(self._info(item), "w", force_zip64=rows * n_cols > 30_000_000))
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
