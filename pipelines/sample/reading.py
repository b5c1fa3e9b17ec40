"""Reading a batch folder back, streaming (an INCR or an applications file is drawn from a previous
batch of any size): manifest, data files as text columns in contract order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np

from ..contract import PERSON_COLUMNS, SEGMENT_COLUMNS


def read_manifest(batch_dir: Path) -> dict:
    return json.loads((batch_dir / "manifest.json").read_text(encoding="utf-8-sig"))


def data_file(batch_dir: Path, manifest: dict, kind: str) -> Path:
    for name in manifest.get("files", {}):
        if name.startswith(kind + "."):
            return batch_dir / name
    raise FileNotFoundError(f"{batch_dir}: manifest names no {kind} file")


def record_batches(batch_dir, kind: str, batch_rows: int = 65_536):
    """Stream a batch's persons or segments file as pyarrow RecordBatches of text columns,
    in contract order (missing columns empty, nulls as ''); CSV (UTF-8 with or without BOM,
    GB18030) or Parquet (text or typed columns)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    batch_dir = Path(batch_dir)
    manifest = read_manifest(batch_dir)
    path = data_file(batch_dir, manifest, kind)
    columns = PERSON_COLUMNS if kind == "persons" else SEGMENT_COLUMNS
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        source = pq.ParquetFile(path).iter_batches(batch_size=batch_rows)
    else:
        import pyarrow.csv as pacsv

        codec = "gb18030" if manifest.get("encoding") == "GB18030" else "utf8"  # Arrow skips a UTF-8 BOM
        source = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=codec, block_size=1 << 22, use_threads=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    for rb in source:
        names = rb.schema.names
        arrays = []
        for c in columns:
            if c in names:
                arr = rb.column(names.index(c))
                if arr.type != pa.string():
                    arr = arr.cast(pa.string())
                arrays.append(pc.fill_null(arr, ""))
            else:
                arrays.append(pa.array([""] * rb.num_rows, pa.string()))
        yield pa.RecordBatch.from_arrays(arrays, names=list(columns))


def iter_batch_rows(batch_dir, kind: str, batch_rows: int = 65_536) -> Iterator[dict[str, list[str]]]:
    """Stream a batch's persons or segments file as column dicts of text (CSV or Parquet)."""
    for rb in record_batches(batch_dir, kind, batch_rows):
        yield {name: rb.column(i).to_pylist() for i, name in enumerate(rb.schema.names)}


def collect_rows(batches, wanted: np.ndarray, extra_keys=()) -> tuple[dict[int, dict], dict[str, int]]:
    """Rows at the global positions ``wanted`` (one streaming pass), and how often each of
    their (trimmed, upper-cased) id_no, and each of ``extra_keys``, occurs in the whole file."""
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = np.sort(np.asarray(wanted, dtype=np.int64))
    rows: dict[int, dict] = {}
    ids = []
    offset = 0
    for rb in batches:
        m = rb.num_rows
        ids.append(pc.utf8_upper(pc.utf8_trim_whitespace(rb.column(rb.schema.names.index("id_no")))))
        lo, hi = np.searchsorted(wanted, [offset, offset + m])
        if hi > lo:
            local = wanted[lo:hi] - offset
            for pos, row in zip(wanted[lo:hi].tolist(), rb.take(pa.array(local)).to_pylist()):
                rows[pos] = row
        offset += m
    keys = sorted({r["id_no"].strip().upper() for r in rows.values()} | set(extra_keys))
    counts: dict[str, int] = {}
    if keys and ids:
        all_ids = pa.chunked_array(ids, pa.string())
        vc = pc.value_counts(pc.filter(all_ids, pc.is_in(all_ids, pa.array(keys, pa.string()))))
        counts = {d["values"]: d["counts"] for d in vc.to_pylist()}
    return rows, counts
