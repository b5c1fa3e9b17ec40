"""Black-box conformance of the output contract (the spec's outputs.md: docs/spec/outputs.md), written from the spec.

One module-scoped scenario drives the CLI in-process (``pipelines.cli.main``):

    ingest FULL (2026-11, seq 1) -> run 2026-11 -> feedback (3 persons to CONFIRMED)
    -> declare 2026-12 -> ingest INCR (2026-12, seq 2: office / benefit-place changes, one D)
    -> run 2026-12

and every test reads what the users read: files under OUT/P/, the analyst views, stdout/stderr and
exit status. Where outputs.md leaves a choice open, docs/decisions.md is followed (formula cells get
a leading apostrophe in the CSV only, person_key = sha256(secret|id_no)[:16], a closed entry of P
stays on P's worklist ...).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
import os
import re
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.ingest import PERSON_COLUMNS
from support.pushkit import person, run_cli, segment, write_batch
from support.spec import OFFICES_29

ROOT = Path(__file__).resolve().parents[2]
P1, P2 = "2026-11", "2026-12"
SECRET = "oracle-outputs-test-key"
OFFICES29 = set(OFFICES_29)
USED_OFFICES = ["640104", "640105", "640202", "640302", "640900", "640000"]
FLAG_CODES = {
    "YEARS_UNCONFIRMED",
    "REMOTE_UNMERGED",
    "KEY_INFO_MISSING",
    "BIRTH_DATE_CONFLICT",
    "GENDER_CONFLICT",
    "DUPLICATE_CONTRIBUTION",
    "ARREARS",
    "INSUFFICIENT_YEARS",
    "BENEFIT_PLACE_MISMATCH",
    "PAST_AGE_NOT_RETIRED",
}
NOTICE_KINDS = {"PRE_SERVICE", "AGE_MINUS_3", "AGE_REACHED", "OVERDUE", "DECLARATION", "CONSULTATION", "RESULT"}
STAGES = {
    "ENROLLED",
    "NOTIFIED",
    "ARCHIVE_REVIEWED",
    "YEARS_CONFIRMED",
    "RELATIONS_MERGED",
    "CONCLUDED",
    "CONFIRMED",
    "DECLARED",
    "RETIRED",
    "DECEASED",
    "LEFT_PUSH",
    "MOVED_OUT",
}
WORKLIST_COLS = [
    "id_no",
    "name",
    "gender",
    "birth_month",
    "insurance_type",
    "person_type",
    "office_code",
    "original_age_month",
    "statutory_age_month",
    "months_to_original",
    "months_to_statutory",
    "flexible_earliest_month",
    "flexible_latest_month",
    "min_contribution_months",
    "counted_contribution_months",
    "benefit_region",
    "flags",
    "stage",
    "responsible_officer",
    "due_date",
]
SMS_COLS = ["notice_id", "notice_kind", "id_no", "phone", "text", "segments", "reference_month"]
DECL_COLS = ["id_no", "name", "office_code", "retirement_month", "decision", "reason"]
VIEWS = ["ledger_current", "flags_current", "notices", "office_progress", "batches", "quarantine"]

MONTH_RE = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
ID_RE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
NAME_STEM, EMP_STEM = "钱孙李", "宁夏甲乙"
DANGER = ("=", "+", "-", "@", "\t", "\r")
FORMULA_PREFIXES = ["=1+2", "+", "-", "@", "\t", "\r", '=HYPERLINK("http://x.example","y")']
EMP_FORMULAS = ["=cmd|' /C calc'!A0", "+", "-", "@", "\t", "\r"]
REMOTE_RE = re.compile(
    r"""(<(script|img|iframe|link|source|video|audio|embed|object)\b[^>]*\b(src|href|data)\s*=\s*["']?\s*(https?:)?//)"""
    r"""|(url\(\s*["']?\s*(https?:)?//)|(@import\s+["']?\s*(https?:)?//)""",
    re.I,
)


def dictionary() -> dict[str, str]:
    with open(ROOT / "data" / "dictionary.csv", encoding="utf-8-sig", newline="") as fh:
        return {r["column"]: r["header_zh"] for r in csv.DictReader(fh)}


def person_key(id_no: str) -> str:
    return hashlib.sha256(f"{SECRET}|{id_no}".encode()).hexdigest()[:16]


def mi(month: str) -> int:
    y, m = month.split("-")
    return int(y) * 12 + int(m) - 1


def mtext(i: int) -> str:
    return f"{i // 12:04d}-{i % 12 + 1:02d}"


cli = run_cli


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].strip(), repr(err)
    assert "Traceback" not in err and not ID_RE.search(err)
    return lines[0]


# --------------------------------------------------------------------------- the population


def _birth(month_index: int, day: int = 15) -> str:
    return f"{month_index // 12:04d}{month_index % 12 + 1:02d}{day:02d}"


class Pop:
    """Persons of push 1 and 2, and the groups the tests reason about (id_no lists)."""

    def __init__(self):
        self.n = 0
        self.p1: list[dict] = []
        self.s1: list[dict] = []
        self.p2: list[dict] = []
        self.s2: list[dict] = []
        self.g: dict[str, list[str]] = {}
        self.rows: dict[str, dict] = {}
        self.bad_phones: set[str] = set()

    def add(self, group, segs, **kw):
        self.n += 1
        kw.setdefault("name", f"{NAME_STEM}{self.n:03d}")
        kw.setdefault("phone", f"139{self.n:08d}")
        kw.setdefault("employer_name", f"{EMP_STEM}{self.n:03d}公司")
        row = person(self.n, **kw)
        self.p1.append(row)
        self.s1.extend(segment(row["id_no"], *s) for s in segs)
        self.g.setdefault(group, []).append(row["id_no"])
        self.rows[row["id_no"]] = row
        return row


