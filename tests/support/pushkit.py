"""Hand-made push batches for tests: a person is a dict, the batch is written per push-format.md."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
from pathlib import Path

from pipelines import PROJECT_ROOT
from pipelines.identifiers import id_check_char
from pipelines.ingest import PERSON_COLUMNS, SEGMENT_COLUMNS
from pipelines.offices import fixed_office_codes, listed_office_codes

# the rule vectors are kept in the repository (tests/vectors, copied from the spec's vectors/,
# see tests/vectors/SOURCE.md); the spec's prose documents may sit beside the checkout in ../shared/spec
SPEC = PROJECT_ROOT.parent / "shared" / "spec"
VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def read_vectors(name: str) -> list[dict]:
    """The rows of one rule vector file of tests/vectors (a clear error when it is missing)."""

    path = VECTORS / name
    if not path.exists():
        raise FileNotFoundError(f"rule vectors missing: {path} (tests/vectors is part of the repository)")
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


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
        "op": "",
        "id_no": make_id(birth=birth, seq=n, gender=gender),
        "name": f"测试{n}",
        "gender": str(gender),
        "birth_date": birth,
        "insurance_type": "110",
        "person_type": "2",
        "hukou_region": "640104",
        "insured_region": "640104",
        "benefit_region_ministry": "640100",
        "employer_uscc": "91640100710645234G",
        "employer_name": "宁夏测试有限公司",
        "phone": "13912345678",
        "contribution_status": "1",
        "retired": "0",
        "survival_status": "1",
        "actual_contribution_months": "300",
        "deemed_months": "",
        "deemed_status": "0",
        "deemed_region": "",
        "arrears_months": "0",
    }
    row.update({k: str(v) for k, v in kw.items()})
    return row


def segment(id_no: str, region="640104", start="199001", end="202012", status=1) -> dict:
    return {
        "id_no": id_no,
        "region_code": region,
        "start_month": start,
        "end_month": end,
        "relation_status": str(status),
    }


def _csv_bytes(rows, columns, encoding="UTF-8", bom=False) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: r.get(c, "") for c in columns})
    data = buf.getvalue().encode("gb18030" if encoding == "GB18030" else "utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


def write_batch(
    folder: Path,
    persons,
    segments,
    *,
    seq=1,
    push_type="FULL",
    base_seq=None,
    batch_id=None,
    month="2026-11",
    encoding="UTF-8",
    bom=False,
    fmt="csv",
    rows_override: dict | None = None,
    raw_files: dict | None = None,
) -> Path:
    """Write a batch folder. ``raw_files`` replaces a file's bytes (for broken CSV)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for kind, rows, cols in (("persons", persons, PERSON_COLUMNS), ("segments", segments, SEGMENT_COLUMNS)):
        name = f"{kind}.{fmt}"
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.table(
                {c: [r.get(c, "") for r in rows] for c in cols}, schema=pa.schema([(c, pa.string()) for c in cols])
            )
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
        "batch_id": batch_id or f"NX-{month}-{seq:04d}",
        "province": "640000",
        "push_type": push_type,
        "data_month": month,
        "seq": seq,
        "base_seq": base_seq,
        "generated_at": f"{month}-05T02:00:00+08:00",
        "schema_version": "1.0",
        "encoding": encoding,
        "files": files,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return folder


# --------------------------------------------------------------------------- helpers for tests/test_ingest*.py


def population(n: int, start: int = 1, segs_per: int = 2, **kw) -> tuple[list[dict], list[dict]]:
    """``n`` valid persons (numbers ``start`` …) and ``segs_per`` segments each, in file order."""
    persons = [person(i, **kw) for i in range(start, start + n)]
    segs = []
    for p in persons:
        for j in range(segs_per):
            segs.append(segment(p["id_no"], start=f"{1990 + 10 * j}01", end=f"{1999 + 10 * j}12"))
    return persons, segs


