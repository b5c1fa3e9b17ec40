"""Ingest: verify and apply the Ministry's push batches (push-format.md).

A batch is one folder: ``manifest.json`` + persons and segments files.  This
module checks the manifest (shape, names, hashes), decides the batch's fate
against what the warehouse already holds (apply, no-op, conflict, held back,
superseded), and applies it in **one** DuckDB transaction with the SQL of
``sql/ingest/``: stage → validate (quarantine) → account → apply versions.

Refusals raise :class:`~pipelines.errors.BatchRefused` with a one-line reason
naming the batch, the file, the row and the reason; they are also recorded in
``batch_refusals``.  No message carries an ID number, name or phone.
"""

from __future__ import annotations

import codecs
import contextvars
import csv
import hashlib
import json
import logging
import mmap
import os
import re
import shutil
import stat
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterator

import duckdb

from . import months
from .analysts import refreshes_analysts
from .contract import APPLICATION_COLUMNS, PERSON_COLUMNS, SEGMENT_COLUMNS, shown_column_names
from .errors import ApplicationsRefused, BatchRefused, ValidationFailed
from .settings import Settings, load_settings
from .warehouse import connect, render_sql, rollback

log = logging.getLogger(__name__)

FILE_COLUMNS = {"persons": PERSON_COLUMNS, "segments": SEGMENT_COLUMNS}
ALLOWED_FILES = {
    "persons.csv": ("persons", "csv"),
    "persons.parquet": ("persons", "parquet"),
    "segments.csv": ("segments", "csv"),
    "segments.parquet": ("segments", "parquet"),
}
# Checked with fullmatch: `$` would also match before a final newline ("NX-1\n"), and the
# classes are spelt out because \d matches any Unicode digit ("٢٠٢٦-11").
_BATCH_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
# Integers go into BIGINT columns and parameters: a larger one would crash the first query.
_BIGINT_MAX = 2**63 - 1
# Parquet columns that may arrive typed: how to turn them back into the CSV text.
_NESTED_TYPE = re.compile(r"\[|^(STRUCT|MAP|UNION|LIST)\b")
_PARQUET_DATE_FORMAT = {"birth_date": "%Y%m%d", "start_month": "%Y%m", "end_month": "%Y%m"}


@dataclass
class Manifest:
    """A verified manifest: shape, names and file hashes checked."""

    dir: Path
    batch_id: str
    seq: int
    push_type: str
    base_seq: int | None
    data_month: str
    generated_at: str
    encoding: str
    files: dict[str, dict]  # kind -> {"name", "format", "rows", "sha256"}
    content_hash: str

    @property
    def file_format(self) -> str:
        return self.files["persons"]["format"]


@dataclass
class IngestReport:
    """What one ``ingest`` call did, batch by batch (no personal data)."""

    applied: list[dict] = field(default_factory=list)
    noop: list[str] = field(default_factory=list)
    held: list[dict] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    refused: list[BatchRefused] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for a in self.applied:
            out.append(
                f"applied {a['batch_id']} (seq {a['seq']}, {a['push_type']}): persons "
                f"{a['persons_accepted']}/{a['persons_rows']} accepted, {a['persons_quarantined']} quarantined; "
                f"segments {a['segments_accepted']}/{a['segments_rows']} accepted, "
                f"{a['segments_quarantined']} quarantined; {a['persons_inserted']} new, "
                f"{a['persons_updated']} changed, {a['persons_left']} left the push, {a['warnings']} warnings"
            )
        out += [f"already applied, nothing to do: {b}" for b in self.noop]
        out += [f"held back {h['batch_id']} (seq {h['seq']}): waiting for seq {h['missing']}" for h in self.held]
        out += [f"superseded by a later FULL, never applied: {b}" for b in self.superseded]
        out += [f"REFUSED {r}" for r in self.refused]
        return out


# --------------------------------------------------------------------------- manifest


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_int(value, least: int) -> bool:
    """A JSON integer from ``least`` to 2^63-1; a boolean is not one (``True`` is an int in Python)."""
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= _BIGINT_MAX


