"""Ingest, reading the files: a batch file (CSV, UTF-8 or GB18030, or Parquet) read as text into
TEMP ``raw_<kind>(row_no, <columns>)``, its unparsable records into ``rej_<kind>`` (the SQL of
``sql/ingest/0*_*.sql``); what is read is a private copy whose hash was checked."""

from __future__ import annotations

import codecs
import csv
import hashlib
import mmap
import os
import re
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from ..errors import BatchRefused
from ..steps import run_step
from .manifest import _NESTED_TYPE, _PARQUET_DATE_FORMAT, FILE_COLUMNS, Manifest, _check_header


def _csv_header(path: Path) -> list[str]:
    # errors="replace": a file that is not UTF-8 must not crash the header read (the text
    # buffer decodes far past the first line); a mangled name fails the header check, and
    # bad bytes in data rows are DuckDB's to reject row by row.
    # A header that is not one CSV line (a quote never closed swallows the file; a cell over the
    # csv module's field limit) is returned as one impossible column name: the header check
    # refuses it, where the csv error would have been an internal error.
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        try:
            row = next(csv.reader(fh, strict=True), None)
        except csv.Error:
            return ["<the header line is not one CSV line>"]
    return [c.strip() for c in (row or [])]


def _to_utf8(src: Path, workdir: Path) -> Path:
    """GB18030 → a UTF-8 working copy, streamed (the hash was taken on the original bytes).

    A byte that is not GB18030 is carried over as it is (surrogateescape both ways): it stays
    invalid UTF-8 in its own row, which DuckDB then rejects as ``UNPARSABLE_ROW``, exactly as in
    a UTF-8 file, instead of the whole file being refused.  The codec only ever marks bytes of
    0x80 and above as bad, so delimiters, quotes and line ends are never swallowed.
    """
    dst = workdir / (src.name + ".utf8")
    dec = codecs.getincrementaldecoder("gb18030")(errors="surrogateescape")
    with open(src, "rb") as fi, open(dst, "w", encoding="utf-8", errors="surrogateescape", newline="") as fo:
        for chunk in iter(lambda: fi.read(1 << 20), b""):
            fo.write(dec.decode(chunk))
        fo.write(dec.decode(b"", final=True))
    return dst


# DuckDB errors of the machine, not of the file: never recorded as the batch's fault.
_MACHINE_ERRORS = (
    duckdb.OutOfMemoryException,
    duckdb.IOException,
    duckdb.InterruptException,
    duckdb.FatalException,
    duckdb.InternalException,
)
_DUCKDB_LINE = re.compile(r"CSV Error on Line: ([0-9]+)")
_ODD_LINE_END = {False: re.compile(rb"\r"), True: re.compile(rb"\r(?!\n)|(?<!\r)\n")}


@contextmanager
def _mapped(path: Path) -> Iterator[mmap.mmap | bytes]:
    """The file's bytes, memory-mapped (``b""`` for an empty file, which mmap refuses)."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            yield b""
            return
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            yield mm


def _count(data, byte: bytes, end: int | None = None, step: int = 1 << 24) -> int:
    """Occurrences of ``byte`` in ``data[:end]``, counted in slices (no copy of a large file)."""
    end = len(data) if end is None else end
    return sum(data[i : min(i + step, end)].count(byte) for i in range(0, end, step))


def _odd_line_end(path: Path) -> int | None:
    """The line (header = line 1) of the first carriage return or line end that differs from the
    header's own line end (LF or CRLF), or None.  Only called on a file the parser gave up on."""
    with _mapped(path) as data:
        nl = data.find(b"\n")
        m = _ODD_LINE_END[nl > 0 and data[nl - 1] == ord("\r")].search(data)
        return None if m is None else 1 + _count(data, b"\n", m.start())


def _unparsable_csv(exc: duckdb.Error, path: Path) -> tuple[str, int | None]:
    """A one-line reason (and data row, if DuckDB names one) for a CSV file DuckDB cannot read.

    Built here, never copied from DuckDB: its message can quote the original line (an ID number)."""
    line = _DUCKDB_LINE.search(str(exc))
    if line:  # DuckDB's line counts records, header included, like the rejects' `line`
        return "the CSV record cannot be parsed, so the file cannot be read", int(line.group(1)) - 1
    odd = _odd_line_end(path)
    if odd is not None:
        # DuckDB 2.0's strict parser gives up on the whole file for a carriage return outside
        # quotes, or line ends that change (LF and CRLF mixed), instead of rejecting the row
        return (
            f"the file cannot be parsed as CSV: stray carriage return or mixed LF/CRLF line ends "
            f"at line {odd} (the header is line 1)"
        ), None
    return "the file cannot be parsed as CSV", None


