"""One push batch folder: FULL here, INCR in :mod:`.incr`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..contract import PERSON_COLUMNS, SEGMENT_COLUMNS
from . import draw
from .arrays import parse_month_arg
from .breakage import break_persons, break_segments
from .context import new_context
from .writing import TableWriter, manifest_of, prepare_dir, write_manifest

# random streams: numpy.random.default_rng([seed, STREAM, chunk or seq])
STREAM_PERSONS, STREAM_BREAKAGE = 0, 1


def _check_arguments(encoding: str, fmt: str, bom: bool, bad_rows: float, persons: int, changes: int) -> None:
    if encoding not in ("UTF-8", "GB18030"):
        raise ValueError(f"encoding must be UTF-8 or GB18030, got {encoding!r}")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be csv or parquet, got {fmt!r}")
    if bom and encoding != "UTF-8":
        raise ValueError("a BOM is only allowed with UTF-8")
    if not 0.0 <= bad_rows <= 1.0:
        raise ValueError("bad_rows is a share between 0 and 1")
    if persons < 0 or changes < 0:
        raise ValueError("persons and changes must be ≥ 0")


def generate_batch(
    out_dir,
    *,
    persons: int = 0,
    month: str,
    seed: int = 1,
    encoding: str = "UTF-8",
    fmt: str = "csv",
    bad_rows: float = 0.0,
    incr_from=None,
    changes: int = 0,
    seq: int | None = None,
    batch_id: str | None = None,
    bom: bool = False,
    progress=None,
) -> dict:
    """Write one push batch folder (push-format.md) and return its manifest.

    FULL (``incr_from`` None): ``persons`` synthetic persons for data month ``month``
    (``YYYY-MM``), seq ``seq`` (default 1). INCR (``incr_from`` = a previous batch
    folder): ``changes`` changed persons on top of it, seq = previous seq + 1 unless
    given, base_seq = previous seq (``persons`` is ignored). ``encoding`` UTF-8 or
    GB18030 (CSV only), ``bom`` a UTF-8 BOM on the CSV files, ``fmt`` csv or parquet
    (text columns). ``bad_rows`` the share of rows that break the contract.
    ``progress`` an optional callable ``(done, total)`` called after each chunk.
    """
    month_idx = parse_month_arg(month)
    _check_arguments(encoding, fmt, bom, bad_rows, persons, changes)
    out = Path(out_dir)
    if incr_from is not None:
        from .incr import generate_incr

        return generate_incr(
            out,
            Path(incr_from),
            month_idx=month_idx,
            month=month,
            seed=seed,
            encoding=encoding,
            fmt=fmt,
            bad_rows=bad_rows,
            changes=changes,
            seq=seq,
            batch_id=batch_id,
            bom=bom,
        )
    seq = 1 if seq is None else int(seq)
    if seq < 1:
        raise ValueError("seq must be ≥ 1")
    prepare_dir(out)
    ctx = new_context(month_idx, seed)
    person_writer = TableWriter(out / f"persons.{fmt}", PERSON_COLUMNS, fmt, encoding, bom)
    segment_writer = TableWriter(out / f"segments.{fmt}", SEGMENT_COLUMNS, fmt, encoding, bom)
    done = 0
    for chunk_no, n in draw.chunks(persons):
        drawn = draw.draw_chunk(ctx, np.random.default_rng([seed, STREAM_PERSONS, chunk_no]), n)
        breakage_rng = np.random.default_rng([seed, STREAM_BREAKAGE, chunk_no])
        person_cols = drawn["persons"]
        break_persons(person_cols, bad_rows, breakage_rng)
        segment_cols = draw.segment_columns_with_ids(drawn, person_cols["id_no"])
        break_segments(segment_cols, bad_rows, breakage_rng)
        person_writer.write(person_cols)
        segment_writer.write(segment_cols)
        done += n
        if progress:
            progress(done, persons)
    files = {f"persons.{fmt}": person_writer.close(), f"segments.{fmt}": segment_writer.close()}
    manifest = manifest_of(
        batch_id=batch_id or f"NX640000-{month.replace('-', '')}-FULL-{seq:04d}",
        push_type="FULL",
        month=month,
        seq=seq,
        base_seq=None,
        encoding=encoding,
        files=files,
    )
    write_manifest(out, manifest)
    return manifest