def read_manifest(batch_dir: str | Path) -> Manifest:
    """Read and verify ``manifest.json`` and the files it names (push-format.md).

    Refuses: missing or unparsable manifest, a key of the wrong shape, a file
    name that is not one of the four contract names (so nothing can leave the
    batch folder), missing files, a hash or size mismatch.
    """
    d = Path(batch_dir)
    label = d.name or str(d)
    mpath = d / "manifest.json"
    if mpath.is_symlink():
        # as the data files below: the batch folder must hold the file itself (a link could point
        # anywhere on the machine, and change between the check and the read)
        raise BatchRefused(
            label, "manifest.json is a symbolic link: the batch folder must hold the file itself", "manifest.json"
        )
    if not mpath.is_file():
        raise BatchRefused(label, "no manifest.json in the batch folder", "manifest.json")
    try:
        m = json.loads(mpath.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BatchRefused(
            label, f"manifest.json is not valid JSON ({exc.__class__.__name__})", "manifest.json"
        ) from None
    if not isinstance(m, dict):
        raise BatchRefused(label, "manifest.json is not an object", "manifest.json")

    bid = m.get("batch_id")
    if not isinstance(bid, str) or not _BATCH_ID.fullmatch(bid):
        raise BatchRefused(label, "batch_id must match [0-9A-Za-z-]{1,64}", "manifest.json")
    label = bid

    def bad(reason: str) -> BatchRefused:
        return BatchRefused(label, reason, "manifest.json")

    if m.get("province") != "640000":
        raise bad('province must be "640000"')
    if m.get("schema_version") != "1.0":
        raise bad('schema_version must be "1.0"')
    ptype = m.get("push_type")
    if ptype not in ("FULL", "INCR"):
        raise bad("push_type must be FULL or INCR")
    month = m.get("data_month")
    # years 1900-2099 (months.YEARS), as every other month coming in: 0001-01 or 9999-12 would be
    # applied and then be the month every later push is compared with (issue 14)
    if not months.is_month(month, years=months.YEARS):
        raise bad("data_month must be YYYY-MM of the years 1900-2099")
    seq = m.get("seq")
    if not _is_int(seq, 1):
        raise bad("seq must be an integer from 1 to 2^63-1")
    base = m.get("base_seq")
    if ptype == "FULL" and base is not None:
        raise bad("a FULL batch has base_seq null")
    if ptype == "INCR" and (not _is_int(base, 1) or base >= seq):
        raise bad("an INCR batch needs an integer base_seq below its seq")
    gen = m.get("generated_at")
    try:
        if not isinstance(gen, str) or datetime.fromisoformat(gen).utcoffset() is None:
            raise ValueError
    except ValueError:
        raise bad("generated_at must be ISO 8601 with an offset") from None
    enc = m.get("encoding")
    if not isinstance(enc, str) or not enc.isascii() or enc.upper() not in ("UTF-8", "GB18030"):
        raise bad("encoding must be UTF-8 or GB18030")
    files = m.get("files")
    if not isinstance(files, dict):
        raise bad("files must be an object")

    by_kind: dict[str, dict] = {}
    for name, info in files.items():
        if name not in ALLOWED_FILES:
            # also catches '../x', '/etc/x', 'sub/persons.csv'
            raise bad(f"file name {name!r} is not one of {sorted(ALLOWED_FILES)}")
        kind, fmt = ALLOWED_FILES[name]
        if kind in by_kind:
            raise bad(f"two {kind} files")
        if (
            not isinstance(info, dict)
            or not _is_int(info.get("rows"), 0)
            or not isinstance(info.get("sha256"), str)
            or not _HEX64.fullmatch(info["sha256"].lower())
        ):
            raise bad(f"files.{name} needs rows (integer from 0 to 2^63-1) and sha256 (64 hex)")
        by_kind[kind] = {"name": name, "format": fmt, "rows": info["rows"], "sha256": info["sha256"].lower()}
    for kind in ("persons", "segments"):
        if kind not in by_kind:
            raise bad(f"no {kind} file in files")
    if by_kind["persons"]["format"] != by_kind["segments"]["format"]:
        raise bad("persons and segments files must have the same format")

    for kind, info in by_kind.items():
        fpath = d / info["name"]
        if fpath.is_symlink():
            raise BatchRefused(
                label,
                "file named in the manifest is a symbolic link: the batch folder must hold the file itself",
                info["name"],
                seq=seq,
            )
        if not fpath.is_file():
            raise BatchRefused(label, "file named in the manifest is missing", info["name"], seq=seq)
        if _sha256(fpath) != info["sha256"]:
            raise BatchRefused(label, "sha256 of the file's bytes does not match the manifest", info["name"], seq=seq)

    ident = json.dumps(
        {
            "batch_id": bid,
            "seq": seq,
            "push_type": ptype,
            "base_seq": base,
            "data_month": month,
            "files": {k: [v["name"], v["rows"], v["sha256"]] for k, v in sorted(by_kind.items())},
        },
        sort_keys=True,
    )
    return Manifest(
        dir=d,
        batch_id=bid,
        seq=seq,
        push_type=ptype,
        base_seq=base,
        data_month=month,
        generated_at=gen,
        encoding=enc.upper(),
        files=by_kind,
        content_hash=hashlib.sha256(ident.encode()).hexdigest(),
    )


# --------------------------------------------------------------------------- staging


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
    colspec = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in header) + "}"
    con.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {raw}_load AS
                SELECT * FROM read_csv(?, header = true, auto_detect = false, columns = {colspec},
                                       delim = ',', quote = '"', escape = '"', strict_mode = true,
                                       store_rejects = true, rejects_table = 'reject_errors',
                                       rejects_scan = 'reject_scans', parallel = true)""",
            [str(path)],
        )
    except _MACHINE_ERRORS:
        raise
    except duckdb.Error as exc:
        raise refuse(*_unparsable_csv(exc, path)) from None
    # Unparsable records: DuckDB's `line` counts records, header included.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {rej} AS
            SELECT line - 1 AS row_no, any_value(csv_line) AS raw_text,
                   'UNPARSABLE_ROW: ' || string_agg(DISTINCT error_type, ', ') AS reason
            FROM reject_errors GROUP BY line"""
    )
    # Accepted records keep file order (insertion order); number them around the rejects.
    n_rej = con.execute(f"SELECT count(*) FROM {rej}").fetchall()[0][0]
    if n_rej:
        # DuckDB skips a blank line (no data row, push-format.md) but counts it in a reject's
        # `line`: a reject after blank lines is that many data rows earlier.
        blanks = _blank_records(path)
        if blanks:
            con.execute("CREATE OR REPLACE TEMP TABLE _blank_records AS SELECT unnest(?::BIGINT[]) AS rec", [blanks])
            con.execute(
                f"UPDATE {rej} SET row_no = row_no - (SELECT count(*) FROM _blank_records b "
                f"WHERE b.rec <= {rej}.row_no)"
            )
    sel = ", ".join(c for c in columns)
    if n_rej == 0:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {raw} AS SELECT rowid - (SELECT min(rowid) FROM {raw}_load) + 1 AS row_no, "
            f"{sel} FROM {raw}_load"
        )
    else:
        # The k-th accepted record (k from 0) is data row k + 1 + (rejects before it).  With the
        # rejects' rows r_1 < r_2 < … numbered j, t_j = r_j - j accepted records precede reject j,
        # so the rejects before record k are the largest j with t_j <= k: one ASOF join
        # (sort-merge, O(n log n); a join on a computed range was quadratic in practice).
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {raw} AS
                WITH l AS (SELECT rowid - (SELECT min(rowid) FROM {raw}_load) AS k, * FROM {raw}_load),
                rj AS (SELECT t, max(j) AS j FROM (
                           SELECT row_no - row_number() OVER (ORDER BY row_no) AS t,
                                  row_number() OVER (ORDER BY row_no) AS j FROM {rej}) GROUP BY t)
                SELECT l.k + 1 + coalesce(rj.j, 0) AS row_no, {", ".join("l." + c for c in columns)}
                FROM l ASOF LEFT JOIN rj ON l.k >= rj.t"""
        )
    con.execute(f"DROP TABLE {raw}_load")


def _private_copy(man: Manifest, kind: str, workdir: Path) -> Path:
    """Copy a batch file into the private work folder, hashing the bytes as they are copied, and
    refuse the batch unless they are the manifest's: the copy is what is read and applied, so the
    bytes applied are the bytes whose hash was verified (issue 14 item 2).  :func:`read_manifest`
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
        cols, binary = [], []
        for c in expected:
            t = types[c].upper()
            if t == "BLOB":
                # text stored as BINARY (a common writer choice): decoded as UTF-8, never shown as
                # escaped bytes; a value that is not UTF-8 makes its row UNPARSABLE_ROW below
                cols.append(f"try(decode({c})) AS {c}")
                binary.append(c)
            elif c in _PARQUET_DATE_FORMAT and (t.startswith("DATE") or t.startswith("TIMESTAMP")):
                cols.append(f"strftime({c}, '{_PARQUET_DATE_FORMAT[c]}') AS {c}")
            elif t == "BOOLEAN":  # retired 0/1 typed as a boolean: back to the contract's text
                cols.append(f"CASE WHEN {c} THEN '1' WHEN NOT {c} THEN '0' END AS {c}")
            else:
                cols.append(f"CAST({c} AS VARCHAR) AS {c}")
        bad_utf8 = " OR ".join(f"({c} IS NOT NULL AND try(decode({c})) IS NULL)" for c in binary) or "false"
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {raw} AS SELECT file_row_number + 1 AS row_no, {', '.join(cols)}, "
                f"{bad_utf8} AS _bad_utf8 FROM read_parquet(?, file_row_number = true)",
                [str(path)],
            )
        except _MACHINE_ERRORS:
            raise
        except duckdb.Error:
            # A sound footer over corrupt data pages.  Not DuckDB's message: it can quote a value.
            raise BatchRefused(
                man.batch_id, "unreadable Parquet data (corrupt pages or values)", info["name"]
            ) from None
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {rej} AS SELECT row_no, NULL::VARCHAR AS raw_text, "
            f"'UNPARSABLE_ROW: a BINARY value is not UTF-8' AS reason FROM {raw} WHERE _bad_utf8"
        )
        con.execute(f"DELETE FROM {raw} WHERE _bad_utf8; ALTER TABLE {raw} DROP COLUMN _bad_utf8")
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


