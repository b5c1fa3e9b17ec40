"""The synthetic push generator (pipelines/sample/) and the shipped sample (data/sample/)."""

from __future__ import annotations

import csv
import filecmp
import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from pipelines import sample
from pipelines.sample import draw, rates
from pipelines.sample.arrays import id_checks
from pipelines.sample.context import new_context
from pipelines.identifiers import id_check_char, normalize_phone, parse_id_no, uscc_valid
from pipelines.policy import benefit_province, retirement_facts
from support.pushkit import VECTORS

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
MONTH = "2026-11"
P = 2026 * 12 + 10

ALL_FLAGS = (
    "ARREARS",
    "BENEFIT_PLACE_MISMATCH",
    "BIRTH_DATE_CONFLICT",
    "DUPLICATE_CONTRIBUTION",
    "GENDER_CONFLICT",
    "INSUFFICIENT_YEARS",
    "KEY_INFO_MISSING",
    "PAST_AGE_NOT_RETIRED",
    "REMOTE_UNMERGED",
    "YEARS_UNCONFIRMED",
)


# ----------------------------------------------------------------------------- helpers


def rows_of(batch: Path, kind: str) -> list[dict]:
    out = []
    for cols in sample.iter_batch_rows(batch, kind):
        names = list(cols)
        out.extend(dict(zip(names, vals)) for vals in zip(*cols.values()))
    return out


def mi(yyyymm: str) -> int:
    return int(yyyymm[:4]) * 12 + int(yyyymm[4:6]) - 1


def valid_rows(batch: Path):
    """Accepted persons and segments rows, as the contract reads them (duplicates, orphans out)."""
    man = json.loads((batch / "manifest.json").read_text())
    persons = rows_of(batch, "persons")
    segments = rows_of(batch, "segments")
    ids = Counter(p["id_no"].strip().upper() for p in persons)
    good = {}
    bad_p = 0
    for p in persons:
        key = p["id_no"].strip().upper()
        if sample.check_person_row(p, man["push_type"]) or ids[key] > 1:
            bad_p += 1
        else:
            good[key] = p
    bad_owner = {p["id_no"].strip().upper() for p in persons} - set(good)
    segs = defaultdict(list)
    bad_s = 0
    bad_s_own = 0
    for s in segments:
        key = s["id_no"].strip().upper()
        if sample.check_segment_row(s) or key not in good and key not in bad_owner:
            bad_s += 1
        elif key in bad_owner:
            bad_s_own += 1
        else:
            segs[key].append(s)
    return man, persons, segments, good, segs, (bad_p, bad_s, bad_s_own)


