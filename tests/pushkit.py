"""Hand-made push batches for tests: a person is a dict, the batch is written per push-format.md."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

from pipelines.identifiers import id_check_char
from pipelines.ingest import PERSON_COLUMNS, SEGMENT_COLUMNS


def make_id(prefix: str = "640104", birth: str = "19660315", seq: int = 1, gender: int = 1) -> str:
    """A valid GB 11643 number: sequence parity follows gender (odd = male)."""
    s3 = seq * 2 + (1 if gender == 1 else 0)
    s3 = s3 % 1000
    first17 = f"{prefix}{birth}{s3:03d}"
    return first17 + id_check_char(first17)


def person(n: int = 1, **kw) -> dict:
    """A 110 man born 1966-03 in Xingqing (640104), contributing, with a valid mobile."""
    gender = int(kw.get("gender", 1))
    birth = kw.get("birth_date", "19660315")
    row = {
        "op": "", "id_no": make_id(birth=birth, seq=n, gender=gender), "name": f"测试{n}",
        "gender": str(gender), "birth_date": birth, "insurance_type": "110", "person_type": "2",
        "hukou_region": "640104", "insured_region": "640104", "benefit_region_ministry": "640100",
        "employer_uscc": "91640100710645234G", "employer_name": "宁夏测试有限公司",
        "phone": "13912345678", "contribution_status": "1", "retired": "0", "survival_status": "1",
        "actual_contribution_months": "300", "deemed_months": "", "deemed_status": "0",
        "deemed_region": "", "arrears_months": "0",
    }
    row.update({k: str(v) for k, v in kw.items()})
    return row


def segment(id_no: str, region="640104", start="199001", end="202012", status=1) -> dict:
    return {"id_no": id_no, "region_code": region, "start_month": start, "end_month": end,
            "relation_status": str(status)}


def _csv_bytes(rows, columns, encoding="UTF-8", bom=False) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: r.get(c, "") for c in columns})
    data = buf.getvalue().encode("gb18030" if encoding == "GB18030" else "utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


def write_batch(folder: Path, persons, segments, *, seq=1, push_type="FULL", base_seq=None,
                batch_id=None, month="2026-11", encoding="UTF-8", bom=False, fmt="csv",
                rows_override: dict | None = None, raw_files: dict | None = None) -> Path:
    """Write a batch folder. ``raw_files`` replaces a file's bytes (for broken CSV)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for kind, rows, cols in (("persons", persons, PERSON_COLUMNS), ("segments", segments, SEGMENT_COLUMNS)):
        name = f"{kind}.{fmt}"
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.table({c: [r.get(c, "") for r in rows] for c in cols},
                             schema=pa.schema([(c, pa.string()) for c in cols]))
            pq.write_table(table, folder / name)
            data = (folder / name).read_bytes()
        else:
            data = (raw_files or {}).get(kind) or _csv_bytes(rows, cols, encoding, bom)
            (folder / name).write_bytes(data)
        n = len(rows)
        if rows_override and kind in rows_override:
            n = rows_override[kind]
        files[name] = {"rows": n, "sha256": hashlib.sha256(data).hexdigest()}
    manifest = {
        "batch_id": batch_id or f"NX-{month}-{seq:04d}", "province": "640000", "push_type": push_type,
        "data_month": month, "seq": seq, "base_seq": base_seq,
        "generated_at": f"{month}-05T02:00:00+08:00", "schema_version": "1.0",
        "encoding": encoding, "files": files,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return folder
