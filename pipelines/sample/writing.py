"""Writing a batch folder: data files chunk by chunk (CSV or Parquet, hashed as written) and the
manifest (push-format.md)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path


class TableWriter:
    """Writes one data file chunk by chunk (CSV or Parquet) and hashes its bytes."""

    def __init__(self, path: Path, columns: tuple[str, ...], fmt: str, encoding: str, bom: bool):
        self.path, self.columns, self.fmt = path, columns, fmt
        self.codec = "gb18030" if encoding == "GB18030" else "utf-8"
        self.rows = 0
        self.sha = hashlib.sha256()
        if fmt == "csv":
            self.fh = open(path, "wb")
            head = (",".join(columns) + "\n").encode(self.codec)
            if bom:
                head = b"\xef\xbb\xbf" + head
            self._out(head)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            self.schema = pa.schema([(c, pa.string()) for c in columns])
            self.pw = pq.ParquetWriter(path, self.schema, compression="zstd")

    def _out(self, data: bytes) -> None:
        self.fh.write(data)
        self.sha.update(data)

    def write(self, cols: dict[str, list[str]]) -> None:
        n = len(cols[self.columns[1]])
        if n == 0:
            return
        self.rows += n
        if self.fmt == "csv":
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(zip(*(cols[c] for c in self.columns)))
            self._out(buf.getvalue().encode(self.codec))
        else:
            import pyarrow as pa

            self.pw.write_table(pa.table({c: pa.array(cols[c], pa.string()) for c in self.columns}, schema=self.schema))

    def close(self) -> dict:
        if self.fmt == "csv":
            self.fh.close()
        else:
            self.pw.close()
            with open(self.path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    self.sha.update(block)
        return {"rows": self.rows, "sha256": self.sha.hexdigest()}


def _generated_at(month: str, seq: int) -> str:
    return f"{month}-02T03:{seq % 60:02d}:00+08:00"


def prepare_dir(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in ("manifest.json", "persons.csv", "persons.parquet", "segments.csv", "segments.parquet"):
        p = out / name
        if p.exists():
            p.unlink()


def write_manifest(out: Path, manifest: dict) -> None:
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def manifest_of(*, batch_id: str, push_type: str, month: str, seq: int, base_seq, encoding: str, files: dict) -> dict:
    """The manifest of a generated batch (``generated_at`` derived from month and seq: no clock)."""
    return {
        "batch_id": batch_id,
        "province": "640000",
        "push_type": push_type,
        "data_month": month,
        "seq": seq,
        "base_seq": base_seq,
        "generated_at": _generated_at(month, seq),
        "schema_version": "1.0",
        "encoding": encoding,
        "files": files,
    }