def csv_text(rows, columns=None, header=None, line_end="\n") -> str:
    """CSV text (header + rows) as pushkit writes it, with the header ``header`` if given."""
    columns = list(columns or PERSON_COLUMNS)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=line_end)
    w.writerow(header or columns)
    for r in rows:
        w.writerow([r.get(c, "") for c in columns])
    return buf.getvalue()


def edit_manifest(folder: Path, **changes) -> dict:
    """Change keys of a written manifest (``files=...`` replaces the files object). Returns it."""
    mpath = Path(folder) / "manifest.json"
    m = json.loads(mpath.read_text(encoding="utf-8"))
    m.update(changes)
    mpath.write_text(json.dumps(m, ensure_ascii=False, indent=2), encoding="utf-8")
    return m


def rehash(folder: Path) -> dict:
    """Recompute the manifest's sha256 (and keep rows) after a file was rewritten on purpose."""
    folder = Path(folder)
    m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for name, info in m["files"].items():
        if (folder / name).is_file():
            info["sha256"] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(m, ensure_ascii=False, indent=2), encoding="utf-8")
    return m


# Parquet with the matching types (push-format.md "Parquet files may hold the columns as text
# or as the matching types"): integers, a DATE for birth_date, a boolean for retired.
_PARQUET_INT_COLUMNS = {
    "gender",
    "insurance_type",
    "person_type",
    "contribution_status",
    "survival_status",
    "actual_contribution_months",
    "deemed_months",
    "deemed_status",
    "arrears_months",
    "start_month",
    "end_month",
    "relation_status",
}