def _header_problem(header: list[str], expected) -> str | None:
    """Why a header is not the contract's columns in some order (names only from ``expected``
    until every one of them is present), or None."""
    missing = [c for c in expected if c not in header]
    if missing:
        return f"header lacks columns {missing}"
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        return f"header repeats columns {shown_column_names(dup)}"
    extra = [c for c in header if c not in expected]
    if extra:
        return f"header has columns not in the contract {shown_column_names(extra)}"
    return None


def _check_header(man: Manifest, fname: str, kind: str, header: list[str]) -> None:
    problem = _header_problem(header, FILE_COLUMNS[kind])
    if problem:
        raise BatchRefused(man.batch_id, problem, fname)


# --------------------------------------------------------------------------- the warehouse side


def _last_applied(con) -> int:
    return con.execute("SELECT coalesce(max(seq), 0) FROM push_batches WHERE status = 'APPLIED'").fetchall()[0][0]


def _record_refusal(con, ref: BatchRefused, man: Manifest | None, source: Path | None, code: str) -> None:
    con.execute(
        "INSERT INTO batch_refusals VALUES (now(), ?, ?, ?, ?, ?, ?, ?)",
        [
            ref.batch if man is None else man.batch_id,
            ref.seq if man is None else man.seq,
            str(source) if source else None,
            ref.file,
            ref.row,
            code,
            ref.reason,
        ],
    )