def build_population() -> Pop:
    pop = Pop()
    nx = [("640104", "199001", "202610", 1)]
    # A: 110 in scope (a) in 2026-11: men born 1966-11..1967-10, every 10th a cadre woman 1971-11..1972-10
    for i in range(150):
        off = USED_OFFICES[i % len(USED_OFFICES)]
        kw = dict(insured_region=off)
        if i % 10 == 5:
            kw.update(gender=2, person_type="2", birth_date=_birth(mi("1971-11") + i % 12))
        else:
            kw.update(gender=1, birth_date=_birth(mi("1966-11") + i % 12))
        row = pop.add("A", nx, **kw)
        p = f"139{pop.n:08d}"
        if i == 1:
            row["phone"] = f"+86 {p[:3]} {p[3:7]} {p[7:]}"
        elif i == 2:
            row["phone"] = f"{p[:3]}-{p[3:7]}-{p[7:]}"
        elif i == 3:
            row["phone"] = "0086" + p
        if 4 <= i < 4 + len(FORMULA_PREFIXES):
            row["name"] = FORMULA_PREFIXES[i - 4] + row["name"]
            pop.g.setdefault("formula_name", []).append(row["id_no"])
        if 20 <= i < 20 + len(EMP_FORMULAS):
            row["employer_name"] = EMP_FORMULAS[i - 20] + row["employer_name"]
    # B: 170 residents in scope (c), both genders, born 1966-12..1967-10
    for i in range(60):
        pop.add(
            "B",
            [("640104", "201101", "202610", 1)],
            insurance_type="170",
            person_type="",
            gender=1 + i % 2,
            birth_date=_birth(mi("1966-12") + i % 11),
            insured_region=USED_OFFICES[(i + 1) % len(USED_OFFICES)],
            employer_uscc="",
            employer_name="",
        )
    # C: no valid mobile (110 with employer -> EMPLOYER, 170 and flexible without -> TOWNSHIP)
    bad = ["", "12345678901", "1391234567", "139123456789", "139\t12345678", "abc", "23912345678", "139\u201412345678"]
    for i in range(30):
        kw = dict(
            phone=bad[i % len(bad)],
            insured_region=USED_OFFICES[i % len(USED_OFFICES)],
            gender=1,
            birth_date=_birth(mi("1966-12") + i % 10),
        )
        if i % 3 == 1:
            kw.update(insurance_type="170", person_type="", employer_uscc="", employer_name="")
        elif i % 3 == 2:
            kw.update(person_type="3", employer_uscc="", employer_name="")
        row = pop.add("C", nx, **kw)
        if i % 3 == 0 and i // 3 < len(EMP_FORMULAS):
            row["employer_name"] = EMP_FORMULAS[i // 3] + row["employer_name"]
        if i % 5 == 0:
            row["name"] = FORMULA_PREFIXES[(i // 5) % len(FORMULA_PREFIXES)] + row["name"]
            pop.g.setdefault("formula_name", []).append(row["id_no"])
        if row["phone"]:
            pop.bad_phones.add(row["phone"])
    # E: office change 640104 -> 640105 in push 2
    for _ in range(4):
        pop.add("E", nx, gender=1, birth_date="19670310", insured_region="640104")
    # F: benefit place Ningxia in 2026-11, Beijing in 2026-12 (latest segment in the hukou province)
    for _ in range(3):
        pop.add(
            "F",
            [("640104", "198601", "201012", 1)],
            gender=1,
            birth_date="19670120",
            hukou_region="110101",
            benefit_region_ministry="",
            insured_region="640104",
        )
    # G: benefit place Beijing in 2026-11, Ningxia in 2026-12
    for _ in range(3):
        pop.add(
            "G",
            [("110101", "199001", "202610", 1)],
            gender=1,
            birth_date="19670120",
            hukou_region="110101",
            benefit_region_ministry="",
            insured_region="640104",
        )
    # H: 170 residents with statutory month 2027-01..03, taken to CONFIRMED by feedback in 2026-11
    pop.add(
        "H",
        nx,
        insurance_type="170",
        person_type="",
        employer_uscc="",
        employer_name="",
        gender=2,
        birth_date="19670112",
        insured_region="640104",
    )
    pop.add(
        "H",
        nx,
        insurance_type="170",
        person_type="",
        employer_uscc="",
        employer_name="",
        gender=1,
        birth_date="19670212",
        insured_region="640202",
        actual_contribution_months="100",
    )
    pop.add(
        "H",
        nx,
        insurance_type="170",
        person_type="",
        employer_uscc="",
        employer_name="",
        gender=2,
        birth_date="19670312",
        insured_region="640104",
    )
    # H4 dies in push 2 (its notices of the 1st are withdrawn); H5 loses its mobile and moves to 640202
    pop.add(
        "H",
        nx,
        insurance_type="170",
        person_type="",
        employer_uscc="",
        employer_name="",
        gender=1,
        birth_date="19670220",
        insured_region="640104",
    )
    pop.add(
        "H",
        nx,
        insurance_type="170",
        person_type="",
        employer_uscc="",
        employer_name="",
        gender=2,
        birth_date="19670320",
        insured_region="640104",
    )
    # M: a worker woman past S (2026-11), suspended, with several flags (OVERDUE in 2026-12)
    pop.add(
        "M",
        [("640104", "199001", "202610", 1), ("610100", "200001", "200512", 2)],
        gender=2,
        person_type="1",
        birth_date="19760310",
        contribution_status="2",
        arrears_months="2",
        deemed_months="24",
        deemed_status="2",
        deemed_region="640104",
        insured_region="640104",
    )
    # J: 110 men past the original age, suspended (scope b), statutory month 2027-01 / 2027-03
    for i in range(4):
        pop.add(
            "J",
            nx,
            gender=1,
            birth_date=("19660810" if i % 2 else "19660910"),
            contribution_status="2",
            insured_region=("640104" if i < 2 else "640302"),
        )
    # K: never on a worklist: far from the age, deceased, retired
    for i in range(10):
        pop.add("K", nx, gender=1, birth_date=_birth(mi("1980-01") + i))
    for i in range(2):
        pop.add("K", nx, gender=1, birth_date="19670105", survival_status="2")
        pop.add("K", nx, gender=1, birth_date="19670105", retired="1")
    # Q: two rows breaking the contract (quarantined, far below the 5 % share)
    q1 = pop.add("Q", [], gender=1, birth_date="19670115", insured_region="649999")
    q2 = pop.add("Q", [], gender=1, birth_date="19670115")
    q2["id_no"] = q2["id_no"][:17] + ("0" if q2["id_no"][17] != "0" else "1")
    pop.g["Q"] = [q1["id_no"], q2["id_no"]]

    # push 2 (INCR on seq 1): E and H3 move office, F and G change segments, one A person leaves
    def upd(id_no, segs, **kw):
        r = dict(pop.rows[id_no], op="U", **kw)
        pop.p2.append(r)
        pop.s2.extend(segment(id_no, *s) for s in segs)

    for i in pop.g["E"]:
        upd(i, nx, insured_region="640105")
    upd(pop.g["H"][2], nx, insured_region="640105")
    upd(pop.g["H"][3], nx, survival_status="2")
    upd(pop.g["H"][4], nx, insured_region="640202", phone="")
    for i in pop.g["F"]:
        upd(i, [("640104", "198601", "201012", 1), ("110101", "201101", "202610", 1)])
    for i in pop.g["G"]:
        upd(i, [("640104", "199001", "202610", 1)])
    left = pop.g["A"][30]
    pop.p2.append(dict(pop.rows[left], op="D"))
    pop.g["left"] = [left]
    return pop


FEEDBACK_COLS = [
    "office_code",
    "event",
    "id_no",
    "event_date",
    "officer_id",
    "result",
    "months",
    "items",
    "counted_months",
    "merge_status",
    "archive_conclusion",
    "base_data",
    "elected_month",
    "confirmer",
    "pre_review_office",
    "reason",
    "basis",
    "remedy",
    "note",
]


def feedback_rows(pop: Pop) -> list[dict]:
    rows = []
    for k, id_no in enumerate(pop.g["H"]):
        off = pop.rows[id_no]["insured_region"]
        months = "100" if k == 1 else "300"
        for ev, day, extra in (
            ("ARCHIVE_REVIEWED", 16, {"result": "PASS", "pre_review_office": "640104" if k == 1 else ""}),
            ("YEARS_CONFIRMED", 17, {"months": months}),
            ("RELATIONS_MERGED", 18, {"merge_status": "NOT_NEEDED"}),
            (
                "CONCLUSION_ISSUED",
                19,
                {
                    "counted_months": months,
                    "merge_status": "NOT_NEEDED",
                    "archive_conclusion": "PASS",
                    "base_data": "缴费基数6500",
                },
            ),
            ("RESULT_RECEIVED", 20, {}),
            ("CONFIRMED", 23, {"confirmer": "PERSON"}),
        ):
            rows.append({"office_code": off, "event": ev, "id_no": id_no, "event_date": f"2026-11-{day:02d}", **extra})
    a0 = pop.g["A"][0]  # a man born 1966-11 (S 2027-05) elects 2027-02
    rows.append(
        {
            "office_code": pop.rows[a0]["insured_region"],
            "event": "ELECTED_MONTH",
            "id_no": a0,
            "event_date": "2026-11-20",
            "elected_month": "2027-02",
        }
    )
    return rows


def persons_csv(rows) -> bytes:
    """RFC 4180 CSV that also quotes a lone CR (Python's csv module quotes only the line terminator)."""

    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(ch in v for ch in ',"\r\n') else v

    lines = [",".join(PERSON_COLUMNS)]
    lines += [",".join(cell(r.get(c, "")) for c in PERSON_COLUMNS) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


class Scenario:
    pass


@pytest.fixture(scope="module")
def sc(tmp_path_factory) -> Scenario:
    tmp = tmp_path_factory.mktemp("oracle_outputs")
    s = Scenario()
    s.tmp, s.wh, s.out = tmp, tmp / "w.duckdb", tmp / "out"
    s.pop = pop = build_population()
    b1 = write_batch(tmp / "push1", pop.p1, pop.s1, seq=1, month=P1, raw_files={"persons": persons_csv(pop.p1)})
    b2 = write_batch(
        tmp / "push2",
        pop.p2,
        pop.s2,
        seq=2,
        push_type="INCR",
        base_seq=1,
        month=P2,
        raw_files={"persons": persons_csv(pop.p2)},
    )
    fbs = []  # a feedback file is one office's (issue 14): one file per office
    for office in sorted({r["office_code"] for r in feedback_rows(pop)}):
        fbs.append(tmp / f"feedback-{office}-2026-11.csv")
        with open(fbs[-1], "w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=FEEDBACK_COLS, lineterminator="\n")
            w.writeheader()
            for r in feedback_rows(pop):
                if r["office_code"] == office:
                    w.writerow({c: r.get(c, "") for c in FEEDBACK_COLS})
    old = os.environ.get("RETIRE_PREP_PERSON_KEY")
    os.environ["RETIRE_PREP_PERSON_KEY"] = SECRET
    s.results = {}
    try:
        steps = [
            ("ingest1", ["ingest", b1, "--warehouse", s.wh]),
            ("run1", ["run", "--month", P1, "--warehouse", s.wh, "--out", s.out]),
            ("feedback", ["feedback", *fbs, "--warehouse", s.wh, "--out", Path(s.wh).parent / "out"]),
            ("declare2", ["declare", "--month", P2, "--warehouse", s.wh, "--out", s.out]),
            ("ingest2", ["ingest", b2, "--warehouse", s.wh]),
            ("run2", ["run", "--month", P2, "--warehouse", s.wh, "--out", s.out]),
        ]
        for name, args in steps:
            s.results[name] = cli(*args)
            assert s.results[name][0] == 0, (name, s.results[name])
    finally:
        if old is None:
            os.environ.pop("RETIRE_PREP_PERSON_KEY", None)
        else:
            os.environ["RETIRE_PREP_PERSON_KEY"] = old
    # the current push data of each month (what "responsible office" means in P)
    s.office = {P1: {r["id_no"]: r["insured_region"] for r in pop.p1}}
    s.office[P2] = dict(s.office[P1], **{r["id_no"]: r["insured_region"] for r in pop.p2})
    s.dic = dictionary()
    s.header_to_col = {v: k for k, v in s.dic.items()}
    return s


# --------------------------------------------------------------------------- readers


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path}: no UTF-8 BOM"
    text = raw[3:].decode("utf-8")  # strict UTF-8
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows, f"{path}: no header line"
    return rows[0], rows[1:]


def office_files(out: Path, month: str, kind: str, name: str) -> dict[str, Path]:
    base = out / month / kind
    if not base.exists():
        return {}
    return {d.name: d / name for d in sorted(base.iterdir()) if d.is_dir() and (d / name).exists()}


def parquet_rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def csv_render(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return str(v)


NUM_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def is_formula_cell(cell: str) -> bool:
    """A cell a spreadsheet would evaluate: leading = + - @ tab CR, unless it is just a number."""
    return bool(cell) and cell[0] in DANGER and not NUM_RE.fullmatch(cell)


def all_out_files(sc) -> list[Path]:
    return [p for p in sorted(sc.out.rglob("*")) if p.is_file()]


def pairs(sc):
    """Every (parquet, csv) pair of the outputs table that exists."""
    for p in sorted(sc.out.rglob("*.parquet")):
        c = p.with_suffix(".csv")
        yield p, c


# --------------------------------------------------------------------------- paths


def test_paths_of_the_outputs_table_exist(sc):
    for month in (P1, P2):
        m = sc.out / month
        assert (m / "report" / "index.html").is_file(), month
        assert (m / "validation").is_dir() and any((m / "validation").rglob("*")), month
        wl = office_files(sc.out, month, "worklists", "worklist.parquet")
        assert wl, month
        for o, p in wl.items():
            assert o in OFFICES29, (month, o)
            assert p.with_suffix(".csv").is_file(), (month, o)
        sms = office_files(sc.out, month, "notifications", "sms.parquet")
        assert sms, month
        for o, p in sms.items():
            assert o in OFFICES29 and p.with_suffix(".csv").is_file(), (month, o)
        assert office_files(sc.out, month, "notifications", "offline.csv"), month
    hp = sc.out / P2 / "handovers" / "handovers.parquet"
    assert hp.is_file() and hp.with_suffix(".csv").is_file()
    # declarations: `declare` only
    assert not (sc.out / P1 / "declarations").exists(), "run must not write declarations"
    decl = office_files(sc.out, P2, "declarations", "declarations.parquet")
    assert decl and all(p.with_suffix(".csv").is_file() for p in decl.values())


def test_empty_declaration_lists_still_carry_the_columns(sc):
    """pipelines/declare.py (docstring, not docs/): a declarations file for every office, an empty list
    when the office has nobody -- unlike worklists/ and notifications/, which exist only with rows."""
    for o, p in office_files(sc.out, P2, "declarations", "declarations.parquet").items():
        assert all(c in pq.read_schema(p).names for c in DECL_COLS), o
        header, _ = read_csv(p.with_suffix(".csv"))
        assert {sc.dic[c] for c in DECL_COLS} <= set(header), o


def test_every_office_with_rows_has_its_folder_and_no_unknown_folder(sc):
    for month in (P1, P2):
        for kind in ("worklists", "notifications", "declarations", "letters"):
            base = sc.out / month / kind
            if base.exists():
                for d in base.iterdir():
                    assert d.is_dir() and d.name in OFFICES29, (month, kind, d.name)
        rows = worklist(sc, month)
        offices_with_rows = {r["office_code"] for r in rows}
        folders = set(office_files(sc.out, month, "worklists", "worklist.parquet"))
        assert offices_with_rows <= folders
        assert offices_with_rows >= {sc.office[month][i] for i in sc.pop.g["A"]} - {""}


# --------------------------------------------------------------------------- CSV conventions


def test_csv_files_have_bom_dictionary_headers_and_no_formula_cells(sc):
    zh = set(sc.dic.values())
    csvs = sorted(sc.out.rglob("*.csv"))
    assert len(csvs) > 10
    for c in csvs:
        header, body = read_csv(c)
        assert all(h in zh for h in header), (c, [h for h in header if h not in zh])
        assert len(set(header)) == len(header), c
        for r in body:
            assert len(r) == len(header), c
            bad = [cell for cell in r if is_formula_cell(cell)]
            assert not bad, (c, bad)


def test_dictionary_is_one_to_one(sc):
    assert len(set(sc.dic.values())) == len(sc.dic)


def test_formula_cells_were_actually_exercised(sc):
    """Names beginning with = + - @ TAB CR reach the worklists; the CSV neutralises, Parquet keeps."""
    names = {}
    for r in worklist(sc, P1):
        names[r["id_no"]] = r["name"]
    formula_ids = [i for i in sc.pop.g["formula_name"] if i in names]
    assert len(formula_ids) >= 8
    assert any(names[i] and names[i][0] in DANGER for i in formula_ids), "Parquet keeps the value"


def test_csv_equals_parquet_same_columns_rows_values(sc):
    n = 0
    for p, c in pairs(sc):
        assert c.is_file(), c
        table = pq.read_table(p)
        header, body = read_csv(c)
        assert header == [sc.dic[col] for col in table.column_names], c
        assert len(body) == table.num_rows, c
        for prow, crow in zip(table.to_pylist(), body):
            for col, cell in zip(table.column_names, crow):
                v = csv_render(prow[col])
                if v[:1] in DANGER and not NUM_RE.fullmatch(v):
                    assert cell != v and cell.endswith(v) and not is_formula_cell(cell), (c, col, v, cell)
                else:
                    assert cell == v, (c, col, v, cell)
            n += 1
    assert n > 300


# --------------------------------------------------------------------------- worklists


def office_rows(sc, month, kind: str, name: str) -> list[dict]:
    """Every row of the offices' ``kind/<office>/name`` files of the month, with its folder."""
    return [dict(r, _folder=o) for o, p in office_files(sc.out, month, kind, name).items() for r in parquet_rows(p)]


def worklist(sc, month) -> list[dict]:
    return office_rows(sc, month, "worklists", "worklist.parquet")


def test_worklist_columns_and_types(sc):
    for month in (P1, P2):
        for o, p in office_files(sc.out, month, "worklists", "worklist.parquet").items():
            schema = pq.read_schema(p)
            missing = [c for c in WORKLIST_COLS if c not in schema.names]
            assert not missing, (month, o, missing)
            for c in (
                "months_to_original",
                "months_to_statutory",
                "min_contribution_months",
                "counted_contribution_months",
            ):
                assert pa.types.is_integer(schema.field(c).type), (c, schema.field(c).type)
                assert pa.types.is_signed_integer(schema.field(c).type), (c, schema.field(c).type)
            for c in WORKLIST_COLS:
                if c.endswith("_month"):
                    assert pa.types.is_string(schema.field(c).type) or pa.types.is_large_string(schema.field(c).type), (
                        c,
                        schema.field(c).type,
                    )
            assert pa.types.is_string(schema.field("flags").type)


def test_worklist_values_formats(sc):
    for month in (P1, P2):
        rows = worklist(sc, month)
        assert rows
        for r in rows:
            for c in WORKLIST_COLS:
                if c.endswith("_month") and r[c] is not None:
                    assert MONTH_RE.fullmatch(r[c]), (c, r[c])
            for c in ("birth_month", "original_age_month", "statutory_age_month"):
                assert r[c] is not None, c
            if str(r["insurance_type"]) == "170":
                assert r["flexible_earliest_month"] is None and r["flexible_latest_month"] is None
            else:
                assert r["flexible_earliest_month"] and r["flexible_latest_month"]
            due = r["due_date"]
            if isinstance(due, str):
                assert DATE_RE.fullmatch(due), due
                dt.date.fromisoformat(due)
            else:
                assert due is None or isinstance(due, dt.date)
            # months_to_* are from P, signed
            assert r["months_to_original"] == mi(r["original_age_month"]) - mi(month)
            assert r["months_to_statutory"] == mi(r["statutory_age_month"]) - mi(month)
            f = r["flags"]
            assert f is not None, "flags: empty when none, not NULL"
            if f:
                codes = f.split(";")
                assert codes == sorted(codes) and len(set(codes)) == len(codes), f
                assert set(codes) <= FLAG_CODES, f
            assert r["stage"] in STAGES, r["stage"]
            assert r["responsible_officer"], r["id_no"]
            assert r["office_code"] == r["_folder"]
        assert any(r["flags"] == "" for r in rows), "persons without flags: empty string"
        assert any(r["months_to_original"] < 0 for r in rows), "negative months occur (J: past the age)"


def test_worklist_one_row_per_person_and_only_own_office(sc):
    for month in (P1, P2):
        rows = worklist(sc, month)
        ids = [r["id_no"] for r in rows]
        assert len(ids) == len(set(ids)), month
        for r in rows:
            assert sc.office[month][r["id_no"]] == r["_folder"], (month, r["_folder"], r["stage"])


def test_worklist_due_date_in_csv_is_iso(sc):
    for month in (P1, P2):
        for o, p in office_files(sc.out, month, "worklists", "worklist.csv").items():
            header, body = read_csv(p)
            k = header.index(sc.dic["due_date"])
            for r in body:
                assert r[k] == "" or DATE_RE.fullmatch(r[k]), r[k]


def test_worklist_population_coarse(sc):
    g = sc.pop.g
    p1 = {r["id_no"] for r in worklist(sc, P1)}
    must = set(g["A"]) | set(g["B"]) | set(g["C"]) | set(g["E"]) | set(g["F"]) | set(g["H"]) | set(g["J"]) | set(g["M"])
    assert must <= p1, len(must - p1)
    assert not (set(g["K"]) | set(g["G"]) | set(g["Q"])) & p1
    p2 = {r["id_no"]: r for r in worklist(sc, P2)}
    assert set(g["G"]) <= set(p2), "benefit place moved in: taken in"
    assert not set(g["K"]) & set(p2)
    for i in g["E"]:
        assert p2[i]["_folder"] == "640105"


def test_office_change_gets_an_officer_of_the_new_office(sc):
    rows = worklist(sc, P2)
    by_office: dict[str, set] = {}
    for r in rows:
        if r["id_no"] not in sc.pop.g["E"]:
            by_office.setdefault(r["_folder"], set()).add(r["responsible_officer"])
    for r in rows:
        if r["id_no"] in sc.pop.g["E"]:
            others = set().union(*(v for k, v in by_office.items() if k != "640105"))
            assert r["responsible_officer"] not in others, r["responsible_officer"]


def test_cross_check_worklists_against_ledger_view(sc):
    con = duckdb.connect(str(sc.wh), read_only=True)
    try:
        led = con.execute("SELECT person_key, office_code, entry_id FROM ledger_current").fetchall()
    finally:
        con.close()
    office_by_key = {}
    for k, o, _ in led:
        office_by_key.setdefault(k, set()).add(o)
    for r in worklist(sc, P2):
        k = person_key(r["id_no"])
        assert k in office_by_key, "worklist person has a ledger entry (person_key = sha256(secret|id)[:16])"
        assert r["_folder"] in office_by_key[k]


# --------------------------------------------------------------------------- notifications


def sms_rows(sc, month) -> list[dict]:
    return office_rows(sc, month, "notifications", "sms.parquet")


def offline_rows(sc, month) -> list[dict]:
    rows = []
    for o, p in office_files(sc.out, month, "notifications", "offline.csv").items():
        header, body = read_csv(p)
        cols = [sc.header_to_col[h] for h in header]
        for b in body:
            r = dict(zip(cols, b))
            r["_folder"] = o
            rows.append(r)
    return rows


def _norm_phone(p: str) -> str:
    import unicodedata

    p = unicodedata.normalize("NFKC", p).replace(" ", "").replace("-", "").replace("\u2010", "")
    for pre in ("+86", "0086"):
        if p.startswith(pre):
            p = p[len(pre) :]
    return p


def test_sms_columns_and_values(sc):
    for month in (P1, P2):
        files = office_files(sc.out, month, "notifications", "sms.parquet")
        for o, p in files.items():
            names = pq.read_schema(p).names
            assert all(c in names for c in SMS_COLS), (o, [c for c in SMS_COLS if c not in names])
        rows = sms_rows(sc, month)
        assert rows
        for r in rows:
            assert r["notice_kind"] in NOTICE_KINDS, r["notice_kind"]
            assert MOBILE_RE.fullmatch(r["phone"] or ""), r["phone"]
            assert r["phone"] == _norm_phone(sc.pop.rows[r["id_no"]]["phone"])
            assert r["text"].startswith("【宁夏人社】"), r["text"][:10]
            n = len(r["text"])
            assert int(r["segments"]) == (1 if n <= 70 else math.ceil(n / 67)), (n, r["segments"])
            assert MONTH_RE.fullmatch(r["reference_month"]), r["reference_month"]
            assert r["notice_id"]


def test_sms_only_to_valid_mobiles_and_offline_for_the_rest(sc):
    bad = set(sc.pop.g["C"])
    for month in (P1, P2):
        assert not {r["id_no"] for r in sms_rows(sc, month)} & bad, month
    off = offline_rows(sc, P1)
    assert off and "id_no" in off[0], "offline.csv names the person (公民身份号码)"
    assert {r["id_no"] for r in off} <= bad
    on_list = {r["id_no"] for r in worklist(sc, P1)} & bad
    pre = {r["id_no"] for r in off if r.get("notice_kind", "PRE_SERVICE") == "PRE_SERVICE"}
    assert on_list <= pre, "every person taken in without a mobile gets PRE_SERVICE offline"


def test_every_person_taken_in_gets_pre_service_once(sc):
    for month, group in ((P1, None), (P2, "G")):
        told = {(r["id_no"]) for r in sms_rows(sc, month) if r["notice_kind"] == "PRE_SERVICE"}
        told |= {r["id_no"] for r in offline_rows(sc, month) if r.get("notice_kind") == "PRE_SERVICE"}
        if group is None:
            expected = {r["id_no"] for r in worklist(sc, month)}
        else:
            expected = set(sc.pop.g[group])
        assert expected <= told, (month, len(expected - told))
    nov = {r["id_no"] for r in worklist(sc, P1)}
    dec_pre = {r["id_no"] for r in sms_rows(sc, P2) if r["notice_kind"] == "PRE_SERVICE"}
    assert not nov & dec_pre, "PRE_SERVICE again in December"


def test_notice_ids_unique_and_each_notice_in_one_batch_only(sc):
    seen, keys = set(), set()
    for month in (P1, P2):
        for r in sms_rows(sc, month) + offline_rows(sc, month):
            nid = r.get("notice_id")
            assert nid, "offline rows carry notice_id too"
            assert nid not in seen, nid
            seen.add(nid)
            k = (r["id_no"], r["notice_kind"], r["reference_month"])
            assert k not in keys, k
            keys.add(k)


def test_notifications_go_to_the_responsible_office_only(sc):
    for month in (P1, P2):
        for r in sms_rows(sc, month) + offline_rows(sc, month):
            assert sc.office[month][r["id_no"]] == r["_folder"], (month, r["notice_kind"], r["_folder"])


def test_december_batch_carries_result_declaration_consultation(sc):
    h1, h2, h3 = sc.pop.g["H"][:3]
    rows = sms_rows(sc, P2)
    got = {(r["id_no"], r["notice_kind"]): r for r in rows}
    for h in (h1, h2, h3):
        assert (h, "RESULT") in got, "RESULT of a November conclusion goes in December's batch"
    assert got[(h1, "DECLARATION")]["reference_month"] == "2027-01"
    assert got[(h2, "CONSULTATION")]["reference_month"] == "2027-02"
    assert got[(h3, "DECLARATION")]["_folder"] == "640105", "settled on P's data: the new office"
    for r in rows:
        if r["notice_kind"] in ("DECLARATION", "CONSULTATION", "RESULT"):
            assert r["id_no"] in (h1, h2, h3)


def test_notices_of_the_first_withdrawn_when_the_entry_closes(sc):
    """decisions.md: a DECLARATION / RESULT raised before P's push whose entry P's run closes is in no file."""
    h4 = sc.pop.g["H"][3]
    assert not [r for r in sms_rows(sc, P2) + offline_rows(sc, P2) if r["id_no"] == h4]
    wl = {r["id_no"]: r for r in worklist(sc, P2)}
    assert wl[h4]["stage"] == "DECEASED"


def test_notices_of_the_first_settled_on_p_data_office_and_channel(sc):
    """H5 lost its mobile and moved to 640202 in P's push: its RESULT and DECLARATION go offline there."""
    h5 = sc.pop.g["H"][4]
    assert not [r for r in sms_rows(sc, P2) if r["id_no"] == h5]
    off = {r["notice_kind"]: r for r in offline_rows(sc, P2) if r["id_no"] == h5}
    assert {"RESULT", "DECLARATION"} <= set(off), off.keys()
    assert {r["_folder"] for r in off.values()} == {"640202"}
    assert {r.get("channel") for r in off.values()} == {"TOWNSHIP"}
    wl = {r["id_no"]: r for r in worklist(sc, P2)}
    assert wl[h5]["_folder"] == "640202" and wl[h5].get("channel") == "TOWNSHIP"


def test_overdue_and_several_flags(sc):
    m = sc.pop.g["M"][0]
    nov = {r["id_no"]: r for r in worklist(sc, P1)}[m]
    dec = {r["id_no"]: r for r in worklist(sc, P2)}[m]
    assert nov["flags"] == "ARREARS;DUPLICATE_CONTRIBUTION;REMOTE_UNMERGED;YEARS_UNCONFIRMED"
    assert dec["flags"] == "ARREARS;DUPLICATE_CONTRIBUTION;PAST_AGE_NOT_RETIRED;REMOTE_UNMERGED;YEARS_UNCONFIRMED"
    assert dec["months_to_statutory"] == -1 and dec["months_to_original"] == -9
    kinds = {(r["notice_kind"], r["reference_month"]) for r in sms_rows(sc, P2) if r["id_no"] == m}
    assert ("OVERDUE", P2) in kinds
    kinds1 = {r["notice_kind"] for r in sms_rows(sc, P1) if r["id_no"] == m}
    assert {"PRE_SERVICE", "AGE_REACHED"} <= kinds1


# --------------------------------------------------------------------------- declarations


def test_declarations_columns_values_and_offices(sc):
    files = office_files(sc.out, P2, "declarations", "declarations.parquet")
    rows = []
    for o, p in files.items():
        names = pq.read_schema(p).names
        assert all(c in names for c in DECL_COLS), (o, names)
        for r in parquet_rows(p):
            assert r["office_code"] == o == sc.office[P1][r["id_no"]]  # declared on the 1st: push 1
            assert r["decision"] in {"DECLARATION", "CONSULTATION", "FOLLOW_UP"}
            assert MONTH_RE.fullmatch(r["retirement_month"])
            assert 1 <= mi(r["retirement_month"]) - mi(P2) <= 3
            assert r["reason"], "a reason is given"
            rows.append(r)
    dec = {r["id_no"]: r["decision"] for r in rows}
    assert len(dec) == len(rows)
    h1, h2, h3, h4, h5 = sc.pop.g["H"]
    assert dec.get(h4) == "DECLARATION" and dec.get(h5) == "DECLARATION", "the list of the 1st keeps them"
    assert dec.get(sc.pop.g["A"][0]) == "FOLLOW_UP"
    assert dec.get(h1) == "DECLARATION" and dec.get(h3) == "DECLARATION"
    assert dec.get(h2) == "CONSULTATION"
    assert set(sc.pop.g["J"]) <= set(dec), "suspended men with S in 2027-01..03 are listed"
    assert all(v == "FOLLOW_UP" for k, v in dec.items() if k not in sc.pop.g["H"])
    retire = {r["id_no"]: r["retirement_month"] for r in rows}
    assert retire[sc.pop.g["A"][0]] == "2027-02", "retirement_month is the elected month when one was recorded"
    assert retire[h1] == "2027-01" and retire[h2] == "2027-02"


# --------------------------------------------------------------------------- handovers


def test_handovers_contents(sc):
    p = sc.out / P2 / "handovers" / "handovers.parquet"
    rows = parquet_rows(p)
    names = pq.read_schema(p).names
    assert "id_no" in names and "from_code" in names and "to_code" in names, names
    by = {}
    for r in rows:
        by.setdefault(r["id_no"], []).append(r)
    for i in sc.pop.g["E"] + [sc.pop.g["H"][2]]:
        assert [(r.get("kind"), r["from_code"], r["to_code"]) for r in by.get(i, [])] == [
            ("OFFICE_CHANGE", "640104", "640105")
        ], by.get(i)
    for i in sc.pop.g["F"]:
        (r,) = by[i]
        assert r.get("kind") == "BENEFIT_PLACE_OUT" and r["from_code"] == "640104" and r["to_code"][:2] == "11"
    for i in sc.pop.g["G"]:
        (r,) = by[i]
        assert r.get("kind") == "BENEFIT_PLACE_IN" and r["from_code"][:2] == "11" and r["to_code"] == "640104"
    h5 = sc.pop.g["H"][4]
    assert [(r.get("kind"), r["from_code"], r["to_code"]) for r in by.get(h5, [])] == [
        ("OFFICE_CHANGE", "640104", "640202")
    ]
    expected = set(sc.pop.g["E"]) | {sc.pop.g["H"][2], h5} | set(sc.pop.g["F"]) | set(sc.pop.g["G"])
    assert set(by) == expected, set(by) ^ expected
    if "month" in names:
        assert {r["month"] for r in rows} == {P2}
    # November: nothing changed yet
    p1 = sc.out / P1 / "handovers" / "handovers.parquet"
    assert not p1.exists() or pq.read_metadata(p1).num_rows == 0


# --------------------------------------------------------------------------- html: report, validation, letters


def _pii_hits(sc, text: str) -> list[str]:
    hits = [m.group(0) for m in ID_RE.finditer(text)]
    if NAME_STEM in text:
        hits.append("name")
    for p in sc.pop.rows.values():
        ph = _norm_phone(p["phone"])
        if len(ph) >= 11 and ph in text:
            hits.append("phone")
            break
    return hits


def test_report_offline_and_without_personal_data(sc):
    for month in (P1, P2):
        text = (sc.out / month / "report" / "index.html").read_text(encoding="utf-8")
        assert not REMOTE_RE.search(text), REMOTE_RE.search(text).group(0)
        assert not _pii_hits(sc, text), month


def test_validation_offline_and_without_personal_data(sc):
    for month in (P1, P2):
        files = [f for f in (sc.out / month / "validation").rglob("*") if f.is_file()]
        assert files
        for f in files:
            text = f.read_text(encoding="utf-8")
            if f.suffix == ".json":
                json.loads(text)
            if f.suffix in (".html", ".htm"):
                m = REMOTE_RE.search(text)
                assert not m, (f.name, m.group(0))
            assert not _pii_hits(sc, text), f.name


def test_letters_offline_a4_and_own_persons_only(sc):
    ids = set(sc.pop.rows)
    n = 0
    for month in (P1, P2):
        base = sc.out / month / "letters"
        if not base.exists():
            continue
        for f in base.rglob("*"):
            if f.is_dir():
                continue
            assert f.suffix == ".html" and f.parent.parent == base and f.parent.name in OFFICES29, f
            text = f.read_text(encoding="utf-8")
            assert not REMOTE_RE.search(text), f
            assert "A4" in text, "printable A4"
            about = {m.group(0) for m in ID_RE.finditer(text)} & ids
            assert len(about) == 1, (f.name, len(about))
            assert sc.office[month][about.pop()] == f.parent.name, "a letter goes out from the person's office"
            n += 1
    h2 = sc.pop.g["H"][1]  # pre-reviewed by 640104, responsible office 640202
    assert any(h2 in f.read_text(encoding="utf-8") for f in (sc.out / P2 / "letters" / "640202").glob("*.html")) or any(
        h2 in f.read_text(encoding="utf-8") for f in (sc.out / P1 / "letters").rglob("*.html")
    )
    assert n


# --------------------------------------------------------------------------- warehouse views


def test_views_exist_with_person_key_and_no_personal_data(sc):
    con = duckdb.connect(str(sc.wh), read_only=True)
    try:
        names = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        assert set(VIEWS) <= names, set(VIEWS) - names
        phones = {p["phone"] for p in sc.pop.rows.values() if len(p["phone"]) >= 5}
        phones |= {_norm_phone(p) for p in phones}
        for v in VIEWS:
            cur = con.execute(f"SELECT * FROM {v}")
            cols = [d[0] for d in cur.description]
            assert "person_key" in cols or v in ("office_progress", "batches"), (v, cols)
            assert not {c for c in cols if c.lower() in ("id_no", "name", "phone", "mobile")}, (v, cols)
            for row in cur.fetchall():
                for val in row:
                    if isinstance(val, str):
                        assert not ID_RE.search(val), (v, val)
                        assert NAME_STEM not in val, (v, val)
                        assert not any(p in val for p in phones), (v, val)
    finally:
        con.close()


def test_ledger_current_one_row_per_entry_and_stable_keys(sc):
    con = duckdb.connect(str(sc.wh), read_only=True)
    try:
        n, distinct = con.execute("SELECT count(*), count(DISTINCT entry_id) FROM ledger_current").fetchone()
        base = con.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]
        assert n == distinct == base
        keys = {r[0] for r in con.execute("SELECT person_key FROM ledger_current").fetchall()}
        mine = {person_key(i) for i in {r["id_no"] for r in worklist(sc, P1)} | {r["id_no"] for r in worklist(sc, P2)}}
        assert keys == mine
        # the same person's notices of both months carry the same key
        per = con.execute(
            "SELECT person_key, count(DISTINCT issued_month) FROM notices GROUP BY 1 "
            "HAVING count(DISTINCT issued_month) > 1"
        ).fetchall()
        assert per, "someone was told in both months (H: PRE_SERVICE then RESULT)"
        assert {k for k, _ in per} <= keys
    finally:
        con.close()


def test_flags_current_and_notices_views(sc):
    con = duckdb.connect(str(sc.wh), read_only=True)
    try:
        codes = {r[0] for r in con.execute("SELECT DISTINCT code FROM flags_current").fetchall()}
        assert codes and codes <= FLAG_CODES, codes
        kinds = {r[0] for r in con.execute("SELECT DISTINCT notice_kind FROM notices").fetchall()}
        assert kinds <= NOTICE_KINDS and {"PRE_SERVICE", "RESULT", "DECLARATION"} <= kinds
        n_files = sum(len(sms_rows(sc, m)) + len(offline_rows(sc, m)) for m in (P1, P2))
        assert con.execute("SELECT count(*) FROM notices").fetchone()[0] == n_files
        cols = [d[0] for d in con.execute("SELECT * FROM office_progress LIMIT 0").description]
        assert "office_code" in cols and any("overdue" in c for c in cols) and any("notice" in c for c in cols)
    finally:
        con.close()


def test_batches_and_quarantine_views(sc):
    con = duckdb.connect(str(sc.wh), read_only=True)
    try:
        cur = con.execute("SELECT * FROM batches ORDER BY seq")
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
        assert [r["seq"] for r in rows] == [1, 2] and "status" in cols
        ints = {v for v in rows[0].values() if isinstance(v, int) and not isinstance(v, bool)}
        assert {len(sc.pop.p1), len(sc.pop.s1)} <= ints, "row accounting of the batch"
        q = con.execute("SELECT * FROM quarantine").fetchall()
        assert len(q) == 2
        qcols = [d[0] for d in con.execute("SELECT * FROM quarantine LIMIT 0").description]
        assert "person_key" in qcols
        keys = {r[qcols.index("person_key")] for r in q}
        assert person_key(sc.pop.g["Q"][0]) in keys
    finally:
        con.close()


def test_office_progress_counts_the_files_of_each_office(sc):
    per_folder: dict[str, int] = {}
    for m in (P1, P2):
        for r in sms_rows(sc, m) + offline_rows(sc, m):
            per_folder[r["_folder"]] = per_folder.get(r["_folder"], 0) + 1
    con = duckdb.connect(str(sc.wh), read_only=True)
    try:
        got = dict(con.execute("SELECT office_code, notices_sent FROM office_progress").fetchall())
    finally:
        con.close()
    assert {k: v for k, v in got.items() if v} == per_folder


def test_refused_batch_is_one_line_and_listed_in_batches(sc, tmp_path):
    wh = _copy_wh(sc, tmp_path)
    a = sc.pop.g["A"][1]
    rows = [dict(sc.pop.rows[a], op="U", phone="13800000000")]
    b = write_batch(
        tmp_path / "b3",
        rows,
        [segment(a)],
        seq=3,
        push_type="INCR",
        base_seq=2,
        month=P2,
        raw_files={"persons": persons_csv(rows)},
    )
    m = json.loads((b / "manifest.json").read_text(encoding="utf-8"))
    m["files"]["persons.csv"]["sha256"] = "0" * 64
    (b / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    code, out, err = cli("ingest", b, "--warehouse", wh)
    assert code != 0
    one_line(err)
    con = duckdb.connect(str(wh), read_only=True)
    try:
        st = con.execute("SELECT status FROM batches WHERE batch_id = ?", [m["batch_id"]]).fetchall()
    finally:
        con.close()
    assert st == [("REFUSED",)]


def test_refused_feedback_file_is_one_line(sc, tmp_path):
    wh = _copy_wh(sc, tmp_path)
    fb = tmp_path / "fb.csv"
    fb.write_text("office_code,event,id_no,event_date,elected_mnth\n", encoding="utf-8")
    code, out, err = cli("feedback", fb, "--warehouse", wh, "--out", Path(wh).parent / "out")
    assert code != 0
    one_line(err)


def test_defaults_and_rerun_gives_the_same_files(sc, tmp_path, monkeypatch):
    """Defaults ./warehouse.duckdb and ./out; a rerun of P re-emits the same files, no notice twice."""
    shutil.copyfile(sc.wh, tmp_path / "warehouse.duckdb")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RETIRE_PREP_PERSON_KEY", SECRET)
    monkeypatch.setattr("pipelines.cli.DEFAULT_OUT", "./out")  # the real default (conftest moves it)
    code, out, err = cli("run", "--month", P2)
    assert code == 0, err
    new, old = tmp_path / "out" / P2, sc.out / P2

    def digest(root):
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*")
            if p.is_file() and p.parts[len(root.parts)] not in ("validation", "declarations")
        }

    assert digest(new) == digest(old)


# decisions.md: once a run of P is DONE its batch was sent; a rerun on a correction push of P moves
# the worklist rows to the new office and re-emits P's notices as published (never sent twice,
# never re-filed): the old office's files keep the notices it sent.
def test_rerun_after_a_correction_batch_moves_worklists_and_keeps_the_published_notices(sc, tmp_path, monkeypatch):
    monkeypatch.setenv("RETIRE_PREP_PERSON_KEY", SECRET)
    wh = _copy_wh(sc, tmp_path)
    out = tmp_path / "out"
    shutil.copytree(sc.out / P2, out / P2)
    moved = [i for i, r in sc.pop.rows.items() if r["insured_region"] == "640900" and i not in sc.pop.g["Q"]]
    rows = [dict(sc.pop.rows[i], op="U", insured_region="640302") for i in moved]
    segs = [x for x in sc.pop.s1 if x["id_no"] in set(moved)]
    b = write_batch(
        tmp_path / "b3",
        rows,
        segs,
        seq=3,
        push_type="INCR",
        base_seq=2,
        month=P2,
        raw_files={"persons": persons_csv(rows)},
    )
    assert cli("ingest", b, "--warehouse", wh)[0] == 0
    code, _, err = cli("run", "--month", P2, "--warehouse", wh, "--out", out)
    assert code == 0, err
    folder = {}
    for o, p in office_files(out, P2, "worklists", "worklist.parquet").items():
        for r in parquet_rows(p):
            folder[r["id_no"]] = o
    assert {folder[i] for i in moved if i in folder} == {"640302"}
    published = sc.out / P2 / "notifications"
    assert {str(p.relative_to(published)): p.read_bytes() for p in published.rglob("*") if p.is_file()} == {
        str(p.relative_to(out / P2 / "notifications")): p.read_bytes()
        for p in (out / P2 / "notifications").rglob("*")
        if p.is_file()
    }
    moved_notices = [
        (o, r["notice_kind"])
        for o, p in office_files(out, P2, "notifications", "sms.parquet").items()
        for r in parquet_rows(p)
        if r["id_no"] in set(moved)
    ]
    assert moved_notices and {o for o, _ in moved_notices} == {"640900"}


# --------------------------------------------------------------------------- policy

POLICY_KEYS = {
    "original_age_month",
    "statutory_age_month",
    "statutory_age",
    "delay_months",
    "benefit_start_month",
    "flexible_earliest_month",
    "flexible_latest_month",
    "min_contribution_months",
}


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["--gender", "1", "--birth", "1965-05", "--month", "2026-11"],
            dict(
                original_age_month="2025-05",
                statutory_age_month="2025-07",
                statutory_age="60y2m",
                delay_months=2,
                benefit_start_month="2025-08",
                flexible_earliest_month="2025-05",
                flexible_latest_month="2028-07",
                min_contribution_months=180,
                months_to_original=-18,
                months_to_statutory=-16,
            ),
        ),
        (
            ["--gender", "2", "--person-type", "1", "--birth", "1976-03", "--month", "2026-11"],
            dict(
                original_age_month="2026-03",
                statutory_age_month="2026-11",
                statutory_age="50y8m",
                delay_months=8,
                benefit_start_month="2026-12",
                flexible_earliest_month="2026-03",
                flexible_latest_month="2029-11",
                min_contribution_months=180,
                months_to_original=-8,
                months_to_statutory=0,
            ),
        ),
        (
            ["--gender", "1", "--birth", "1970-05", "--insurance-type", "110", "--month", "2026-11"],
            dict(
                original_age_month="2030-05",
                statutory_age_month="2031-10",
                statutory_age="61y5m",
                delay_months=17,
                benefit_start_month="2031-11",
                flexible_earliest_month="2030-05",
                flexible_latest_month="2034-10",
                min_contribution_months=192,
                months_to_original=42,
                months_to_statutory=59,
            ),
        ),
        (
            ["--gender", "2", "--insurance-type", "170", "--birth", "1967-02", "--month", "2026-11"],
            dict(
                original_age_month="2027-02",
                statutory_age_month="2027-02",
                statutory_age="60y0m",
                delay_months=0,
                benefit_start_month="2027-03",
                flexible_earliest_month=None,
                flexible_latest_month=None,
                min_contribution_months=180,
                months_to_original=3,
                months_to_statutory=3,
            ),
        ),
        (
            ["--gender", "2", "--person-type", "2", "--birth", "1972-06"],
            dict(
                original_age_month="2027-06",
                statutory_age_month="2028-02",
                statutory_age="55y8m",
                delay_months=8,
                benefit_start_month="2028-03",
                flexible_earliest_month="2027-06",
                flexible_latest_month="2031-02",
                min_contribution_months=180,
            ),
        ),
        (
            ["--gender", "1", "--birth", "1977-01"],
            dict(
                original_age_month="2037-01",
                statutory_age_month="2040-01",
                statutory_age="63y0m",
                delay_months=36,
                benefit_start_month="2040-02",
                flexible_earliest_month="2037-01",
                flexible_latest_month="2043-01",
                min_contribution_months=240,
            ),
        ),
    ],
)
def test_policy_json(args, expected):
    code, out, err = cli("policy", *args)
    assert code == 0, err
    obj = json.loads(out)  # exactly one JSON object on stdout
    assert isinstance(obj, dict)
    assert POLICY_KEYS <= set(obj)
    if "--month" in args:
        assert {"months_to_original", "months_to_statutory"} <= set(obj)
    for k, v in expected.items():
        assert obj[k] == v and type(obj[k]) is type(v), (k, obj[k], v)
    for k in ("delay_months", "min_contribution_months", "months_to_original", "months_to_statutory"):
        if k in obj and obj[k] is not None:
            assert type(obj[k]) is int
    assert out.count("\n") <= 1 or out.strip().startswith("{")


# --------------------------------------------------------------------------- refusals


def _copy_wh(sc, tmp_path) -> Path:
    dst = tmp_path / "w.duckdb"
    shutil.copyfile(sc.wh, dst)
    return dst


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--month", "2026-13"],
        ["run", "--month", "1899-12"],
        ["run", "--month", "2100-01"],
        ["run", "--month", "26-11"],
        ["declare", "--month", "2026-1"],
        ["declare", "--month", "2026-00"],
        ["policy", "--gender", "3", "--birth", "1965-01"],
        ["policy", "--gender", "1", "--birth", "1965-13"],
        ["policy", "--gender", "1", "--birth", "1965-05", "--insurance-type", "120"],
        ["policy", "--gender", "1", "--birth", "1965-05", "--month", "2026-13"],
    ],
)
def test_bad_arguments_refused_with_one_line(sc, tmp_path, args):
    wh = _copy_wh(sc, tmp_path)
    extra = [] if args[0] == "policy" else ["--warehouse", wh, "--out", tmp_path / "o"]
    code, out, err = cli(*args, *extra)
    assert code != 0
    one_line(err)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").rglob("*.parquet"))


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--month", P2],
        ["declare", "--month", P2],
        ["feedback", "FB"],
    ],
)
def test_missing_warehouse_refused_and_not_created(tmp_path, command):
    fb = tmp_path / "fb.csv"
    fb.write_text(",".join(FEEDBACK_COLS) + "\n", encoding="utf-8")
    command = [fb if c == "FB" else c for c in command]
    wh = tmp_path / "nope.duckdb"
    extra = ["--out", tmp_path / "o"] if command[0] in ("run", "declare") else []
    code, out, err = cli(*command, "--warehouse", wh, *extra)
    assert code != 0
    one_line(err)
    assert not wh.exists()