def flags_of(p: dict, segs: list[dict], month_mi: int = P) -> tuple[set[str], dict]:
    """rules.md §4 for one accepted person (a reference reading, using pipelines.policy)."""
    info = parse_id_no(p["id_no"])
    it = int(p["insurance_type"])
    gender = int(p["gender"])
    pt = p["person_type"] or None
    bd = p["birth_date"]
    b = int(bd[:4]) * 12 + int(bd[4:6]) - 1
    f = retirement_facts(gender, pt, it, b)
    flags = set()
    if p["deemed_status"] == "2":
        flags.add("YEARS_UNCONFIRMED")
    if any(s["relation_status"] in ("2", "3") for s in segs):
        flags.add("REMOTE_UNMERGED")
    deemed = int(p["deemed_months"] or 0)
    has_emp = bool(p["employer_uscc"] or p["employer_name"])
    key_missing = {
        "hukou": not p["hukou_region"],
        "phone": normalize_phone(p["phone"] or None) is None,
        "person_type": it == 110 and gender == 2 and not pt,
        "employer": it == 110 and pt in ("1", "2") and not has_emp,
        "deemed_region": deemed > 0 and not p["deemed_region"],
    }
    if any(key_missing.values()):
        flags.add("KEY_INFO_MISSING")
    if info.birth_date != date(int(bd[:4]), int(bd[4:6]), int(bd[6:])):
        flags.add("BIRTH_DATE_CONFLICT")
    if info.gender != gender:
        flags.add("GENDER_CONFLICT")
    iv = [(s["region_code"][:2], mi(s["start_month"]), mi(s["end_month"])) for s in segs]
    if any(a[0] != c[0] and a[1] <= c[2] and c[1] <= a[2] for i, a in enumerate(iv) for c in iv[i + 1 :]):
        flags.add("DUPLICATE_CONTRIBUTION")
    if int(p["arrears_months"]) > 0:
        flags.add("ARREARS")
    counted = int(p["actual_contribution_months"]) + (deemed if p["deemed_status"] == "1" else 0)
    projected = counted + (max(0, f.statutory_age_mi - month_mi) if p["contribution_status"] == "1" else 0)
    if projected < f.min_contribution_months:
        flags.add("INSUFFICIENT_YEARS")
    if it == 110:
        place = benefit_province(
            hukou_region=p["hukou_region"] or None,
            benefit_region_ministry=p["benefit_region_ministry"] or None,
            insured_region=p["insured_region"],
            deemed_region=p["deemed_region"] or None,
            deemed_months=deemed,
            deemed_status=int(p["deemed_status"]),
            segments=[
                (s["region_code"], mi(s["start_month"]), mi(s["end_month"]), int(s["relation_status"])) for s in segs
            ],
        )
        prov, rule = place.province, place.rule
    else:
        prov, rule = p["insured_region"][:2] + "0000", "RESIDENT"
    if p["benefit_region_ministry"] and p["benefit_region_ministry"][:2] != prov[:2]:
        flags.add("BENEFIT_PLACE_MISMATCH")
    if f.statutory_age_mi < month_mi and p["retired"] != "1":
        flags.add("PAST_AGE_NOT_RETIRED")
    d = f.original_age_mi - month_mi
    alive = p["survival_status"] != "2" and p["retired"] != "1" and prov == "640000"
    scope = None
    if alive and it == 110 and 0 <= d <= 12:
        scope = "a"
    elif alive and it == 110 and d < 0 and p["contribution_status"] == "2":
        scope = "b"
    elif alive and it == 170 and 0 <= d <= 12:
        scope = "c"
    return flags, {"rule": rule, "province": prov, "scope": scope, "key_missing": key_missing, "d": d}