def _chunks(path: Path, overlap: int = 0, size: int = 1 << 24) -> Iterator[bytes]:
    """The file's bytes in pieces of ``size`` (each after the first starts with the last
    ``overlap`` bytes of the one before, so a pattern that long is never cut): a scan of a large
    file holds one piece in memory (a memory map would count the whole file in the resident set)."""
    tail = b""
    with open(path, "rb") as fh:
        for piece in iter(lambda: fh.read(size), b""):
            yield tail + piece
            tail = piece[-overlap:] if overlap else b""


def _odd_quotes(path: Path) -> bool:
    """An odd number of '"' bytes: some quote is never closed (CSV quotes and escaped quotes come
    in pairs; '"' is one byte in UTF-8 and GB18030 alike). Only asked when rows are missing."""
    return sum(piece.count(b'"') for piece in _chunks(path)) % 2 == 1


def _blank_records(path: Path) -> list[int]:
    """Records of a CSV file (header = record 1, as DuckDB counts them) that are blank lines,
    found with a CSV reader (a blank line inside a quoted field is data); [] when the file has
    no empty line at all (the usual case: one byte search)."""
    if not any(b"\n\n" in piece or b"\n\r\n" in piece for piece in _chunks(path, overlap=2)):
        return []
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, os.path.getsize(path) + 1))  # a long cell must not end the count
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
            return [i for i, rec in enumerate(csv.reader(fh), start=1) if not rec]
    finally:
        csv.field_size_limit(old)


_EMPTY_LINE = re.compile(rb"\n(?=\r?\n)")


def _data_lines(path: Path) -> int:
    """Lines after the header that are not empty (DuckDB skips empty lines), for files whose
    records are one line each (applications): a record that spans lines swallowed the next ones."""
    with _mapped(path) as data:
        lines = _count(data, b"\n") + (1 if len(data) and data[-1:] != b"\n" else 0)
        empty = sum(1 for _ in _EMPTY_LINE.finditer(data))
    return max(0, lines - 1 - empty)


def _odd_quote_line(path: Path) -> int | None:
    """The first line (header = line 1) holding an odd number of quotes, or None."""
    with open(path, "rb") as fh:
        for no, line in enumerate(fh, start=1):
            if line.count(b'"') % 2:
                return no
    return None


def _load_csv(con, path: Path, header: list[str], columns, raw: str, rej: str, refuse) -> None:
    """Load a CSV file (header checked) as text into TEMP ``raw(row_no, <columns>)`` and its
    unparsable records into TEMP ``rej(row_no, raw_text, reason)``; row_no counts data records
    from 1.  A file DuckDB cannot read at all raises ``refuse(reason, row)``."""
    from . import STEPS

    try:
        run_step(con, STEPS["01_read_csv"], path=str(path), header=header, raw=raw)
    except _MACHINE_ERRORS:
        raise
    except duckdb.Error as exc:
        raise refuse(*_unparsable_csv(exc, path)) from None
    n_rej = run_step(con, STEPS["02_csv_rejects"], rej=rej)[0][0]
    blanks = _blank_records(path) if n_rej else []
    if blanks:
        run_step(con, STEPS["03_blank_records"], bind=[blanks])
    run_step(
        con, STEPS["04_number_rows"], raw=raw, rej=rej, columns=list(columns), rejects=bool(n_rej), blanks=bool(blanks)
    )