def write_typed_parquet(
    folder: Path,
    persons,
    segments,
    *,
    seq=1,
    push_type="FULL",
    base_seq=None,
    batch_id=None,
    month="2026-11",
    bool_retired: bool = False,
) -> Path:
    """Like ``write_batch(fmt='parquet')`` but with typed columns: int64 for codes and counts,
    date32 for birth_date, and (``bool_retired``) a boolean for retired."""
    import datetime as _dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for kind, rows, cols in (("persons", persons, PERSON_COLUMNS), ("segments", segments, SEGMENT_COLUMNS)):
        arrays, fields = [], []
        for c in cols:
            vals = [r.get(c, "") for r in rows]
            if c == "birth_date":
                arrays.append(
                    pa.array([_dt.date(int(v[:4]), int(v[4:6]), int(v[6:])) if v else None for v in vals], pa.date32())
                )
            elif c == "retired" and bool_retired:
                arrays.append(pa.array([None if v == "" else v == "1" for v in vals], pa.bool_()))
            elif c in _PARQUET_INT_COLUMNS:
                arrays.append(pa.array([None if v == "" else int(v) for v in vals], pa.int64()))
            else:
                arrays.append(pa.array([None if v == "" else v for v in vals], pa.string()))
            fields.append(pa.field(c, arrays[-1].type))
        name = f"{kind}.parquet"
        pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), folder / name)
        files[name] = {"rows": len(rows), "sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest()}
    manifest = {
        "batch_id": batch_id or f"NX-{month}-{seq:04d}",
        "province": "640000",
        "push_type": push_type,
        "data_month": month,
        "seq": seq,
        "base_seq": base_seq,
        "generated_at": f"{month}-05T02:00:00+08:00",
        "schema_version": "1.0",
        "encoding": "UTF-8",
        "files": files,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return folder


# --------------------------------------------------------------------------- big batches, fast

_GEN_PREFIXES = (
    "640104",
    "640105",
    "640106",
    "640121",
    "640122",
    "640181",
    "640202",
    "640205",
    "640221",
    "640302",
    "640303",
    "640323",
    "640324",
    "640381",
    "640402",
    "640422",
    "640423",
    "640424",
    "640425",
    "640502",
    "640521",
    "640522",
    "642223",
    "110101",
)
# The offices of write_generated_batch's persons, from data/offices.csv (pipelines.offices): the county-level
# offices in file order, then Yinchuan's city centre and Ningdong. Not all 29 (pipelines.offices.office_codes):
# this plain writer only needs county offices plus one city centre and Ningdong, and its persons are assigned by
# position in this list, so the same 24 codes in the same order keep every size and crash test's batch the same.
_GEN_OFFICES = (
    *(c for c in listed_office_codes() if not c.endswith("00")),
    "640100",
    *(c for c in listed_office_codes() if c not in fixed_office_codes()),  # Ningdong (640900)
)
_ID_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def write_generated_batch(
    folder: Path,
    persons: int,
    *,
    seq: int = 1,
    push_type: str = "FULL",
    base_seq: int | None = None,
    first: int = 0,
    every: int = 1,
    variant: int = 0,
    op: str | None = None,
    month: str = "2026-11",
    batch_id: str | None = None,
    threads: int | None = None,
) -> Path:
    """A valid batch of generated persons, written by DuckDB (about a second per 10^6 persons).

    Person ``i`` (``first <= i < first + persons``, only every ``every``-th) has a fixed ID
    number; ``variant`` changes phone, contribution months and the number of segments, so a
    batch with another variant updates the same persons.  1 + (i + variant) % 3 segments each.
    ``op`` defaults to '' for FULL and 'U' for INCR.  Not the project's sample generator: a
    plain, fast writer for size and crash tests.
    """
    import duckdb

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    op = ("" if push_type == "FULL" else "U") if op is None else op
    k = len(_GEN_PREFIXES)
    prefixes = "[" + ", ".join(f"'{p}'" for p in _GEN_PREFIXES) + "]"
    offices = "[" + ", ".join(f"'{p}'" for p in _GEN_OFFICES) + "]"
    check = " + ".join(f"(ascii(substr(f17, {j + 1}, 1)) - 48) * {w}" for j, w in enumerate(_ID_W))
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute(f"""
        CREATE TEMP TABLE gen AS
        WITH base AS (
            SELECT i,
                   {prefixes}[1 + i % {k}] || strftime(DATE '1960-01-01' + CAST((i // {k}) // 1000 % 5000 AS INTEGER), '%Y%m%d')
                     || lpad(CAST((i // {k}) % 1000 AS VARCHAR), 3, '0') AS f17,
                   strftime(DATE '1960-01-01' + CAST((i // {k}) // 1000 % 5000 AS INTEGER), '%Y%m%d') AS birth,
                   CASE WHEN (i // {k}) % 2 = 1 THEN '1' ELSE '2' END AS gender,
                   CASE WHEN i % 7 = 0 THEN '170' ELSE '110' END AS ins
            FROM range({first}, {first + persons}) t(i)
            WHERE i % {every} = 0
        )
        SELECT i, f17 || substr('10X98765432', 1 + ({check}) % 11, 1) AS id_no, birth, gender, ins FROM base
    """)
    con.execute(f"""
        COPY (
            SELECT {f"'{op}'" if op else "NULL"} AS op, id_no, '测试' || i AS name, gender, birth AS birth_date, ins AS insurance_type,
                   CASE WHEN ins = '110' THEN CAST(1 + i % 3 AS VARCHAR) END AS person_type,
                   substr(id_no, 1, 6) AS hukou_region, {offices}[1 + (i // 7) % {len(_GEN_OFFICES)}] AS insured_region,
                   '640100' AS benefit_region_ministry,
                   CASE WHEN ins = '110' THEN '91640100710645234G' END AS employer_uscc,
                   CASE WHEN ins = '110' THEN '宁夏测试有限公司' END AS employer_name,
                   '13' || lpad(CAST((i * 7919 + {variant}) % 1000000000 AS VARCHAR), 9, '0') AS phone,
                   '1' AS contribution_status, '0' AS retired, '1' AS survival_status,
                   CAST(120 + (i + {variant}) % 300 AS VARCHAR) AS actual_contribution_months,
                   CASE WHEN i % 5 = 0 THEN '36' END AS deemed_months,
                   CASE WHEN i % 5 = 0 THEN '1' ELSE '0' END AS deemed_status,
                   CASE WHEN i % 5 = 0 THEN '640104' END AS deemed_region,
                   '0' AS arrears_months
            FROM gen ORDER BY i
        ) TO '{folder / "persons.csv"}' (HEADER true, DELIMITER ',')
    """)
    con.execute(f"""
        COPY (
            SELECT id_no, CASE WHEN j = 0 THEN substr(id_no, 1, 6) ELSE '640104' END AS region_code,
                   CAST(1985 + 8 * j AS VARCHAR) || '01' AS start_month,
                   CAST(1992 + 8 * j AS VARCHAR) || '12' AS end_month,
                   CAST(1 + j % 2 AS VARCHAR) AS relation_status
            FROM gen, range(3) s(j)
            WHERE j < 1 + (i + {variant}) % 3
            ORDER BY i, j
        ) TO '{folder / "segments.csv"}' (HEADER true, DELIMITER ',')
    """)
    n_p = con.execute("SELECT count(*) FROM gen").fetchone()[0]
    n_s = con.execute(f"SELECT sum(1 + (i + {variant}) % 3) FROM gen").fetchone()[0] or 0
    con.close()
    files = {}
    for name, n in (("persons.csv", n_p), ("segments.csv", n_s)):
        h = hashlib.sha256()
        with open(folder / name, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
        files[name] = {"rows": int(n), "sha256": h.hexdigest()}
    manifest = {
        "batch_id": batch_id or f"NX-{month}-{seq:04d}",
        "province": "640000",
        "push_type": push_type,
        "data_month": month,
        "seq": seq,
        "base_seq": base_seq,
        "generated_at": f"{month}-05T02:00:00+08:00",
        "schema_version": "1.0",
        "encoding": "UTF-8",
        "files": files,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return folder


def to_conclusion_rows(office: str, id_no: str, month: str = "2026-11", elected: str | None = None) -> list[dict]:
    """County feedback rows (docs/feedback-format.md) taking an entry from NOTIFIED to a conclusion
    issued on the 23rd of ``month``; with ``elected``, also received, confirmed by the employer and
    a retirement month elected (days 20–25 of the month)."""
    d = lambda k: f"{month}-{20 + k:02d}"
    rows = [
        {"office_code": office, "event": "ARCHIVE_REVIEWED", "id_no": id_no, "event_date": d(0), "result": "PASS"},
        {"office_code": office, "event": "YEARS_CONFIRMED", "id_no": id_no, "event_date": d(1), "months": "300"},
        {
            "office_code": office,
            "event": "RELATIONS_MERGED",
            "id_no": id_no,
            "event_date": d(2),
            "merge_status": "NOT_NEEDED",
        },
        {
            "office_code": office,
            "event": "CONCLUSION_ISSUED",
            "id_no": id_no,
            "event_date": d(3),
            "counted_months": "300",
            "merge_status": "NOT_NEEDED",
            "archive_conclusion": "PASS",
            "base_data": "核算数据",
        },
    ]
    if elected:
        rows += [
            {"office_code": office, "event": "RESULT_RECEIVED", "id_no": id_no, "event_date": d(4)},
            {"office_code": office, "event": "CONFIRMED", "id_no": id_no, "event_date": d(5), "confirmer": "EMPLOYER"},
            {
                "office_code": office,
                "event": "ELECTED_MONTH",
                "id_no": id_no,
                "event_date": d(5),
                "elected_month": elected,
            },
        ]
    return rows


def run_cli(*args) -> tuple[int, str, str]:
    """``retire-prep ARGS`` through ``pipelines.cli.main`` in this process: (exit status, stdout,
    stderr). argparse's exits count as the status they carry."""
    from pipelines.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, out.getvalue(), err.getvalue()