@pytest.fixture(scope="module")
def batch2000(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("b") / "full"
    sample.generate_batch(out, persons=2000, month=MONTH, seed=1)
    return out


def verify_manifest(batch: Path) -> dict:
    man = json.loads((batch / "manifest.json").read_text(encoding="utf-8"))
    assert set(man) == {
        "batch_id",
        "province",
        "push_type",
        "data_month",
        "seq",
        "base_seq",
        "generated_at",
        "schema_version",
        "encoding",
        "files",
    }
    for name, info in man["files"].items():
        data = (batch / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256"], name
        kind = name.split(".")[0]
        assert len(rows_of(batch, kind)) == info["rows"], name
    return man


# ----------------------------------------------------------------------------- tests


def test_columns_are_the_contract():
    from pipelines.ingest import PERSON_COLUMNS, SEGMENT_COLUMNS

    assert sample.PERSON_COLUMNS == PERSON_COLUMNS
    assert sample.SEGMENT_COLUMNS == SEGMENT_COLUMNS


def test_manifest_and_ids(batch2000):
    man = verify_manifest(batch2000)
    assert man["province"] == "640000" and man["push_type"] == "FULL" and man["seq"] == 1
    assert man["base_seq"] is None and man["schema_version"] == "1.0" and man["encoding"] == "UTF-8"
    assert man["generated_at"].startswith("2026-11-") and man["generated_at"].endswith("+08:00")
    assert man["files"]["persons.csv"]["rows"] == 2000
    raw = (batch2000 / "persons.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.split(b"\n", 1)[0].decode() == ",".join(sample.PERSON_COLUMNS)
    persons = rows_of(batch2000, "persons")
    ids = [p["id_no"] for p in persons]
    assert all(parse_id_no(i) is not None for i in ids)
    assert len({i.upper() for i in ids}) == len(ids)
    assert any(i.endswith("x") for i in ids) and any(i.endswith("X") for i in ids)
    assert any(i[:6] in ("642223", "640102") or i[:3] == "642" for i in ids)  # abolished codes
    assert any(not i.startswith("64") for i in ids)
    assert all(sample.check_person_row(p) is None for p in persons)
    assert all(p["insured_region"] in sample.OFFICE_CODES for p in persons)
    assert {p["insured_region"] for p in persons} == sample.OFFICE_CODES
    assert all(uscc_valid(p["employer_uscc"]) for p in persons if p["employer_uscc"])
    segs = rows_of(batch2000, "segments")
    assert all(sample.check_segment_row(s) is None for s in segs)
    assert {s["id_no"] for s in segs} <= set(ids)


def test_vectorised_check_characters():
    rng = np.random.default_rng(5)
    id17 = 110000 * 10**11 + rng.integers(0, 10**16, 500)
    checks = id_checks(id17)
    assert [id_check_char(str(x)) for x in id17.tolist()] == checks.tolist()


def test_vectorised_benefit_place_matches_vectors():
    rows = list(csv.DictReader(open(VECTORS / "benefit_place.csv", encoding="utf-8")))
    k = max(len(r["segments"].split(";")) for r in rows)
    n = len(rows)
    prov = np.zeros((n, k), np.int64)
    st = np.zeros((n, k), np.int64)
    en = np.zeros((n, k), np.int64)
    rel = np.zeros((n, k), np.int64)
    on = np.zeros((n, k), bool)
    for i, r in enumerate(rows):
        for j, seg in enumerate(filter(None, r["segments"].split(";"))):
            code, span, rs = seg.split(":")
            a, b = span.split("-")
            prov[i, j], st[i, j], en[i, j], rel[i, j], on[i, j] = int(code[:2]), mi(a), mi(b), int(rs), True
    hukou = np.array([int(r["hukou_region"][:2]) if r["hukou_region"] else 64 for r in rows])
    dprov = np.array([int(r["deemed_region"][:2]) if r["deemed_region"] else 0 for r in rows])
    dconf = np.array([int(r["deemed_months"]) if r["deemed_status"] == "1" else 0 for r in rows])
    got = sample.benefit_province_vec(hukou, prov, st, en, rel, on, dprov, dconf)
    assert [f"{g}0000" for g in got.tolist()] == [r["expected_benefit_province"] for r in rows]


def test_generator_place_is_rules_md_place():
    """The place the generator computes (and writes as benefit_region_ministry) is pipelines.policy's."""
    ctx = new_context(P, 11)
    drawn = draw.draw_chunk(ctx, np.random.default_rng(11), 5000)
    pc = drawn["persons"]
    ids = pc["id_no"]
    segs = defaultdict(list)
    sc = draw.segment_columns_with_ids(drawn, ids)
    for o, r, a, b, rel in zip(
        drawn["segments"]["owner"].tolist(),
        sc["region_code"],
        sc["start_month"],
        sc["end_month"],
        sc["relation_status"],
    ):
        segs[o].append((r, mi(a), mi(b), int(rel)))
    checked = 0
    for i in range(5000):
        if pc["insurance_type"][i] != "110":
            assert drawn["place"][i] == 64
            continue
        bp = benefit_province(
            hukou_region=pc["hukou_region"][i] or None,
            benefit_region_ministry=pc["benefit_region_ministry"][i] or None,
            insured_region=pc["insured_region"][i],
            deemed_region=pc["deemed_region"][i] or None,
            deemed_months=int(pc["deemed_months"][i] or 0),
            deemed_status=int(pc["deemed_status"][i]),
            segments=segs[i],
        )
        assert int(bp.province[:2]) == drawn["place"][i], i
        checked += 1
    assert checked > 4000


def test_every_situation_occurs(batch2000):
    man, persons, _, good, segs, _ = valid_rows(batch2000)
    flags = Counter()
    rules = Counter()
    scopes = Counter()
    missing = Counter()
    outside = 0
    for key, p in good.items():
        fl, info = flags_of(p, segs.get(key, []))
        flags.update(fl)
        rules[info["rule"]] += 1
        scopes[info["scope"]] += 1
        missing.update(k for k, v in info["key_missing"].items() if v)
        outside += info["province"] != "640000"
    for flag in ALL_FLAGS:
        assert flags[flag] >= 5, (flag, flags)
    assert set(missing) == {"hukou", "phone", "person_type", "employer", "deemed_region"}, missing
    for rule in ("HUKOU_NO_BASIC_MONTHS", "R1_HUKOU", "R2_CURRENT_120", "R3_PREVIOUS_120", "R4_HUKOU"):
        assert rules[rule] >= 3, rules
    assert scopes["a"] > 500 and scopes["b"] >= 30 and scopes["c"] >= 30, scopes
    assert 20 <= outside <= 300
    # the ministry's place agrees with rules.md §2 except the designed ~3 % mismatches
    assert 0.01 <= flags["BENEFIT_PLACE_MISMATCH"] / len(good) <= 0.05
    col = lambda c: Counter(p[c] for p in persons)  # noqa: E731
    assert set(col("survival_status")) == {"1", "2", "9"}
    assert set(col("retired")) == {"0", "1"} and set(col("contribution_status")) == {"1", "2", "3"}
    assert set(col("deemed_status")) == {"0", "1", "2"}
    assert 0.80 <= col("insurance_type")["110"] / len(persons) <= 0.90
    assert set(col("person_type")) == {"", "1", "2", "3"}
    rel = Counter(s["relation_status"] for ss in segs.values() for s in ss)
    assert set(rel) == {"1", "2", "3"}
    assert max(len(v) for v in segs.values()) <= 6
    # many near the original age
    d = Counter()
    for p in good.values():
        d[(flags_of(p, [])[1]["d"] // 12)] += 1
    assert d[0] + d[1] > len(good) * 0.6 and sum(v for k, v in d.items() if k < 0) > 50


def test_determinism_and_variants(tmp_path):
    a = sample.generate_batch(tmp_path / "a", persons=700, month=MONTH, seed=3, bad_rows=0.02)
    b = sample.generate_batch(tmp_path / "b", persons=700, month=MONTH, seed=3, bad_rows=0.02)
    assert a == b
    for name in ("manifest.json", "persons.csv", "segments.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    c = sample.generate_batch(tmp_path / "c", persons=700, month=MONTH, seed=4)
    assert c["files"]["persons.csv"]["sha256"] != a["files"]["persons.csv"]["sha256"]
    # GB18030: same text, other bytes
    g = sample.generate_batch(tmp_path / "g", persons=300, month=MONTH, seed=3, encoding="GB18030")
    sample.generate_batch(tmp_path / "u", persons=300, month=MONTH, seed=3, bom=True)
    verify_manifest(tmp_path / "g")
    verify_manifest(tmp_path / "u")
    assert g["encoding"] == "GB18030"
    gtext = (tmp_path / "g" / "persons.csv").read_bytes().decode("gb18030")
    utext = (tmp_path / "u" / "persons.csv").read_bytes()
    assert utext.startswith(b"\xef\xbb\xbf") and utext[3:].decode("utf-8") == gtext
    # Parquet: text columns, same rows
    pq_man = sample.generate_batch(tmp_path / "p", persons=300, month=MONTH, seed=3, fmt="parquet")
    assert set(pq_man["files"]) == {"persons.parquet", "segments.parquet"}
    verify_manifest(tmp_path / "p")
    import pyarrow.parquet as pq

    schema = pq.read_schema(tmp_path / "p" / "persons.parquet")
    assert schema.names == list(sample.PERSON_COLUMNS) and {str(t) for t in schema.types} == {"string"}
    assert rows_of(tmp_path / "p", "persons") == rows_of(tmp_path / "g", "persons")
    assert rows_of(tmp_path / "p", "segments") == rows_of(tmp_path / "u", "segments")


def test_bad_rows_share(tmp_path):
    out = tmp_path / "bad"
    man = sample.generate_batch(out, persons=2000, month=MONTH, seed=9, bad_rows=0.05)
    verify_manifest(out)
    _, persons, segments, good, segs, (bad_p, bad_s, bad_s_own) = valid_rows(out)
    total = len(persons) + len(segments)
    assert man["files"]["persons.csv"]["rows"] == len(persons) == 2000
    share = (bad_p + bad_s) / total
    assert 0.035 <= share <= 0.07, share
    assert bad_s_own > 0  # segments that follow a quarantined person
    reasons = Counter(sample.check_person_row(p) for p in persons)
    for code in ("BAD_ID_NO", "UNKNOWN_OFFICE", "BAD_REGION_CODE", "BAD_BIRTH_DATE", "BAD_OP"):
        assert reasons[code] > 0, reasons
    ids = Counter(p["id_no"].upper() for p in persons)
    assert any(v > 1 for v in ids.values())  # one id_no on two rows
    sreasons = Counter(sample.check_segment_row(s) for s in segments)
    for code in ("BAD_ID_NO", "BAD_REGION_CODE", "BAD_MONTH", "END_BEFORE_START", "BAD_RELATION_STATUS"):
        assert sreasons[code] > 0, sreasons
    person_ids = set(ids)
    assert any(s["id_no"].upper() not in person_ids and parse_id_no(s["id_no"]) for s in segments)  # orphan
    # lower-case x is not bad
    assert any(p["id_no"].endswith("x") for p in good.values())
    # the valid rows are those of the clean batch
    clean = tmp_path / "clean"
    sample.generate_batch(clean, persons=2000, month=MONTH, seed=9)
    clean_rows = {p["id_no"]: p for p in rows_of(clean, "persons")}
    assert all(clean_rows.get(p["id_no"]) == p for p in good.values())


def test_incr(tmp_path, batch2000):
    out = tmp_path / "incr"
    man = sample.generate_batch(out, month="2026-12", seed=1, incr_from=batch2000, changes=80)
    verify_manifest(out)
    assert man["push_type"] == "INCR" and man["seq"] == 2 and man["base_seq"] == 1
    assert man["data_month"] == "2026-12"
    persons = rows_of(out, "persons")
    assert len(persons) == 80
    ops = Counter(p["op"] for p in persons)
    assert ops["U"] == 60 and ops["I"] == 12 and ops["D"] == 8
    assert all(sample.check_person_row(p, "INCR") is None for p in persons)
    prev = {p["id_no"]: p for p in rows_of(batch2000, "persons")}
    prev_segs = defaultdict(list)
    for s in rows_of(batch2000, "segments"):
        prev_segs[s["id_no"]].append(s)
    segs = defaultdict(list)
    for s in rows_of(out, "segments"):
        assert sample.check_segment_row(s) is None
        segs[s["id_no"]].append(s)
    gained = 0
    for p in persons:
        if p["op"] == "D":
            assert p["id_no"] in prev and all(p[c] == "" for c in sample.PERSON_COLUMNS if c not in ("op", "id_no"))
            assert not segs.get(p["id_no"])
        elif p["op"] == "U":
            old = prev[p["id_no"]]
            assert any(old[c] != p[c] for c in sample.PERSON_COLUMNS if c != "op")
            old_s = [tuple(s.values()) for s in prev_segs[p["id_no"]]]
            new_s = [tuple(s.values()) for s in segs.get(p["id_no"], [])]
            assert set(old_s) <= set(new_s)
            gained += len(new_s) > len(old_s)
        else:
            assert p["id_no"] not in prev and parse_id_no(p["id_no"])
    assert gained >= 3
    assert set(segs) <= {p["id_no"] for p in persons if p["op"] in ("U", "I")}
    # deterministic
    again = sample.generate_batch(tmp_path / "again", month="2026-12", seed=1, incr_from=batch2000, changes=80)
    assert again == man
    # INCR on an INCR, in Parquet and GB18030 input
    m3 = sample.generate_batch(tmp_path / "i3", month="2027-01", seed=1, incr_from=out, changes=20, fmt="parquet")
    assert (m3["seq"], m3["base_seq"]) == (3, 2)
    verify_manifest(tmp_path / "i3")
    g = tmp_path / "g"
    sample.generate_batch(g, persons=200, month=MONTH, seed=2, encoding="GB18030")
    m4 = sample.generate_batch(tmp_path / "i4", month="2026-12", seed=2, incr_from=g, changes=10, encoding="GB18030")
    verify_manifest(tmp_path / "i4")
    assert m4["encoding"] == "GB18030"


def test_applications(tmp_path, batch2000):
    path = tmp_path / "apps.csv"
    n = sample.write_applications(path, batch2000, MONTH, seed=1, n=60)
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "id_no,applicant_type,applied_on,channel,county_code"
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) == n == 60
    persons = {p["id_no"]: p for p in rows_of(batch2000, "persons")}
    near = outside_push = 0
    for r in rows:
        assert parse_id_no(r["id_no"]) and r["applicant_type"] in ("1", "2", "3")
        assert r["applied_on"].startswith("202610") and r["channel"] in ("online", "counter")
        assert r["county_code"] in sample.OFFICE_CODES
        p = persons.get(r["id_no"])
        if p is None:
            outside_push += 1
            continue
        d = flags_of(p, [])[1]["d"]
        assert d <= 36
        near += 13 <= d <= 24
    assert near >= 25 and outside_push >= 1
    assert len({r["id_no"] for r in rows}) == len(rows)
    # from population arguments: same persons
    path2 = tmp_path / "apps2.csv"
    sample.write_applications(path2, {"persons": 2000, "month": MONTH, "seed": 1}, MONTH, seed=1, n=60)
    assert path2.read_bytes() == path.read_bytes()


def test_cli(tmp_path, capsys):
    assert (
        sample.cli_sample(
            [
                "--persons",
                "50",
                "--month",
                MONTH,
                "--out",
                str(tmp_path / "f"),
                "--format",
                "parquet",
                "--bad-rows",
                "0.1",
                "--seed",
                "4",
            ]
        )
        == 0
    )
    verify_manifest(tmp_path / "f")
    assert (
        sample.cli_sample(
            [
                "--month",
                "2026-12",
                "--out",
                str(tmp_path / "i"),
                "--incr-from",
                str(tmp_path / "f"),
                "--changes",
                "5",
                "--encoding",
                "GB18030",
            ]
        )
        == 0
    )
    man = verify_manifest(tmp_path / "i")
    assert man["push_type"] == "INCR" and man["files"]["persons.csv"]["rows"] == 5
    assert sample.cli_sample(["--month", "2026-13", "--persons", "5", "--out", str(tmp_path / "x")]) == 2
    assert "month" in capsys.readouterr().err


def test_shipped_sample_is_reproduced(tmp_path):
    from pipelines.sample import shipped as sample_data

    assert (SAMPLE / "README.md").exists()
    sample_data.build(tmp_path)
    produced = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    # the generator owns these paths (feedback from a run of the pipeline on the push); README is hand-made
    owned = [sample_data.FULL_DIR, sample_data.INCR_DIR, sample_data.APPS_FILE, Path("feedback")]
    shipped = sorted(
        p.relative_to(SAMPLE)
        for p in SAMPLE.rglob("*")
        if p.is_file() and any(p.relative_to(SAMPLE).is_relative_to(o) for o in owned)
    )
    assert produced == shipped
    for rel in produced:
        assert filecmp.cmp(tmp_path / rel, SAMPLE / rel, shallow=False), rel
    total = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert total < 3_000_000
    full = SAMPLE / "push" / "2026-11-full"
    man = verify_manifest(full)
    _, persons, segments, _, _, (bad_p, bad_s, bad_s_own) = valid_rows(full)
    assert 0 < bad_p + bad_s + bad_s_own < 0.05 * (len(persons) + len(segments))
    incr = verify_manifest(SAMPLE / "push" / "2026-12-incr")
    assert (incr["seq"], incr["base_seq"], man["seq"]) == (2, 1, 1)


def test_chunks_and_edges(tmp_path, monkeypatch):
    monkeypatch.setattr(draw, "CHUNK", 170)  # read by draw.chunks at call time
    man = sample.generate_batch(tmp_path / "c", persons=1001, month=MONTH, seed=2)
    verify_manifest(tmp_path / "c")
    ids = [p["id_no"].upper() for p in rows_of(tmp_path / "c", "persons")]
    assert len(ids) == len(set(ids)) == 1001 == man["files"]["persons.csv"]["rows"]
    assert all(parse_id_no(i) for i in ids)
    for n in (0, 1, 3):
        m = sample.generate_batch(tmp_path / f"n{n}", persons=n, month=MONTH, seed=2, bad_rows=0.5)
        verify_manifest(tmp_path / f"n{n}")
        assert m["files"]["persons.csv"]["rows"] == n
    with pytest.raises(ValueError):
        sample.generate_batch(tmp_path / "x", persons=5, month="2026-11", encoding="GB18030", bom=True)
    with pytest.raises(ValueError):
        sample.generate_batch(tmp_path / "x", persons=5, month="202611")
    # switching format in the same folder leaves no stale file behind
    sample.generate_batch(tmp_path / "n3", persons=3, month=MONTH, fmt="parquet")
    assert sorted(p.name for p in (tmp_path / "n3").iterdir()) == [
        "manifest.json",
        "persons.parquet",
        "segments.parquet",
    ]


def test_the_rates_table_is_the_documentation():
    """docs/sample.md and the package docstring list exactly the rows of rates.RATES (one table)."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "sample.md").read_text(encoding="utf-8")
    assert rates.page_with_table(page) == page, (
        "docs/sample.md is stale: python -m pipelines.sample.document --write docs/sample.md"
    )
    assert sample.__doc__.endswith(rates.markdown())
    documented = re.findall(r"^\| `([a-z0-9_]+)` \|", page, flags=re.M)
    assert documented == [r.name for r in rates.RATES]


def test_every_rate_is_used_by_the_code_and_cuts_are_the_decimals():
    """A row of the table no drawing code names would be documentation of nothing."""
    code = "\n".join(
        f.read_text(encoding="utf-8") for f in (ROOT / "pipelines" / "sample").glob("*.py") if f.name != "rates.py"
    )
    unused = [r.name for r in rates.RATES if f'"{r.name}"' not in code]
    assert not unused, unused
    assert rates.cuts("person_type_110_women") == [0.45, 0.7, 0.92]
    assert rates.cuts("main_segments_110") == [0.05, 0.47, 0.77, 0.93]
    with pytest.raises(ValueError):
        rates.Split(("a", 0.5), ("b", 0.4))


def test_office_weights_are_the_offices_of_data_offices_csv():
    from pipelines.offices import listed_office_codes

    assert [str(c) for c, _ in sample.OFFICES] != [] and sample.OFFICE_CODES == set(listed_office_codes())


def test_id_codes_of_a_full_birth_date_move_to_the_next_prefix():
    """Issue 19's 25,000,000 persons: more persons born on one day in one county than the
    sequence codes allow go to the next address prefix with room (no draw, so smaller batches
    keep their IDs); every ID stays unique; all prefixes full is still refused."""
    from pipelines.sample.context import assign_codes

    ctx = new_context(P, 3)
    ctx.code_span = 2
    first, second = int(ctx.prefixes[0]), int(ctx.prefixes[1])
    n = 7
    y, m, d = np.full(n, 1966), np.full(n, 5), np.full(n, 17)
    parity = np.array([1, 1, 1, 0, 0, 0, 1])
    prefix, code = assign_codes(ctx, np.full(n, first), y, m, d, parity)
    assert prefix.tolist() == [first, first, second, first, first, second, second]
    assert len({(p, c) for p, c in zip(prefix.tolist(), code.tolist())}) == n
    assert ((code % 2) == parity).all()
    # a later chunk finds the first prefix full and the second half full
    prefix2, code2 = assign_codes(ctx, np.full(2, first), y[:2], m[:2], d[:2], np.array([1, 1]))
    assert prefix2.tolist() == [int(ctx.prefixes[2])] * 2
    assert not {(p, c) for p, c in zip(prefix2.tolist(), code2.tolist())} & set(zip(prefix.tolist(), code.tolist()))
    ctx.counter[:] = ctx.code_span
    with pytest.raises(ValueError, match="too many persons share an address code and birth date"):
        assign_codes(ctx, np.full(1, first), y[:1], m[:1], d[:1], np.array([0]))