def validation_root(warehouse: str | Path) -> Path:
    """Where ingest writes its validation results (beside the warehouse; runs copy them into OUT/P)."""
    w = Path(warehouse)
    return w.with_name(w.stem + ".validation")


def _validate_batch(con, man: Manifest, settings: Settings, vroot: Path, acc: tuple) -> None:
    """GX suites ``raw`` (row accounting) and ``ingest`` (the versions this batch made current)."""
    import pandas as pd

    from .validate import sample_clause, validate_frames

    # The accounting is read back from what was stored (quarantine_rows of this batch), not from
    # the counts already compared with the manifest: a quarantined row lost between the checks
    # and the warehouse, or stored twice or under a wrong row number, fails here.
    p_ok, _, s_ok, _ = acc
    rows = {kind: man.files[kind]["rows"] for kind in ("persons", "segments")}
    stored = dict(
        con.execute("SELECT file, count(*) FROM quarantine_rows WHERE seq = ? GROUP BY file", [man.seq]).fetchall()
    )
    # bounded like every frame handed to GX (up to bad_row_share of a national push otherwise)
    n_quarantined = sum(stored.values())
    quarantine = con.execute(
        "SELECT seq, file, row_no, reason_code, "
        "CASE file WHEN 'persons' THEN ? WHEN 'segments' THEN ? END AS manifest_rows "
        f"FROM quarantine_rows WHERE seq = ? AND {sample_clause(n_quarantined, settings, 'row_no')} "
        "ORDER BY file, row_no",
        [rows["persons"], rows["segments"], man.seq],
    ).df()
    accounting = pd.DataFrame(
        [
            {
                "seq": man.seq,
                "batch_id": man.batch_id,
                "file": kind,
                "manifest_rows": rows[kind],
                "accepted_rows": ok,
                "quarantined_rows": stored.get(kind, 0),
                "accounted_rows": ok + stored.get(kind, 0),
            }
            for kind, ok in (("persons", p_ok), ("segments", s_ok))
        ]
    )
    validate_frames(
        "raw",
        {"batch_accounting": accounting, "quarantine": quarantine},
        vroot,
        label=man.batch_id,
        settings=settings,
        populations={"quarantine": n_quarantined},
    )
    if not p_ok:
        return
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _v_ids AS
            SELECT DISTINCT id_no FROM persons_checked
            WHERE reason_code IS NULL AND op IN ('', 'I', 'U') AND {sample_clause(p_ok, settings)}"""
    )
    persons = con.execute(
        """SELECT id_no, gender, birth_date, insurance_type, person_type, insured_region, contribution_status,
                  survival_status, actual_contribution_months, deemed_status, arrears_months, in_push
           FROM person_versions v SEMI JOIN _v_ids USING (id_no) WHERE valid_to_seq IS NULL"""
    ).df()
    segments = con.execute(
        """SELECT id_no, region_code, start_mi, end_mi, relation_status
           FROM segment_versions SEMI JOIN _v_ids USING (id_no) WHERE valid_to_seq IS NULL"""
    ).df()
    if persons.empty:
        return
    validate_frames("ingest", {"persons": persons, "segments": segments}, vroot, label=man.batch_id, settings=settings)


def _apply(con, man: Manifest, settings: Settings) -> dict:
    """Stage, validate, account and apply one batch inside the caller's transaction."""
    with tempfile.TemporaryDirectory(prefix="retire-prep-") as tmp:
        for kind in ("persons", "segments"):
            _stage_file(con, man, kind, Path(tmp))
        return _apply_staged(con, man, settings, Path(tmp))


