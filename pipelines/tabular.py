"""Writing county files: Parquet with contract column names, CSV with Chinese headers.

One data dictionary (``data/dictionary.csv``) gives every column's Chinese
header.  CSV files are UTF-8 with BOM (Excel and WPS open them correctly) and
no text cell starts with a character a spreadsheet would run as a formula
(``= + - @``, tab, CR): such a cell gets a leading apostrophe.  Numbers are
written as numbers.  Files are written to a temporary name and renamed, so a
reader never sees half a file.
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


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def safe_text_sql(expr: str) -> str:
    """SQL that neutralises a spreadsheet formula at the start of a text cell."""
    return (f"CASE WHEN regexp_matches({expr}, '^[=+\\-@\\t\\r]') THEN '''' || {expr} ELSE {expr} END")


def write_table(con: duckdb.DuckDBPyConnection, query: str, stem: Path, *, csv_only: bool = False,
                parquet_only: bool = False) -> int:
    """Write ``query``'s rows to ``stem.parquet`` and ``stem.csv``; returns the row count.

    Every column must be in the data dictionary (a missing one is an error, so
    the CSV never shows an untranslated header).  DuckDB takes no parameters in a
    view: callers inline only values they have checked (office codes, month indexes).
    """
    stem.parent.mkdir(parents=True, exist_ok=True)
    # computed once (the query may join large tables); both files are written from this copy,
    # which keeps the query's order
    con.execute(f"CREATE OR REPLACE TEMP TABLE _out AS {query}")
    cols = con.execute("DESCRIBE _out").fetchall()
    names = dictionary()
    missing = [c[0] for c in cols if c[0] not in names]
    if missing:
        raise KeyError(f"columns not in data/dictionary.csv: {missing}")
    n = con.execute("SELECT count(*) FROM _out").fetchall()[0][0]
    if not csv_only:
        # Through Arrow with every field nullable: DuckDB's own COPY marks a column NOT NULL
        # when the table's statistics happen to show no null, so the same rows could give
        # different bytes in another month; the schema must depend on the contract only.
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = con.sql("SELECT * FROM _out").to_arrow_table()
        table = table.cast(pa.schema([f.with_nullable(True) for f in table.schema]))
        tmp = stem.with_name(stem.name + ".parquet.tmp")
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, stem.with_suffix(".parquet"))
    if not parquet_only:
        sel = []
        for name, typ, *_ in cols:
            q = _quote_ident(name)
            expr = safe_text_sql(q) if typ.upper() == "VARCHAR" else q
            sel.append(f"{expr} AS {_quote_ident(names[name])}")
        body = stem.with_name(stem.name + ".csv.body")
        con.execute(f"COPY (SELECT {', '.join(sel)} FROM _out) TO '{body}' (FORMAT csv, HEADER true)")
        tmp = stem.with_name(stem.name + ".csv.tmp")
        with open(tmp, "wb") as fo, open(body, "rb") as fi:
            fo.write(BOM)
            while chunk := fi.read(1 << 20):
                fo.write(chunk)
        body.unlink()
        os.replace(tmp, stem.with_suffix(".csv"))
    con.execute("DROP TABLE _out")
    return n