def _private_copy(man: Manifest, kind: str, workdir: Path) -> Path:
    """Copy a batch file into the private work folder, hashing the bytes as they are copied, and
    refuse the batch unless they are the manifest's: the copy is what is read and applied, so the
    bytes applied are the bytes whose hash was verified (issue 14 item 2).  :func:`.manifest.read_manifest`
    checked the hashes before, but a file replaced or rewritten in the batch folder since then
    (another process, a transfer still under way) would otherwise be applied and recorded with the
    manifest's hash, and the genuine file would later be "already applied"."""
    info = man.files[kind]
    src = man.dir / info["name"]
    dst = workdir / info["name"]
    h = hashlib.sha256()
    try:
        fd = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        raise BatchRefused(
            man.batch_id,
            "file named in the manifest is missing (it was there when the "
            "manifest was verified; it changed during the ingest)",
            info["name"],
        ) from None
    with os.fdopen(fd, "rb") as fi:
        if not stat.S_ISREG(os.fstat(fi.fileno()).st_mode):
            raise BatchRefused(man.batch_id, "file named in the manifest is not a regular file", info["name"])
        with open(dst, "wb") as fo:
            for chunk in iter(lambda: fi.read(1 << 20), b""):
                h.update(chunk)
                fo.write(chunk)
    if h.hexdigest() != info["sha256"]:
        raise BatchRefused(
            man.batch_id,
            "the file changed after its sha256 was verified and no longer matches the manifest "
            "(replaced or rewritten during the ingest): nothing of the batch was applied; ingest it again "
            "once the batch folder is complete",
            info["name"],
        )
    return dst


def _stage_file(con: duckdb.DuckDBPyConnection, man: Manifest, kind: str, workdir: Path) -> None:
    """Load one data file as text into TEMP ``raw_<kind>(row_no, <columns>)`` and
    its unparsable records into TEMP ``rej_<kind>(row_no, raw_text, reason)``.  What is read
    is the private copy whose hash was checked (:func:`_private_copy`), never the batch folder."""
    info = man.files[kind]
    expected = FILE_COLUMNS[kind]
    path = _private_copy(man, kind, workdir)
    raw, rej = f"raw_{kind}", f"rej_{kind}"
    if info["format"] == "parquet":
        try:
            schema = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
        except _MACHINE_ERRORS:
            raise
        except duckdb.Error:
            # Not DuckDB's message: the footer's statistics hold values (ID numbers) it may quote.
            raise BatchRefused(
                man.batch_id, "unreadable Parquet (not a Parquet file, or its footer is damaged)", info["name"]
            ) from None
        types = {r[0]: r[1] for r in schema}
        _check_header(man, info["name"], kind, list(types))
        nested = [c for c in expected if _NESTED_TYPE.search(types[c].upper())]
        if nested:
            # a LIST would be read as "[于宝, 于宝]": the contract's columns are flat values
            t = types[nested[0]].upper()
            raise BatchRefused(
                man.batch_id,
                f"column {nested[0]} is a nested Parquet type "
                f"({'LIST' if '[' in t else t.split('(')[0]}), not a flat value",
                info["name"],
            )
        cols = []  # (column, how it is stored, date format): sql/ingest/05_read_parquet.sql
        for c in expected:
            t = types[c].upper()
            if t == "BLOB":
                # text stored as BINARY (a common writer choice): decoded as UTF-8, never shown as
                # escaped bytes; a value that is not UTF-8 makes its row UNPARSABLE_ROW below
                cols.append((c, "binary", None))
            elif c in _PARQUET_DATE_FORMAT and (t.startswith("DATE") or t.startswith("TIMESTAMP")):
                cols.append((c, "date", _PARQUET_DATE_FORMAT[c]))
            elif t == "BOOLEAN":  # retired 0/1 typed as a boolean: back to the contract's text
                cols.append((c, "boolean", None))
            else:
                cols.append((c, "text", None))
        from . import STEPS

        try:
            run_step(con, STEPS["05_read_parquet"], columns=cols, path=str(path), raw=raw)
        except _MACHINE_ERRORS:
            raise
        except duckdb.Error:
            # A sound footer over corrupt data pages.  Not DuckDB's message: it can quote a value.
            raise BatchRefused(
                man.batch_id, "unreadable Parquet data (corrupt pages or values)", info["name"]
            ) from None
        run_step(con, STEPS["06_parquet_rejects"], raw=raw, rej=rej)
        return

    if man.encoding == "GB18030":
        path = _to_utf8(path, workdir)
    header = _csv_header(path)
    _check_header(man, info["name"], kind, header)
    _load_csv(
        con,
        path,
        header,
        expected,
        raw,
        rej,
        lambda reason, row=None: BatchRefused(man.batch_id, reason, info["name"], row),
    )