def _apply_staged(con, man: Manifest, settings: Settings, workdir: Path) -> dict:
    params = dict(
        settings=settings, seq=man.seq, batch_id=man.batch_id, push_type=man.push_type, data_month=man.data_month
    )
    con.execute(render_sql("ingest/10_validate_persons.sql", **params))
    con.execute(render_sql("ingest/20_validate_segments.sql", **params))
    acc = con.execute(render_sql("ingest/30_accounting.sql", **params)).fetchone()
    p_ok, p_bad, s_ok, s_bad = acc
    for kind, ok, badn in (("persons", p_ok, p_bad), ("segments", s_ok, s_bad)):
        if ok + badn != man.files[kind]["rows"]:
            hint = ""
            if (
                ok + badn < man.files[kind]["rows"]
                and man.file_format == "csv"
                and _odd_quotes(workdir / man.files[kind]["name"])
            ):
                hint = ': a quote (") is never closed, so the rest of the file reads as one field'
            raise BatchRefused(
                man.batch_id,
                f"the file has {ok + badn} data rows, the manifest says {man.files[kind]['rows']}{hint}",
                man.files[kind]["name"],
            )
    total = p_ok + p_bad + s_ok + s_bad
    if total and (p_bad + s_bad) / total > settings.bad_row_share:
        first = con.execute(
            "SELECT file, row_no, reason_code FROM batch_quarantine ORDER BY file, row_no LIMIT 1"
        ).fetchone()
        raise BatchRefused(
            man.batch_id,
            f"{p_bad + s_bad} of {total} data rows break the contract "
            f"({(p_bad + s_bad) / total:.1%} > {settings.bad_row_share:.0%}); first: {first[2]}",
            f"{first[0]}.{man.file_format}",
            first[1],
        )
    # Quarantine first: it is the last use of the raw text, whose tables (a copy of both files)
    # are then dropped before the apply, the step that needs the most memory.
    con.execute(render_sql("ingest/50_record.sql", **params))
    con.execute("DROP TABLE raw_persons; DROP TABLE raw_segments")
    stats = con.execute(render_sql(f"ingest/40_apply_{man.push_type.lower()}.sql", **params)).fetchone()
    inserted, updated, left, warnings = stats
    if _VALIDATION_ROOT.get() is not None:
        _validate_batch(con, man, settings, _VALIDATION_ROOT.get(), acc)
    row = dict(
        seq=man.seq,
        batch_id=man.batch_id,
        push_type=man.push_type,
        base_seq=man.base_seq,
        data_month=man.data_month,
        generated_at=man.generated_at,
        encoding=man.encoding,
        file_format=man.file_format,
        source_dir=str(man.dir.resolve()),
        content_hash=man.content_hash,
        status="APPLIED",
        persons_rows=man.files["persons"]["rows"],
        persons_accepted=p_ok,
        persons_quarantined=p_bad,
        segments_rows=man.files["segments"]["rows"],
        segments_accepted=s_ok,
        segments_quarantined=s_bad,
        warnings=warnings,
        persons_inserted=inserted,
        persons_updated=updated,
        persons_left=left,
    )
    return row