def test_missing_batch_folder_refused(tmp_path):
    code, out, err = cli("ingest", tmp_path / "no-such-batch", "--warehouse", tmp_path / "w.duckdb")
    assert code != 0
    one_line(err)


def test_month_before_last_run_refused(sc, tmp_path):
    wh = _copy_wh(sc, tmp_path)
    code, out, err = cli("run", "--month", P1, "--warehouse", wh, "--out", tmp_path / "o")
    assert code != 0
    one_line(err)


def test_successful_commands_exit_zero(sc):
    for name, (code, out, err) in sc.results.items():
        assert code == 0, name
        assert not ID_RE.search(err), name


# --------------------------------------------------------------------------- demo


def test_demo_into_a_given_out(tmp_path):
    out = tmp_path / "demo"
    code, stdout, err = cli("demo", "--out", out)
    assert code == 0, err
    months = sorted(d.name for d in out.iterdir() if d.is_dir() and MONTH_RE.fullmatch(d.name))
    assert months, list(out.iterdir())
    for m in months:
        assert (out / m / "report" / "index.html").is_file()
        assert (out / m / "validation").is_dir()
        assert any((out / m / "worklists").glob("*/worklist.parquet"))
        assert any((out / m / "notifications").glob("*/sms.parquet"))
    assert any(
        (out / m / "declarations").glob("*/declarations.parquet") for m in months if (out / m / "declarations").exists()
    )
    dbs = list(out.glob("*.duckdb"))
    assert dbs, "the demo's warehouse is in OUT (README: out/demo/warehouse.duckdb)"
