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
import re
from contextlib import contextmanager
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


def write_arrow(table, stem: Path, *, csv_only: bool = False, parquet_only: bool = False) -> int:
    """Write an Arrow table to ``stem.parquet`` and ``stem.csv``; returns the row count.

    Parquet keeps the contract's column names, every field nullable (the schema depends on the
    contract only, never on whether a month happens to have no null); the CSV gets the Chinese
    headers, the BOM and formula-safe text cells.  Both are written to a temporary name and
    renamed.  Every column must be in the data dictionary (a missing one is an error, so the
    CSV never shows an untranslated header).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    names = dictionary()
    missing = [c for c in table.column_names if c not in names]
    if missing:
        raise KeyError(f"columns not in data/dictionary.csv: {missing}")
    stem.parent.mkdir(parents=True, exist_ok=True)
    table = table.cast(pa.schema([f.with_nullable(True) for f in table.schema]))
    if not csv_only:
        tmp = stem.with_name(stem.name + ".parquet.tmp")
        with _named(tmp):
            pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, stem.with_suffix(".parquet"))
    if not parquet_only:
        columns = [safe_text(c) if pa.types.is_string(c.type) or pa.types.is_large_string(c.type) else c
                   for c in table.columns]
        shown = pa.table(columns, names=[names[c] for c in table.column_names])
        tmp = stem.with_name(stem.name + ".csv.tmp")
        with _named(tmp), open(tmp, "wb") as fh:
            fh.write(BOM)
            pacsv.write_csv(shown, fh)
        os.replace(tmp, stem.with_suffix(".csv"))
    return table.num_rows


@contextmanager
def _named(path: Path):
    """An OSError of pyarrow's writers carries no file name ("[Errno 28] No space left on
    device"): give it the file's, so the one line of the command line says where (issue 14
    item 8)."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path)) from exc
        raise


def write_table(con: duckdb.DuckDBPyConnection, query: str, stem: Path, *, csv_only: bool = False,
                parquet_only: bool = False) -> int:
    """Write ``query``'s rows (computed once, in the query's order) to ``stem.parquet`` and
    ``stem.csv`` through :func:`write_arrow`; returns the row count.

    DuckDB takes no parameters in a view: callers inline only values they have checked
    (office codes, month indexes).
    """
    return write_arrow(con.sql(query).to_arrow_table(), stem, csv_only=csv_only, parquet_only=parquet_only)


def sql_codes(codes) -> str:
    """Codes as a SQL list of text literals (``'640104', '640105'``), for the ``IN (…)`` of a
    :func:`write_partitioned` query.  Only for codes of [0-9A-Za-z]; anything else is an error."""
    codes = list(codes)
    bad = [c for c in codes if not (isinstance(c, str) and re.fullmatch(r"[0-9A-Za-z]{1,20}", c))]
    if bad:
        raise ValueError(f"not a code: {bad[0]!r}")
    return ", ".join(f"'{c}'" for c in codes)


def write_partitioned(con: duckdb.DuckDBPyConnection, query: str, by: str, stem_of, keys, *,
                      csv_only: bool = False, parquet_only: bool = False) -> dict[str, int]:
    """One query, one file pair per key: ``query``'s rows (computed once, in its order, which
    must put ``by`` first) split on column ``by``, which is left out of the files.  Every key of
    ``keys`` gets its files, empty (headers only) when it has no row; rows of a key not in
    ``keys`` are an error, so nothing is dropped unnoticed.  Returns the rows written per key.
    """
    import pyarrow.compute as pc

    table = con.sql(query).to_arrow_table()
    keys = list(keys)
    parts: dict = {}
    if table.num_rows:
        # the query orders by ``by`` first: each key is one run of rows, sliced without copying
        runs = pc.run_end_encode(table[by].combine_chunks())
        start = 0
        for value, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist()):
            if value in parts:
                raise ValueError(f"rows of {by} {value} are not together: the query must order by {by} first")
            parts[value] = table.slice(start, end - start)
            start = end
    stray = sorted(str(k) for k in set(parts) - set(keys))
    if stray:
        raise ValueError(f"rows for {by} {stray} have no file to go to")

    def write(key):
        part = parts.get(key, table.slice(0, 0))
        return write_arrow(part.drop_columns([by]), stem_of(key), csv_only=csv_only, parquet_only=parquet_only)

    # files are independent and pyarrow writes without Python's lock: two at a time
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(2, max(1, len(keys))), thread_name_prefix="files") as pool:
        return dict(zip(keys, pool.map(write, keys)))