_BATCH_COLS = (
    "seq, batch_id, push_type, base_seq, data_month, generated_at, encoding, file_format, source_dir, "
    "content_hash, status, persons_rows, persons_accepted, persons_quarantined, segments_rows, "
    "segments_accepted, segments_quarantined, warnings, persons_inserted, persons_updated, persons_left"
).split(", ")


def _upsert_batch_row(con, row: dict, message: str | None = None) -> None:
    con.execute("DELETE FROM push_batches WHERE seq = ?", [row["seq"]])
    cols = _BATCH_COLS + ["received_at", "applied_at", "message"]
    vals = [row.get(c) for c in _BATCH_COLS]
    con.execute(
        f"INSERT INTO push_batches ({', '.join(cols)}) VALUES ({', '.join('?' * len(_BATCH_COLS))}, now(), "
        f"{'now()' if row['status'] == 'APPLIED' else 'NULL'}, ?)",
        vals + [message],
    )


def _meta_row(man: Manifest, status: str) -> dict:
    return dict(
        seq=man.seq,
        batch_id=man.batch_id,
        push_type=man.push_type,
        base_seq=man.base_seq,
        data_month=man.data_month,
        generated_at=man.generated_at,
        encoding=man.encoding,
        file_format=man.file_format,
        source_dir=str(man.dir.resolve()),
        content_hash=man.content_hash,
        status=status,
        persons_rows=man.files["persons"]["rows"],
        segments_rows=man.files["segments"]["rows"],
    )


def _decide(con, man: Manifest) -> tuple[str, str]:
    """What to do with a verified batch: APPLY, NOOP, HOLD, SUPERSEDE or REFUSE (with why)."""
    same_id = con.execute(
        "SELECT seq, content_hash, status FROM push_batches WHERE batch_id = ?", [man.batch_id]
    ).fetchone()
    if same_id:
        if same_id[1] != man.content_hash or same_id[0] != man.seq:
            return "REFUSE", "CONFLICT: this batch_id was received before with other content"
        if same_id[2] in ("APPLIED", "SUPERSEDED"):
            return "NOOP", ""
    same_seq = con.execute(
        "SELECT batch_id FROM push_batches WHERE seq = ? AND batch_id <> ?", [man.seq, man.batch_id]
    ).fetchone()
    if same_seq:
        return "REFUSE", f"CONFLICT: seq {man.seq} already belongs to another batch"
    last = _last_applied(con)
    if man.seq <= last:
        return "REFUSE", f"STALE: seq {man.seq} is not above the last applied seq {last}"
    if man.push_type == "FULL":
        return "APPLY", ""
    if man.base_seq == last:
        return "APPLY", ""
    if man.base_seq < last:
        return "REFUSE", f"STALE: INCR on base_seq {man.base_seq}, but seq {last} is applied since"
    return "HOLD", f"waiting for seq {last + 1}" + (f"..{man.base_seq}" if man.base_seq > last + 1 else "")


_VALIDATION_ROOT: contextvars.ContextVar[Path | None] = contextvars.ContextVar("validation_root", default=None)


