"""Writing county files: Parquet with contract column names, CSV with Chinese headers.

One data dictionary (``data/dictionary.csv``) gives every column's Chinese
header.  CSV files are UTF-8 with BOM (Excel and WPS open them correctly) and
no text cell starts with a character a spreadsheet would run as a formula
(``= + - @``, tab, CR): such a cell gets a leading apostrophe.  Numbers are
written as numbers; text cells are quoted (pyarrow's CSV writer), an empty cell is NULL.
Files are written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import os
from functools import lru_cache
from pathlib import Path

import duckdb

from . import DATA_DIR

BOM = b"\xef\xbb\xbf"


@lru_cache(maxsize=1)
def dictionary() -> dict[str, str]:
    """Column name → Chinese header, from data/dictionary.csv."""
    with open(DATA_DIR / "dictionary.csv", encoding="utf-8", newline="") as fh:
        return {r["column"]: r["header_zh"] for r in csv.DictReader(fh)}


# first characters a spreadsheet runs as a formula
_FORMULA_FIRST = ("=", "+", "-", "@", "\t", "\r")


def safe_text(column):
    """A text column with a leading apostrophe on every cell a spreadsheet would run as a
    formula (first character ``= + - @``, tab or CR); other cells and nulls unchanged."""
    import pyarrow as pa
    import pyarrow.compute as pc

    first = pc.utf8_slice_codeunits(column, 0, 1)
    risky = pc.is_in(first, value_set=pa.array(_FORMULA_FIRST))
    if not pc.any(risky).as_py():
        return column
    return pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)


# rows per Arrow batch read from DuckDB, and per Parquet row group (DuckDB's own row group size):
# a file is written as its rows come, so memory is bounded by these, not by the file's size
BATCH_ROWS = 65_536
ROW_GROUP_ROWS = 122_880


class Batches:
    """A stream of Arrow record batches with their schema (what :func:`write_arrow` takes besides a
    whole table): read once, in order."""

    def __init__(self, schema, batches):
        self.schema = schema
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)


def _stream(data) -> Batches:
    if isinstance(data, Batches):
        return data
    # a pyarrow Table (or anything with .schema and .to_batches())
    return Batches(data.schema, data.to_batches())


def write_arrow(data, stem: Path, *, csv_only: bool = False, parquet_only: bool = False) -> int:
    """Write Arrow rows to ``stem.parquet`` and ``stem.csv``; returns the row count.

    ``data`` is a pyarrow Table or a :class:`Batches` stream: the rows are written batch by batch
    as they come (Parquet in row groups of :data:`ROW_GROUP_ROWS`), so a file of any size takes
    memory for one row group only.  Parquet keeps the contract's column names, every field nullable
    (the schema depends on the contract only, never on whether a month happens to have no null);
    the CSV gets the Chinese headers, the BOM and formula-safe text cells.  Both are written to a
    temporary name and renamed when complete.  Every column must be in the data dictionary (a
    missing one is an error, so the CSV never shows an untranslated header).
    """
    # One piece (issue 15): the two files are written from the same stream in one pass; split,
    # the writers' life cycles (open, batch, close or remove on failure) would cross functions.
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    data = _stream(data)
    names = dictionary()
    missing = [c for c in data.schema.names if c not in names]
    if missing:
        raise KeyError(f"columns not in data/dictionary.csv: {missing}")
    stem.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([f.with_nullable(True) for f in data.schema])
    shown_schema = pa.schema([pa.field(names[f.name], f.type) for f in schema])
    tmp_pq = stem.with_name(stem.name + ".parquet.tmp")
    tmp_csv = stem.with_name(stem.name + ".csv.tmp")
    pw = fh = cw = None
    rows = 0
    try:
        if not csv_only:
            pw = pq.ParquetWriter(tmp_pq, schema, compression="zstd")
        if not parquet_only:
            fh = open(tmp_csv, "wb")
            fh.write(BOM)
            cw = pacsv.CSVWriter(fh, shown_schema)
        pending: list = []  # batches of the Parquet row group being filled
        pending_rows = 0
        for batch in data:
            if not batch.num_rows:
                continue
            batch = batch.cast(schema)
            rows += batch.num_rows
            if pw is not None:
                pending.append(batch)
                pending_rows += batch.num_rows
                while pending_rows >= ROW_GROUP_ROWS:
                    group = pa.Table.from_batches(pending, schema)
                    pw.write_table(group.slice(0, ROW_GROUP_ROWS))
                    rest = group.slice(ROW_GROUP_ROWS)
                    pending, pending_rows = rest.to_batches(), rest.num_rows
            if cw is not None:
                columns = [
                    safe_text(c) if pa.types.is_string(c.type) or pa.types.is_large_string(c.type) else c
                    for c in batch.columns
                ]
                cw.write_batch(pa.RecordBatch.from_arrays(columns, schema=shown_schema))
        if pw is not None:
            if pending_rows or not rows:
                pw.write_table(pa.Table.from_batches(pending, schema))
            pw.close()
            pw = None
        if cw is not None:
            cw.close()
            fh.close()
            cw = fh = None
    except BaseException as exc:
        for w in (pw, cw, fh):
            if w is not None:
                try:
                    w.close()
                except Exception:
                    pass
        for t in (tmp_pq, tmp_csv):
            t.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
            # pyarrow's writers name no file ("[Errno 28] No space left on device"): the one line of
            # the command line must say where (issue 14 item 8)
            raise OSError(exc.errno, os.strerror(exc.errno), str(stem.parent)) from exc
        raise
    if not csv_only:
        os.replace(tmp_pq, stem.with_suffix(".parquet"))
    if not parquet_only:
        os.replace(tmp_csv, stem.with_suffix(".csv"))
    return rows


def _reader(con: duckdb.DuckDBPyConnection, query: str):
    """``query``'s rows as a stream of Arrow batches (DuckDB computes them once; they are not all
    held in memory at once)."""
    return con.sql(query).to_arrow_reader(BATCH_ROWS)


def write_table(
    con: duckdb.DuckDBPyConnection, query: str, stem: Path, *, csv_only: bool = False, parquet_only: bool = False
) -> int:
    """Write ``query``'s rows (computed once, in the query's order, streamed) to ``stem.parquet``
    and ``stem.csv`` through :func:`write_arrow`; returns the row count.

    DuckDB takes no parameters in a view: callers inline only values they have checked
    (office codes, month indexes).
    """
    reader = _reader(con, query)
    return write_arrow(Batches(reader.schema, reader), stem, csv_only=csv_only, parquet_only=parquet_only)


def write_partitioned(
    con: duckdb.DuckDBPyConnection,
    query: str,
    by: str,
    stem_of,
    keys,
    *,
    csv_only: bool = False,
    parquet_only: bool = False,
) -> dict[str, int]:
    """One query, one file pair per key: ``query``'s rows (computed once, in its order, which
    must put ``by`` first) split on column ``by``, which is left out of the files.  Every key of
    ``keys`` gets its files, empty (headers only) when it has no row; rows of a key not in
    ``keys`` are an error, so nothing is dropped unnoticed.  Returns the rows written per key.

    The rows are streamed: each key's files are written as its run of rows comes out of DuckDB
    (one key after the other, in the query's order), then the keys without rows; memory holds a
    batch and a row group, never the whole result.  An error (a stray key, keys not together)
    is raised when the offending rows come: files of the keys before it are written by then
    (callers write into a staging folder that is only published whole).
    """
    import itertools

    import pyarrow as pa
    import pyarrow.compute as pc

    reader = _reader(con, query)
    keys = list(keys)
    wanted = set(keys)
    schema = reader.schema
    out_schema = pa.schema([f for f in schema if f.name != by])

    def runs():
        for batch in reader:
            if not batch.num_rows:
                continue
            ends = pc.run_end_encode(batch.column(by))
            start = 0
            for value, end in zip(ends.values.to_pylist(), ends.run_ends.to_pylist()):
                yield value, batch.slice(start, end - start).drop_columns([by])
                start = end

    written: dict = {}
    for value, group in itertools.groupby(runs(), key=lambda r: r[0]):
        if value in written:
            raise ValueError(f"rows of {by} {value} are not together: the query must order by {by} first")
        if value not in wanted:
            raise ValueError(f"rows for {by} {[str(value)]} have no file to go to")
        written[value] = write_arrow(
            Batches(out_schema, (b for _, b in group)), stem_of(value), csv_only=csv_only, parquet_only=parquet_only
        )
    for key in keys:
        if key not in written:
            written[key] = write_arrow(
                Batches(out_schema, []), stem_of(key), csv_only=csv_only, parquet_only=parquet_only
            )
    return {key: written[key] for key in keys}