@refreshes_analysts
def ingest_batches(
    batch_dirs, warehouse: str | Path, settings: Settings | None = None, *, validate: bool = True
) -> IngestReport:
    """``retire-prep ingest``: verify and apply push batches in ``seq`` order.

    Each batch is applied in its own transaction; a crash leaves the warehouse
    as it was before that batch.  Held-back INCRs are retried whenever the seq
    they wait for has been applied.
    """
    settings = settings or load_settings()
    report = IngestReport()
    verified: list[Manifest] = []
    token = _VALIDATION_ROOT.set(validation_root(warehouse) if validate else None)
    try:
        _ingest(batch_dirs, warehouse, settings, report, verified)
    finally:
        _VALIDATION_ROOT.reset(token)
    return report


def _ingest(batch_dirs, warehouse, settings: Settings, report: IngestReport, verified: list) -> None:
    with connect(warehouse, settings=settings) as con:
        for d in batch_dirs:
            d = Path(d)
            try:
                verified.append(read_manifest(d))
            except BatchRefused as ref:
                _record_refusal(con, ref, None, d, "MANIFEST")
                report.refused.append(ref)
                log.info("refused: %s", ref)  # the report carries it; the CLI prints one line
        verified.sort(key=lambda m: m.seq)
        for man in verified:
            _process(con, man, settings, report)
        _retry_held(con, settings, report)


def _process(con, man: Manifest, settings: Settings, report: IngestReport) -> None:
    action, why = _decide(con, man)
    if action == "NOOP":
        report.noop.append(man.batch_id)
        return
    if action == "REFUSE":
        ref = BatchRefused(man.batch_id, why)
        _record_refusal(con, ref, man, man.dir, why.split(":")[0])
        report.refused.append(ref)
        log.info("refused: %s", ref)  # the report carries it; the CLI prints one line
        return
    if action == "HOLD":
        _upsert_batch_row(con, _meta_row(man, "HELD"), why)
        report.held.append({"batch_id": man.batch_id, "seq": man.seq, "missing": why.split("seq ")[-1]})
        log.warning("held back %s (seq %s): %s", man.batch_id, man.seq, why)
        return
    con.execute("BEGIN TRANSACTION")
    try:
        row = _apply(con, man, settings)
        _upsert_batch_row(con, row)
        superseded = []
        if man.push_type == "FULL":
            superseded = [
                r[0]
                for r in con.execute(
                    "UPDATE push_batches SET status = 'SUPERSEDED', message = ? "
                    "WHERE status = 'HELD' AND push_type = 'INCR' AND seq < ? RETURNING batch_id",
                    [f"superseded by FULL seq {man.seq}", man.seq],
                ).fetchall()
            ]
        # Key the ID numbers this batch brought, in the batch's transaction (a crash after the COMMIT
        # would leave an applied batch whose persons the analyst views never show): what
        # refresh_person_keys would find new, without scanning every version of every person again
        # (~0.3 s a batch at 10^6 persons).
        con.execute(
            """INSERT INTO person_keys
               SELECT id_no, person_key(id_no) FROM (
                   SELECT id_no FROM persons_checked WHERE reason_code IS NULL AND op <> 'D'
                   UNION SELECT upper(trim(id_no_raw)) FROM batch_quarantine WHERE id_no_raw IS NOT NULL
               ) n WHERE NOT EXISTS (SELECT 1 FROM person_keys k WHERE k.id_no = n.id_no)"""
        )
        con.execute("COMMIT")
    except (BatchRefused, ValidationFailed) as exc:
        rollback(con)
        ref = exc if isinstance(exc, BatchRefused) else BatchRefused(man.batch_id, f"validation failed: {exc}")
        _record_refusal(con, ref, man, man.dir, "BATCH" if isinstance(exc, BatchRefused) else "VALIDATION")
        report.refused.append(ref)
        log.info("refused: %s", ref)  # the report carries it; the CLI prints one line
        return
    except BaseException:
        rollback(con)
        raise
    report.applied.append(row)
    report.superseded += superseded
    # a batch held earlier in this run and now superseded is no longer "held back"
    report.held = [h for h in report.held if h["batch_id"] not in superseded]
    log.info("applied %s (seq %s)", man.batch_id, man.seq)


def _retry_held(con, settings: Settings, report: IngestReport) -> None:
    while True:
        last = _last_applied(con)
        nxt = con.execute(
            "SELECT source_dir, batch_id FROM push_batches WHERE status = 'HELD' AND base_seq = ? ORDER BY seq LIMIT 1",
            [last],
        ).fetchone()
        if not nxt:
            return
        try:
            man = read_manifest(nxt[0])
        except BatchRefused as ref:
            con.execute("DELETE FROM push_batches WHERE batch_id = ? AND status = 'HELD'", [nxt[1]])
            _record_refusal(con, ref, None, Path(nxt[0]), "MANIFEST")
            report.refused.append(ref)
            continue
        con.execute("DELETE FROM push_batches WHERE batch_id = ? AND status = 'HELD'", [man.batch_id])
        report.held = [h for h in report.held if h["batch_id"] != man.batch_id]
        _process(con, man, settings, report)


@refreshes_analysts
def ingest_inbox(inbox: str | Path, warehouse: str | Path, settings: Settings | None = None) -> IngestReport:
    """Ingest every batch folder waiting in ``inbox`` (folders holding a manifest.json)."""
    dirs = sorted(p.parent for p in Path(inbox).glob("*/manifest.json"))
    return ingest_batches(dirs, warehouse, settings)


# --------------------------------------------------------------------------- applications (trigger 2)


@refreshes_analysts
def load_applications(files, warehouse: str | Path, settings: Settings | None = None) -> dict:
    """Load pre-service applications (push-format.md "Applications", rules.md §3 trigger 2).

    Rows that break the format, and records that cannot be parsed (``UNPARSABLE_ROW``), are kept
    in ``applications_refused`` with a reason; a file already loaded (same sha256) is skipped.
    A file with a bad header, or that DuckDB cannot parse at all, raises ApplicationsRefused
    (nothing of it loaded; the files before it stay loaded and are skipped when given again).
    Returns counts.
    """
    settings = settings or load_settings()
    counts = {"files": 0, "accepted": 0, "refused": 0, "already loaded": 0}
    with connect(warehouse, settings=settings) as con, tempfile.TemporaryDirectory(prefix="retire-prep-") as tmp:
        for f in files:
            f = Path(f)
            # one private copy is hashed, checked and loaded: a file replaced while it is read (an
            # upload going on) must not be loaded under the tag of other bytes (issue 14 item 2)
            copy = Path(tmp) / "applications.csv"
            shutil.copyfile(f, copy)
            digest = _sha256(copy)
            tag = f"{f.name}#{digest[:16]}"
            if (
                con.execute("SELECT count(*) FROM applications WHERE source_file = ?", [tag]).fetchall()[0][0]
                or con.execute("SELECT count(*) FROM applications_refused WHERE source_file = ?", [tag]).fetchall()[0][
                    0
                ]
            ):
                counts["already loaded"] += 1
                continue
            header = _csv_header(copy)
            problem = _header_problem(header, APPLICATION_COLUMNS)
            if problem:
                raise ApplicationsRefused(f.name, problem)
            con.execute("BEGIN TRANSACTION")
            try:
                _load_csv(
                    con,
                    copy,
                    header,
                    APPLICATION_COLUMNS,
                    "_apps",
                    "_apps_rej",
                    lambda reason, row=None: ApplicationsRefused(f.name, reason, row),
                )
                # every line a record: no field of an application holds a line break, so a record
                # over several lines is a quote never closed that swallowed the rows after it
                # (DuckDB reads them as one field); refused whole, never "loaded" (issue 14)
                records = con.execute(
                    "SELECT (SELECT count(*) FROM _apps) + (SELECT count(*) FROM _apps_rej)"
                ).fetchall()[0][0]
                lines = _data_lines(copy)
                if records != lines:
                    odd = _odd_quote_line(copy)
                    raise ApplicationsRefused(
                        f.name,
                        (
                            f"the file has {lines} data lines but only {records} records can be read"
                            + (
                                f': line {odd} (the header is line 1) holds an odd number of quotes ("), so a '
                                f"quote is never closed"
                                if odd
                                else ": a record spans several lines"
                            )
                            + "; nothing of the file was loaded"
                        ),
                    )
                con.execute(render_sql("ingest/60_applications.sql", source_file=tag))
                a, r = con.execute(
                    "SELECT count(*) FILTER (reason_code IS NULL), count(*) FILTER (reason_code IS NOT NULL) "
                    "FROM _apps_checked"
                ).fetchone()
                con.execute("COMMIT")
            except BaseException:
                rollback(con)  # nothing of a refused file stays half-loaded
                raise
            counts["files"] += 1
            counts["accepted"] += a
            counts["refused"] += r
    return counts
