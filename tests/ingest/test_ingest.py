"""retire-prep ingest: every rule of push-format.md, one test each (warehouse under tmp_path).

Batches are hand-made with tests/support/pushkit.py: ~40–60 persons, so the 5 % bad-row share
is only crossed where a test means it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import PERSON_COLUMNS, SEGMENT_COLUMNS, ingest_batches, read_manifest
from pipelines.errors import BatchRefused
from pipelines.settings import Settings
from pipelines.warehouse import person_key

from support.pushkit import (
    csv_text,
    edit_manifest,
    make_id,
    person,
    population,
    rehash,
    segment,
    write_batch,
    write_typed_parquet,
)
from support.warehouse import q, persons_as_of, refusal_note, unexplained_refusals  # noqa: F401

SETTINGS = Settings(person_key_secret="test-key-ingest")
ID_RE = re.compile(r"[0-9]{17}[0-9Xx]")
NAME_RE = re.compile(r"测试|马国强|王")


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def wh(tmp_path):
    """The test's warehouse; after the test, every batch it refused is explained in Chinese on the
    leaders' page (sql/report/60_refused_batches.sql: a new refusal text needs its line there)."""
    path = tmp_path / "wh" / "warehouse.duckdb"
    yield path
    if path.exists():
        assert unexplained_refusals(path) == []


def ingest(wh: Path, *dirs, settings: Settings = SETTINGS, validate: bool = False, **kw):
    """ingest_batches without the GX suites (tests/outputs/test_validate.py has them) unless asked:
    the rules of push-format.md are what these tests check, and GX costs ~0.3 s a batch."""
    return ingest_batches([Path(d) for d in dirs], wh, settings, validate=validate, **kw)


def q1(wh: Path, sql: str, params=None):
    return q(wh, sql, params)[0][0]


def counts(wh: Path) -> dict:
    return {
        t: q1(wh, f"SELECT count(*) FROM {t}")
        for t in ("push_batches", "batch_refusals", "quarantine_rows", "person_versions", "segment_versions")
    }


_TEXT_COLS = [c for c in PERSON_COLUMNS if c != "op"]


def as_text(row: dict) -> dict:
    """A person_versions row turned back into the push's text form (to compare with pushkit dicts)."""
    out = {}
    for c in _TEXT_COLS:
        v = row[c]
        if v is None:
            out[c] = ""
        elif c == "birth_date":
            out[c] = v.strftime("%Y%m%d")
        elif c == "retired":
            out[c] = "1" if v else "0"
        else:
            out[c] = str(v)
    return out


def segments_as_of(wh: Path, s: int | None = None) -> dict[str, list[tuple]]:
    cond = (
        "valid_to_seq IS NULL"
        if s is None
        else f"valid_from_seq <= {int(s)} AND (valid_to_seq IS NULL OR valid_to_seq > {int(s)})"
    )
    out: dict[str, list] = {}
    for id_no, region, a, b, st in q(
        wh,
        f"SELECT id_no, region_code, start_mi, end_mi, relation_status "
        f"FROM segment_versions WHERE {cond} ORDER BY id_no, start_mi, end_mi",
    ):
        out.setdefault(id_no, []).append((region, _yyyymm(a), _yyyymm(b), str(st)))
    return out


def _yyyymm(mi: int) -> str:
    return f"{mi // 12:04d}{mi % 12 + 1:02d}"


def seg_key(s: dict) -> tuple:
    return (s["region_code"], s["start_month"], s["end_month"], s["relation_status"])


def quarantine(wh: Path) -> list[tuple]:
    return q(wh, "SELECT seq, batch_id, file, row_no, reason_code, raw_text FROM quarantine_rows ORDER BY file, row_no")


def refusals(wh: Path) -> list[tuple]:
    return q(wh, "SELECT batch_id, seq, file, row_no, reason_code, reason FROM batch_refusals ORDER BY refused_at")


def assert_no_personal_data(*texts) -> None:
    for t in texts:
        t = "" if t is None else str(t)
        assert not ID_RE.search(t), f"an ID number in a message: {t!r}"
        assert not NAME_RE.search(t), f"a name in a message: {t!r}"


def id_with_x(start: int = 1) -> tuple[int, str]:
    """(n, make_id(seq=n)) for the first n >= start whose ID number ends in X."""
    for n in range(start, 500):
        i = make_id(seq=n)
        if i.endswith("X"):
            return n, i
    raise AssertionError("no X check character found")


def unchanged_updates(ps, ss, idx) -> tuple[list[dict], list[dict]]:
    """U rows repeating persons ``idx`` exactly (with their segments): no new versions, but
    they make a small INCR big enough that one intended bad row stays under 5 %."""
    ids = {ps[i]["id_no"] for i in idx}
    return [dict(ps[i], op="U") for i in idx], [s for s in ss if s["id_no"] in ids]


# --------------------------------------------------------------------------- hashes and row counts


def test_sha256_mismatch_refuses_whole_batch(tmp_path, wh):
    ps, ss = population(40)
    b = write_batch(tmp_path / "b1", ps, ss, seq=1)
    data = (b / "persons.csv").read_bytes().replace("测试7".encode(), "测试8".encode(), 1)
    (b / "persons.csv").write_bytes(data)  # the manifest still has the old hash

    rep = ingest(wh, b)
    assert not rep.applied and len(rep.refused) == 1
    msg = str(rep.refused[0])
    assert "NX-2026-11-0001" in msg and "persons.csv" in msg and "sha256" in msg
    c = counts(wh)
    assert c["person_versions"] == c["segment_versions"] == c["push_batches"] == c["quarantine_rows"] == 0
    (ref,) = refusals(wh)
    assert ref[0] == "NX-2026-11-0001" and ref[2] == "persons.csv"
    assert ref[1] == 1  # the manifest was read: its seq is recorded with the refusal
    assert_no_personal_data(msg, *ref)


def test_sha256_mismatch_in_segments_names_that_file(tmp_path, wh):
    ps, ss = population(40)
    b = write_batch(tmp_path / "b1", ps, ss, seq=1)
    with open(b / "segments.csv", "ab") as fh:
        fh.write(b"\n")
    rep = ingest(wh, b)
    assert len(rep.refused) == 1 and rep.refused[0].file == "segments.csv"
    assert counts(wh)["person_versions"] == 0


@pytest.mark.parametrize("kind,delta", [("persons", 1), ("segments", -3)])
def test_row_count_mismatch_refuses_whole_batch(tmp_path, wh, kind, delta):
    ps, ss = population(40)
    n = len(ps) if kind == "persons" else len(ss)
    b = write_batch(tmp_path / "b1", ps, ss, seq=1, rows_override={kind: n + delta})
    rep = ingest(wh, b)
    assert not rep.applied and len(rep.refused) == 1
    ref = rep.refused[0]
    assert ref.batch == "NX-2026-11-0001" and ref.file == f"{kind}.csv"
    assert f"{n} data rows" in ref.reason and f"manifest says {n + delta}" in ref.reason
    c = counts(wh)
    assert c["person_versions"] == c["segment_versions"] == c["push_batches"] == c["quarantine_rows"] == 0
    assert len(refusals(wh)) == 1


# --------------------------------------------------------------------------- encodings and formats

NAMES = ["马国强", "王䶮", "李𠀀梅", "张·买买提", "欧阳娜娜"]


def _named_population(n=40):
    ps, ss = population(n)
    for i, name in enumerate(NAMES):
        ps[i * 7]["name"] = name
    ps[3]["employer_name"] = '宁夏"塞上",有限公司'  # quotes and a comma in a field
    ps[4]["employer_name"] = "银川市兴庆区\n第二分公司"  # a line break in a quoted field
    return ps, ss


def _expected_current(ps) -> dict[str, dict]:
    return {p["id_no"]: {c: p.get(c, "") for c in _TEXT_COLS} for p in ps}


@pytest.mark.parametrize(
    "encoding,bom,line_end",
    [
        ("UTF-8", False, "\n"),
        ("UTF-8", True, "\n"),
        ("GB18030", False, "\n"),
        ("UTF-8", False, "\r\n"),
        ("GB18030", False, "\r\n"),
    ],
    ids=["utf8", "utf8-bom", "gb18030", "utf8-crlf", "gb18030-crlf"],
)
def test_csv_encodings_round_trip(tmp_path, wh, encoding, bom, line_end):
    ps, ss = _named_population()
    raw = None
    if line_end != "\n":
        enc = "gb18030" if encoding == "GB18030" else "utf-8"
        raw = {
            "persons": csv_text(ps, PERSON_COLUMNS, line_end=line_end).encode(enc),
            "segments": csv_text(ss, SEGMENT_COLUMNS, line_end=line_end).encode(enc),
        }
    b = write_batch(tmp_path / "b1", ps, ss, seq=1, encoding=encoding, bom=bom, raw_files=raw)
    if encoding == "GB18030":
        assert "马国强".encode("gb18030") in (b / "persons.csv").read_bytes()
    rep = ingest(wh, b, validate=True)  # with the raw and ingest GX suites, as the CLI runs it
    assert [a["batch_id"] for a in rep.applied] == ["NX-2026-11-0001"], rep.lines()
    assert rep.applied[0]["persons_quarantined"] == rep.applied[0]["segments_quarantined"] == 0
    got = {k: as_text(v) for k, v in persons_as_of(wh).items()}
    assert got == _expected_current(ps)
    names = q(wh, "SELECT name FROM person_versions")
    assert {n for (n,) in names} >= set(NAMES)
    assert segments_as_of(wh) == {p["id_no"]: sorted(seg_key(s) for s in ss if s["id_no"] == p["id_no"]) for p in ps}


def test_header_columns_in_any_order(tmp_path, wh):
    ps, ss = population(40)
    pcols = list(reversed(PERSON_COLUMNS))
    scols = ["end_month", "id_no", "relation_status", "start_month", "region_code"]
    raw = {"persons": csv_text(ps, pcols).encode(), "segments": csv_text(ss, scols).encode()}
    b = write_batch(tmp_path / "b1", ps, ss, seq=1, raw_files=raw)
    rep = ingest(wh, b)
    assert len(rep.applied) == 1, rep.lines()
    assert {k: as_text(v) for k, v in persons_as_of(wh).items()} == _expected_current(ps)
    assert sum(len(v) for v in segments_as_of(wh).values()) == len(ss)


def _table_dump(wh: Path) -> tuple:
    p = q(wh, "SELECT * EXCLUDE (valid_from_seq, valid_to_seq) FROM person_versions ORDER BY id_no")
    s = q(wh, "SELECT * EXCLUDE (valid_from_seq, valid_to_seq) FROM segment_versions ORDER BY id_no, seg_no")
    return p, s


def test_parquet_with_text_columns_equals_csv(tmp_path):
    ps, ss = _named_population()
    ps[10]["gender"] = "7"  # one bad row: quarantined the same way from Parquet
    w_csv, w_pq = tmp_path / "csv.duckdb", tmp_path / "pq.duckdb"
    r1 = ingest(w_csv, write_batch(tmp_path / "c", ps, ss, seq=1))
    r2 = ingest(w_pq, write_batch(tmp_path / "p", ps, ss, seq=1, fmt="parquet"))
    assert len(r1.applied) == len(r2.applied) == 1
    assert r2.applied[0]["file_format"] == "parquet"
    assert _table_dump(w_csv) == _table_dump(w_pq)
    assert (
        q(w_pq, "SELECT file, row_no, reason_code FROM quarantine_rows ORDER BY 1, 2")
        == q(w_csv, "SELECT file, row_no, reason_code FROM quarantine_rows ORDER BY 1, 2")
        == [
            ("persons", 11, "BAD_GENDER"),
            ("segments", 21, "PERSON_QUARANTINED"),
            ("segments", 22, "PERSON_QUARANTINED"),
        ]
    )


@pytest.mark.parametrize("bool_retired", [False, True], ids=["int-retired", "bool-retired"])
def test_parquet_with_typed_columns_equals_csv(tmp_path, bool_retired):
    ps, ss = _named_population()
    ps[2].update(insurance_type="170", person_type="", employer_uscc="", employer_name="")
    ps[5].update(deemed_months="36", deemed_status="1", deemed_region="640104", retired="1")
    w_csv, w_pq = tmp_path / "csv.duckdb", tmp_path / "pq.duckdb"
    r1 = ingest(w_csv, write_batch(tmp_path / "c", ps, ss, seq=1))
    b = write_typed_parquet(tmp_path / "p", ps, ss, seq=1, bool_retired=bool_retired)
    types = dict(
        q(
            w_csv,
            "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))",
            [str(b / "persons.parquet")],
        )
    )
    assert types["birth_date"] == "DATE" and types["gender"] == "BIGINT"
    r2 = ingest(w_pq, b)
    assert len(r1.applied) == 1 and len(r2.applied) == 1, r2.lines()
    assert r2.applied[0]["persons_quarantined"] == 0 and r2.applied[0]["segments_quarantined"] == 0
    assert _table_dump(w_csv) == _table_dump(w_pq)


# --------------------------------------------------------------------------- FULL and INCR semantics


def test_full_replaces_population_absent_person_left_then_back(tmp_path, wh):
    ps, ss = population(40)
    ps[0]["op"] = "I"  # a FULL accepts op I or empty
    gone = ps[39]["id_no"]
    ingest(wh, write_batch(tmp_path / "f1", ps, ss, seq=1))
    rep = ingest(wh, write_batch(tmp_path / "f2", ps[:39], ss[:78], seq=2))
    assert rep.applied[0]["persons_left"] == 1 and rep.applied[0]["persons_inserted"] == 0
    cur = persons_as_of(wh)
    assert cur[gone]["in_push"] is False and cur[gone]["valid_from_seq"] == 2
    assert as_text(cur[gone]) == {c: ps[39][c] for c in _TEXT_COLS}  # keeps the last data
    assert sum(v["in_push"] for v in cur.values()) == 39
    versions = q(
        wh,
        "SELECT valid_from_seq, valid_to_seq, in_push FROM person_versions WHERE id_no = ? ORDER BY valid_from_seq",
        [gone],
    )
    assert versions == [(1, 2, True), (2, None, False)]

    rep = ingest(wh, write_batch(tmp_path / "f3", ps, ss, seq=3))
    assert rep.applied[0]["persons_left"] == 0
    cur = persons_as_of(wh)
    assert cur[gone]["in_push"] is True and all(v["in_push"] for v in cur.values())
    assert q(
        wh,
        "SELECT valid_from_seq, valid_to_seq, in_push FROM person_versions WHERE id_no = ? ORDER BY valid_from_seq",
        [gone],
    ) == [(1, 2, True), (2, 3, False), (3, None, True)]
    # never deleted: 40 + 1 + 1 versions, and the unchanged 39 got no new version
    assert q1(wh, "SELECT count(*) FROM person_versions") == 42
    # an absent person is not "left" twice by the next FULL
    rep = ingest(wh, write_batch(tmp_path / "f4", ps[:39], ss[:78], seq=4))
    rep = ingest(wh, write_batch(tmp_path / "f5", ps[:39], ss[:78], seq=5))
    assert rep.applied[0]["persons_left"] == 0
    assert q1(wh, "SELECT count(*) FROM person_versions WHERE id_no = ?", [gone]) == 4


def test_a_quarantined_row_in_a_full_is_not_a_person_who_left(tmp_path, wh):
    """A person whose row is in the FULL but quarantined (a typo, a duplicated line) has not left
    the push: the current version and segments stay as they were, in the push."""
    ps, ss = population(60)
    ingest(wh, write_batch(tmp_path / "f1", ps, ss, seq=1))
    typo, twice = ps[0]["id_no"], ps[1]["id_no"]
    ps2 = [dict(ps[0], gender="X")] + ps[1:] + [ps[1]]  # a bad gender; one line twice
    rep = ingest(wh, write_batch(tmp_path / "f2", ps2, ss, seq=2))
    a = rep.applied[0]
    assert a["persons_left"] == 0
    cur = persons_as_of(wh)
    for id_no in (typo, twice):
        assert cur[id_no]["in_push"] is True and cur[id_no]["valid_from_seq"] == 1
    assert (
        q1(wh, "SELECT count(*) FROM segment_versions WHERE id_no IN (?, ?) AND valid_to_seq IS NULL", [typo, twice])
        == 4
    )
    assert {r[4] for r in quarantine(wh) if r[2] == "persons"} == {"BAD_GENDER", "DUPLICATE_ID_NO"}


# --------------------------------------------------------------------------- a quarantined segment row
# push-format.md "Bad input" and "segments.csv"; docs/decisions.md "A quarantined segment row": a
# person with one of his segment rows quarantined keeps his current segment set (a new person takes
# the accepted rows); his persons row applies as usual.


def _current_segment_versions(wh: Path, id_no: str) -> list[tuple]:
    return q(
        wh,
        "SELECT region_code, start_mi, end_mi, relation_status, valid_from_seq, valid_to_seq "
        "FROM segment_versions WHERE id_no = ? ORDER BY start_mi",
        [id_no],
    )


def test_a_typo_in_the_only_segment_row_keeps_the_history_and_the_benefit_place(tmp_path):
    """The probe's case: a Gansu hukou (620102) with 1990-01..2024-12 paid in Ningxia; the next INCR
    repeats him unchanged but types his only segment's region_code as 64O104 (letter O). The row is
    quarantined and his segment stays: screening still finds Ningxia (rules.md §2), no handover to
    Gansu, his entry stays open."""
    from support.ledger import Push, entry

    push = Push(tmp_path)
    x = person(1, birth_date="19670315", hukou_region="620102")
    x["id_no"] = make_id(prefix="620102", birth="19670315", seq=1)
    others = [person(n, birth_date="19670315") for n in range(2, 25)]
    seg_x = segment(x["id_no"], "640104", "199001", "202412")
    segs = [seg_x] + [segment(p["id_no"]) for p in others]
    push.month("2026-11", [x] + others, segs)
    push.month(
        "2026-12",
        [dict(p, op="U") for p in [x] + others],
        [dict(seg_x, region_code="64O104")] + segs[1:],
        push_type="INCR",
    )
    assert push.q("SELECT seq, file, row_no, reason_code FROM quarantine_rows") == [
        (2, "segments", 1, "BAD_REGION_CODE")
    ]
    assert push.q(
        "SELECT segments_rows, segments_accepted, segments_quarantined, rows_balanced, persons_updated, "
        "persons_kept_segments FROM batches WHERE seq = 2"
    ) == [(24, 23, 1, True, 0, 1)]
    # the one segment, still the version of seq 1; no new person version either
    assert push.q(
        "SELECT region_code, start_mi, end_mi, valid_from_seq, valid_to_seq FROM segment_versions WHERE id_no = ?",
        [x["id_no"]],
    ) == [("640104", 1990 * 12, 2024 * 12 + 11, 1, None)]
    assert push.q("SELECT count(*) FROM person_versions WHERE id_no = ?", [x["id_no"]]) == [(1,)]
    assert push.q(
        "SELECT month_mi, benefit_province FROM screen_results WHERE id_no = ? ORDER BY month_mi", [x["id_no"]]
    ) == [(24322, "640000"), (24323, "640000")]
    assert push.q("SELECT count(*) FROM handovers") == [(0,)]
    assert entry(push, x["id_no"])[2:4] == (None, None)  # not closed (no MOVED_OUT)


def test_incr_a_quarantined_segment_row_keeps_both_earlier_segments(tmp_path, wh):
    """U with two segment rows, one quarantined: both earlier segments stay (the good row is not
    applied either), the changed persons row is applied; in the same batch a person whose rows are
    all good gets them, and a U with no segment rows leaves none (push-format.md)."""
    ps, ss = population(40)
    ingest(wh, write_batch(tmp_path / "f1", ps, ss, seq=1))
    before = segments_as_of(wh)
    x = dict(ps[0], op="U", phone="13700000001")
    y, z = dict(ps[1], op="U"), dict(ps[2], op="U")
    sx = [segment(x["id_no"], "620102", "198807", "202512"), segment(x["id_no"], start="200001", status=7)]
    sy = [segment(y["id_no"], "110101", "201001", "201512", 2)]
    pad_p, pad_s = unchanged_updates(ps, ss, range(10, 40))
    rep = ingest(
        wh, write_batch(tmp_path / "i2", [x, y, z] + pad_p, sx + sy + pad_s, seq=2, push_type="INCR", base_seq=1)
    )
    a = rep.applied[0]
    assert (a["segments_accepted"], a["segments_quarantined"], a["persons_kept_segments"]) == (62, 1, 1)
    assert a["persons_updated"] == 3  # x (its row), y and z (their segments)
    assert [r[2:5] for r in quarantine(wh)] == [("segments", 2, "BAD_RELATION_STATUS")]
    assert "1 kept their earlier segments" in rep.lines()[0]
    assert_no_personal_data(*rep.lines())
    segs, cur = segments_as_of(wh), persons_as_of(wh)
    assert segs[x["id_no"]] == before[x["id_no"]]
    assert {r[4:] for r in _current_segment_versions(wh, x["id_no"])} == {(1, None)}  # no new version
    assert cur[x["id_no"]]["phone"] == "13700000001" and cur[x["id_no"]]["valid_from_seq"] == 2
    assert segs[y["id_no"]] == [("110101", "201001", "201512", "2")]
    assert z["id_no"] not in segs
    assert q(wh, "SELECT persons_kept_segments, rows_balanced FROM batches WHERE seq = 2") == [(1, True)]


def test_full_a_quarantined_segment_row_keeps_both_earlier_segments(tmp_path, wh):
    """The same in a FULL: the person with a quarantined segment row keeps his two segments, one whose
    rows are all good has his set replaced."""
    ps, ss = population(40)
    ingest(wh, write_batch(tmp_path / "f1", ps, ss, seq=1))
    before = segments_as_of(wh)
    ss2 = [dict(s) for s in ss]
    ss2[0] = segment(ps[0]["id_no"], "620102", "198807", "202512")  # a good, changed row
    ss2[1]["end_month"] = "199001"  # data row 2: END_BEFORE_START
    ss2[2] = segment(ps[1]["id_no"], "110101", "201001", "201512", 2)  # ps[1]: all good, one changed
    rep = ingest(wh, write_batch(tmp_path / "f2", ps, ss2, seq=2))
    a = rep.applied[0]
    assert (a["persons_kept_segments"], a["persons_updated"], a["persons_left"]) == (1, 1, 0)
    assert [r[2:5] for r in quarantine(wh)] == [("segments", 2, "END_BEFORE_START")]
    segs = segments_as_of(wh)
    assert segs[ps[0]["id_no"]] == before[ps[0]["id_no"]]
    assert {r[4:] for r in _current_segment_versions(wh, ps[0]["id_no"])} == {(1, None)}
    assert segs[ps[1]["id_no"]] == [("640104", "200001", "200912", "1"), ("110101", "201001", "201512", "2")]
    assert q1(wh, "SELECT count(*) FROM segment_versions WHERE valid_from_seq = 2") == 2


def test_a_new_person_with_a_quarantined_segment_row_gets_the_good_ones(tmp_path, wh):
    """A new person (op I) has no earlier set: the accepted rows are all there is. One who left the
    push (op D) and comes back (op I) is no new person: the set he left with stays."""
    ps, ss = population(40)
    ingest(wh, write_batch(tmp_path / "f1", ps, ss, seq=1))
    new = dict(person(41), op="I")
    good = segment(new["id_no"], start="200001", end="202010")
    bad = segment(new["id_no"], start="201113", end="201512")  # month 13: BAD_MONTH
    gone = {"op": "D", "id_no": ps[1]["id_no"]}
    pad_p, pad_s = unchanged_updates(ps, ss, range(10, 40))
    rep = ingest(
        wh,
        write_batch(tmp_path / "i2", [new, gone] + pad_p, [good, bad] + pad_s, seq=2, push_type="INCR", base_seq=1),
    )
    a = rep.applied[0]
    assert (a["persons_inserted"], a["persons_left"], a["persons_kept_segments"]) == (1, 1, 0)
    assert [r[2:5] for r in quarantine(wh)] == [("segments", 2, "BAD_MONTH")]
    assert segments_as_of(wh)[new["id_no"]] == [("640104", "200001", "202010", "1")]
    assert "kept their earlier segments" not in rep.lines()[0]
    before = segments_as_of(wh)[gone["id_no"]]
    back = dict(ps[1], op="I")
    sb = [segment(back["id_no"], "620102", "198807", "202512"), dict(segment(back["id_no"]), relation_status="")]
    rep = ingest(wh, write_batch(tmp_path / "i3", [back] + pad_p, sb + pad_s, seq=3, push_type="INCR", base_seq=2))
    a = rep.applied[0]
    assert (a["persons_inserted"], a["persons_updated"], a["persons_kept_segments"]) == (0, 1, 1)
    assert persons_as_of(wh)[back["id_no"]]["in_push"] is True
    assert segments_as_of(wh)[back["id_no"]] == before


def test_an_unparsable_segment_record_keeps_the_earlier_segments_of_the_id_it_holds(tmp_path, wh):
    """A segment record DuckDB cannot parse (a column short) is quarantined UNPARSABLE_ROW with no
    typed id_no: the ID number in its text still names the person whose set it breaks."""
    ps, ss = population(40)
    ingest(wh, write_batch(tmp_path / "f1", ps, ss, seq=1))
    before = segments_as_of(wh)
    x = dict(ps[0], op="U")
    sx = [segment(x["id_no"], "620102", "198807", "202512"), segment(x["id_no"], start="200001")]
    pad_p, pad_s = unchanged_updates(ps, ss, range(10, 40))
    segs = sx + pad_s
    lines = csv_text(segs, SEGMENT_COLUMNS).split("\n")
    lines[2] = lines[2].rsplit(",", 1)[0]  # data row 2: one column short
    b = write_batch(
        tmp_path / "i2",
        [x] + pad_p,
        segs,
        seq=2,
        push_type="INCR",
        base_seq=1,
        raw_files={"segments": "\n".join(lines).encode()},
    )
    rep = ingest(wh, b)
    assert [(r[2], r[3], r[4].split(":")[0]) for r in quarantine(wh)] == [("segments", 2, "UNPARSABLE_ROW")]
    assert rep.applied[0]["persons_kept_segments"] == 1
    assert segments_as_of(wh)[x["id_no"]] == before[x["id_no"]]


def test_an_update_that_only_moves_a_separator_is_not_lost(tmp_path, wh):
    """The row hash tells '甲|137…' + '139…' from '甲' + '137…|139…', and an empty field from the
    text \\0: an INCR U with such a change makes a new version."""
    ps, ss = population(40)
    ps[0]["employer_name"], ps[0]["phone"] = "甲|13700000001", "13912345678"
    ps[1]["employer_name"] = ""
    ingest(wh, write_batch(tmp_path / "f1", ps, ss, seq=1))
    u0 = dict(ps[0], op="U", employer_name="甲", phone="13700000001|13912345678")
    u1 = dict(ps[1], op="U", employer_name="\\0")
    segs = [x for x in ss if x["id_no"] in (u0["id_no"], u1["id_no"])]
    rep = ingest(wh, write_batch(tmp_path / "i2", [u0, u1], segs, seq=2, push_type="INCR", base_seq=1))
    assert rep.applied[0]["persons_updated"] == 2
    cur = persons_as_of(wh)
    assert (cur[u0["id_no"]]["employer_name"], cur[u0["id_no"]]["phone"]) == ("甲", "13700000001|13912345678")
    assert cur[u1["id_no"]]["employer_name"] == "\\0"


def test_the_row_hash_of_plain_rows_is_unchanged():
    """Rows without '|' or '\\' hash as before the escaping (stored hashes stay valid)."""
    import duckdb as _duckdb
    from pipelines.steps import Step, run_step

    con = _duckdb.connect()
    cols = PERSON_COLUMNS[1:]
    con.execute(
        "CREATE TEMP TABLE persons_checked AS SELECT "
        + ", ".join(
            f"CAST(NULL AS VARCHAR) AS {c}" if c in ("deemed_region", "employer_uscc") else f"'v_{c}' AS {c}"
            for c in cols
        )
        + ", NULL AS reason_code"
    )
    run_step(con, Step("ingest/40_incoming.sql"), push_type="FULL")  # included by 40_apply_*.sql
    got = con.execute("SELECT row_hash FROM incoming").fetchall()[0][0]
    old = con.execute(
        "SELECT md5(concat_ws('|', "
        + ", ".join(
            "coalesce(CAST(" + c + " AS VARCHAR), '\\0')"
            for c in "id_no, name, gender, birth_date, insurance_type, person_type, hukou_region, insured_region, "
            "benefit_region_ministry, employer_uscc, employer_name, phone, contribution_status, retired, "
            "survival_status, actual_contribution_months, deemed_months, deemed_status, deemed_region, "
            "arrears_months".split(", ")
        )
        + ")) FROM persons_checked"
    ).fetchall()[0][0]
    assert got == old


@pytest.mark.parametrize(
    "file, change, reason",
    [
        ("persons", {"birth_date": "00000101"}, "BAD_BIRTH_DATE"),
        ("persons", {"birth_date": "18991231"}, "BAD_BIRTH_DATE"),
        ("persons", {"birth_date": "21000101"}, "BAD_BIRTH_DATE"),
        ("segments", {"start_month": "189901"}, "BAD_MONTH"),
        ("segments", {"start_month": "000001", "end_month": "000012"}, "BAD_MONTH"),
        ("segments", {"end_month": "210001"}, "BAD_MONTH"),
    ],
)
def test_dates_outside_1900_2099_are_quarantined_by_the_row_check(tmp_path, wh, file, change, reason):
    """Every row is held to the years the `ingest` suite expects (1900-2099): a typo is
    quarantined, never left to the suite's sample to catch (or miss) and refuse the batch."""
    ps, ss = population(60)
    (ps if file == "persons" else ss)[4].update(change)
    rep = ingest(wh, write_batch(tmp_path / "f1", ps, ss, seq=1), validate=True)
    assert len(rep.applied) == 1, rep.lines()
    assert (file, 5, reason) in {(r[2], r[3], r[4]) for r in quarantine(wh)}


def test_incr_insert_update_delete_with_segment_replacement(tmp_path, wh):
    ps, ss = population(40)
    ingest(wh, write_batch(tmp_path / "f1", ps, ss, seq=1))
    before = segments_as_of(wh)
    new = person(41)
    p1 = dict(ps[0], op="U", phone="13700000001")  # changed, new segment set of one
    p2 = dict(ps[1], op="U")  # U with no segment rows: none left
    p3 = dict(ps[2], op="U")  # unchanged row, same segments again
    p4 = {"op": "D", "id_no": ps[3]["id_no"]}  # D: only the id_no
    p5 = dict(ps[4], op="U")  # same row, one more segment
    incr_p = [dict(new, op="I"), p1, p2, p3, p4, p5]
    s3 = [s for s in ss if s["id_no"] == p3["id_no"]]
    s5 = [s for s in ss if s["id_no"] == p5["id_no"]] + [segment(p5["id_no"], "110101", "201001", "201512", 2)]
    incr_s = (
        [segment(new["id_no"], start="200001", end="202010"), segment(p1["id_no"], "620102", "198807", "202512", 3)]
        + s3
        + s5
    )
    rep = ingest(wh, write_batch(tmp_path / "i2", incr_p, incr_s, seq=2, push_type="INCR", base_seq=1))
    a = rep.applied[0]
    assert (a["persons_inserted"], a["persons_left"], a["warnings"]) == (1, 1, 0)
    assert a["persons_updated"] == 3  # p1 (row + segments), p2 (segments), p5 (segments)

    cur, segs = persons_as_of(wh), segments_as_of(wh)
    assert cur[new["id_no"]]["in_push"] and cur[new["id_no"]]["valid_from_seq"] == 2
    assert cur[p1["id_no"]]["phone"] == "13700000001" and cur[p1["id_no"]]["valid_from_seq"] == 2
    assert segs[p1["id_no"]] == [("620102", "198807", "202512", "3")]
    assert p2["id_no"] not in segs  # U with no segments leaves none
    assert cur[p2["id_no"]]["valid_from_seq"] == 1  # its row did not change
    assert segs[p3["id_no"]] == before[p3["id_no"]]
    assert (
        q1(
            wh,
            "SELECT min(valid_from_seq) FROM segment_versions WHERE id_no = ? AND valid_to_seq IS NULL",
            [p3["id_no"]],
        )
        == 1
    )  # nothing new for an unchanged set
    assert cur[p3["id_no"]]["valid_from_seq"] == 1
    assert cur[p4["id_no"]]["in_push"] is False and cur[p4["id_no"]]["name"] == ps[3]["name"]
    assert len(segs[p5["id_no"]]) == 3
    # the old segments are kept as versions, closed at seq 2
    assert q(
        wh,
        "SELECT count(*), min(valid_to_seq) FROM segment_versions WHERE id_no = ? AND valid_from_seq = 1",
        [p1["id_no"]],
    ) == [(2, 2)]
    # everyone else untouched
    assert sum(1 for v in cur.values() if v["valid_from_seq"] == 1) == 40 - 2


def test_incr_upserts_count_as_warnings(tmp_path, wh):
    ps, ss = population(40)
    ingest(wh, write_batch(tmp_path / "f1", ps[:39], ss[:78], seq=1))
    present = dict(ps[0], op="I", phone="13700000002")  # I for a present person
    absent = dict(ps[39], op="U")  # U for one never pushed
    rep = ingest(
        wh,
        write_batch(
            tmp_path / "i2",
            [present, absent],
            [s for s in ss if s["id_no"] in (present["id_no"], absent["id_no"])],
            seq=2,
            push_type="INCR",
            base_seq=1,
        ),
    )
    a = rep.applied[0]
    assert a["warnings"] == 2 and a["persons_inserted"] == 1 and a["persons_updated"] == 1
    cur = persons_as_of(wh)
    assert cur[present["id_no"]]["phone"] == "13700000002"
    assert cur[absent["id_no"]]["in_push"] is True
    assert q1(wh, "SELECT warnings FROM batches WHERE seq = 2") == 2


def test_incr_delete_needs_only_a_valid_id_no(tmp_path, wh):
    ps, ss = population(40)
    ingest(wh, write_batch(tmp_path / "f1", ps, ss, seq=1))
    dels = [{"op": "D", "id_no": ps[i]["id_no"]} for i in range(3)]
    dels[1]["id_no"] = dels[1]["id_no"].lower()  # harmless here (no x), stays valid
    bad = {"op": "D", "id_no": ps[5]["id_no"][:17] + ("1" if ps[5]["id_no"][17] != "1" else "2")}
    pad_p, pad_s = unchanged_updates(ps, ss, range(10, 40))
    rep = ingest(wh, write_batch(tmp_path / "i2", dels + [bad] + pad_p, pad_s, seq=2, push_type="INCR", base_seq=1))
    a = rep.applied[0]
    assert a["persons_accepted"] == 33 and a["persons_quarantined"] == 1 and a["persons_left"] == 3
    assert a["persons_updated"] == 0 and q1(wh, "SELECT count(*) FROM person_versions") == 43
    cur = persons_as_of(wh)
    assert [cur[d["id_no"].upper()]["in_push"] for d in dels] == [False, False, False]
    assert cur[ps[5]["id_no"]]["in_push"] is True
    assert [r[2:5] for r in quarantine(wh)] == [("persons", 4, "BAD_ID_NO")]


# --------------------------------------------------------------------------- seq order


def _chain(tmp_path, n_incr=2):
    """FULL seq 1 + INCRs seq 2.. each changing one person's phone. Returns (dirs, persons, segs)."""
    ps, ss = population(40)
    dirs = [write_batch(tmp_path / "s1", ps, ss, seq=1)]
    for k in range(2, 2 + n_incr):
        p = dict(ps[k], op="U", phone=f"1370000{k:04d}")
        dirs.append(
            write_batch(
                tmp_path / f"s{k}",
                [p],
                [s for s in ss if s["id_no"] == p["id_no"]],
                seq=k,
                push_type="INCR",
                base_seq=k - 1,
            )
        )
    return dirs, ps, ss


def test_batches_given_out_of_order_are_applied_by_seq(tmp_path, wh):
    dirs, ps, _ = _chain(tmp_path, 3)
    rep = ingest(wh, dirs[3], dirs[1], dirs[0], dirs[2])
    assert [a["seq"] for a in rep.applied] == [1, 2, 3, 4] and not rep.held and not rep.refused
    assert q(wh, "SELECT seq FROM push_batches ORDER BY applied_at, seq") == [(1,), (2,), (3,), (4,)]
    cur = persons_as_of(wh)
    assert [cur[ps[k]["id_no"]]["phone"] for k in (2, 3, 4)] == ["13700000002", "13700000003", "13700000004"]


def test_incr_after_a_gap_is_held_until_the_missing_batch_arrives(tmp_path, wh):
    dirs, ps, _ = _chain(tmp_path, 3)
    ingest(wh, dirs[0])
    rep = ingest(wh, dirs[2], dirs[3])  # seq 3 and 4; seq 2 missing
    assert not rep.applied and not rep.refused
    assert [(h["batch_id"], h["seq"]) for h in rep.held] == [("NX-2026-11-0003", 3), ("NX-2026-11-0004", 4)]
    assert rep.held[0]["missing"] == "2"
    assert any("waiting for seq 2" in line for line in rep.lines())
    assert q1(wh, "SELECT count(*) FROM person_versions WHERE valid_from_seq > 1") == 0
    assert q(wh, "SELECT seq, status FROM batches ORDER BY seq") == [(1, "APPLIED"), (3, "HELD"), (4, "HELD")]
    # held again (not a conflict) when delivered once more before the gap closes
    rep = ingest(wh, dirs[3])
    assert not rep.refused and [h["seq"] for h in rep.held] == [4]

    rep = ingest(wh, dirs[1])  # the missing batch: all three apply, in order
    assert [a["seq"] for a in rep.applied] == [2, 3, 4] and not rep.held
    assert q(wh, "SELECT seq, status FROM batches ORDER BY seq") == [(s, "APPLIED") for s in (1, 2, 3, 4)]
    cur = persons_as_of(wh)
    assert cur[ps[4]["id_no"]]["phone"] == "13700000004"


def test_a_crash_while_a_held_batch_is_tried_again_leaves_it_held(tmp_path, wh, monkeypatch):
    """A held batch's HELD row goes in the transaction that applies or refuses it: a crash while it is
    tried again (the process killed, the disk full) leaves it held for the next ingest, never in no
    table at all (it was deleted before its try, in a transaction of its own)."""
    import pipelines.ingest as ingest_mod

    dirs, ps, _ = _chain(tmp_path, 2)
    ingest(wh, dirs[0], dirs[2])  # seq 3 held, waiting for seq 2
    real_apply = ingest_mod._apply

    def crash_on_3(con, man, *a, **kw):
        if man.seq == 3:
            raise KeyboardInterrupt("killed while applying seq 3")
        return real_apply(con, man, *a, **kw)

    monkeypatch.setattr(ingest_mod, "_apply", crash_on_3)
    with pytest.raises(KeyboardInterrupt):
        ingest(wh, dirs[1])  # seq 2 applies; seq 3 is tried again and the process dies
    assert q(wh, "SELECT seq, status FROM batches ORDER BY seq") == [(1, "APPLIED"), (2, "APPLIED"), (3, "HELD")]
    assert q1(wh, "SELECT count(*) FROM batch_holds WHERE batch_id = 'NX-2026-11-0003' AND ended_at IS NULL") == 1
    monkeypatch.setattr(ingest_mod, "_apply", real_apply)
    rep = ingest(wh)  # the next ingest, with nothing new: the held batch is applied
    assert [a["seq"] for a in rep.applied] == [3] and not rep.held and not rep.refused
    assert q(wh, "SELECT seq, status FROM batches ORDER BY seq") == [(s, "APPLIED") for s in (1, 2, 3)]
    assert q(wh, "SELECT ended_as FROM batch_holds WHERE batch_id = 'NX-2026-11-0003'") == [("APPLIED",)]
    assert persons_as_of(wh)[ps[3]["id_no"]]["phone"] == "13700000003"


def test_a_held_batch_refused_when_tried_again_leaves_no_held_row(tmp_path, wh):
    """The refusal of a held batch tried again drops its HELD row in the refusal's transaction."""
    dirs, _, _ = _chain(tmp_path, 2)
    ingest(wh, dirs[0], dirs[2])
    (Path(dirs[2]) / "manifest.json").write_text("{not json", encoding="utf-8")  # spoilt while it waited
    rep = ingest(wh, dirs[1])
    assert [a["seq"] for a in rep.applied] == [2] and len(rep.refused) == 1 and not rep.held
    assert q(wh, "SELECT seq, status FROM batches WHERE status <> 'REFUSED' ORDER BY seq") == [
        (1, "APPLIED"),
        (2, "APPLIED"),
    ]
    assert q(wh, "SELECT ended_as FROM batch_holds") == [("REFUSED",)]


def test_a_held_batch_delivered_again_and_refused_is_refused_once(tmp_path, wh, monkeypatch):
    """A held INCR delivered again in the ingest that brings the seq it waits for, and refused when
    applied: one refusal, its HELD row gone with it (the retry used to refuse it a second time: the
    report's 拒收批次 said 2)."""
    import pipelines.ingest as ingest_mod

    dirs, _, _ = _chain(tmp_path, 2)
    ingest(wh, dirs[0], dirs[2])  # seq 3 held
    real_apply = ingest_mod._apply

    def refuse_3(con, man, *a, **kw):
        if man.seq == 3:
            raise BatchRefused(man.batch_id, "BATCH: validation failed (a refusal made by the test)")
        return real_apply(con, man, *a, **kw)

    monkeypatch.setattr(ingest_mod, "_apply", refuse_3)
    rep = ingest(wh, dirs[1], dirs[2])
    assert [a["seq"] for a in rep.applied] == [2] and [r.batch for r in rep.refused] == ["NX-2026-11-0003"]
    assert q1(wh, "SELECT count(*) FROM batch_refusals WHERE batch_id = 'NX-2026-11-0003'") == 1
    assert q1(wh, "SELECT count(*) FROM push_batches WHERE status = 'HELD'") == 0
    assert q(wh, "SELECT ended_as FROM batch_holds") == [("REFUSED",)]


def test_a_held_incr_a_full_overtook_is_refused_stale_not_held_for_ever(tmp_path, wh):
    """An INCR held on base_seq 3 when a FULL seq 4 is applied can never apply: the retry refuses it
    STALE (as its delivery again would be) instead of leaving it held in every month's report."""
    ps, ss = population(20)
    full1 = write_batch(tmp_path / "s1", ps, ss, seq=1)
    incr5 = write_batch(
        tmp_path / "s5", [dict(ps[2], op="U", phone="13700000005")], [], seq=5, push_type="INCR", base_seq=3
    )
    full4 = write_batch(tmp_path / "s4", ps, ss, seq=4)
    ingest(wh, full1, incr5)
    assert q(wh, "SELECT seq, status FROM push_batches ORDER BY seq") == [(1, "APPLIED"), (5, "HELD")]
    rep = ingest(wh, full4)
    assert [a["seq"] for a in rep.applied] == [4] and not rep.held
    assert [r.batch for r in rep.refused] == [q1(wh, "SELECT batch_id FROM batch_refusals")]
    assert "STALE" in q1(wh, "SELECT reason FROM batch_refusals")
    assert q(wh, "SELECT seq, status FROM push_batches ORDER BY seq") == [(1, "APPLIED"), (4, "APPLIED")]
    assert q(wh, "SELECT ended_as FROM batch_holds") == [("REFUSED",)]


def test_redelivery_of_an_applied_batch_is_a_noop(tmp_path, wh):
    dirs, _, _ = _chain(tmp_path, 1)
    ingest(wh, *dirs)
    before = counts(wh)
    copy = shutil.copytree(dirs[0], tmp_path / "redelivered")  # same batch from another folder
    rep = ingest(wh, dirs[0], copy, dirs[1])
    assert rep.noop == ["NX-2026-11-0001", "NX-2026-11-0001", "NX-2026-11-0002"]
    assert not rep.applied and not rep.refused
    assert counts(wh) == before


def test_same_batch_id_with_other_content_is_a_conflict(tmp_path, wh):
    ps, ss = population(40)
    ingest(wh, write_batch(tmp_path / "a", ps, ss, seq=1))
    ps2 = [dict(p) for p in ps]
    ps2[0]["phone"] = "13700000009"
    for seq in (1, 2):  # same seq, and a new seq: both conflict on batch_id
        rep = ingest(wh, write_batch(tmp_path / f"b{seq}", ps2, ss, seq=seq, batch_id="NX-2026-11-0001"))
        assert len(rep.refused) == 1 and not rep.applied
        assert "CONFLICT" in str(rep.refused[0]) and "NX-2026-11-0001" in str(rep.refused[0])
    assert q(wh, "SELECT reason_code FROM batch_refusals") == [("CONFLICT",), ("CONFLICT",)]
    # the analysts' view says the code once
    assert [
        m.startswith("CONFLICT: ") and "CONFLICT: CONFLICT" not in m
        for (m,) in q(wh, "SELECT message FROM batches WHERE status = 'REFUSED'")
    ] == [True, True]
    assert persons_as_of(wh)[ps[0]["id_no"]]["phone"] == ps[0]["phone"]
    assert q1(wh, "SELECT count(*) FROM person_versions") == 40


def test_same_seq_with_another_batch_id_is_a_conflict(tmp_path, wh):
    dirs, ps, ss = _chain(tmp_path, 1)
    ingest(wh, *dirs)
    rep = ingest(wh, write_batch(tmp_path / "x", ps, ss, seq=2, push_type="FULL", batch_id="NX-OTHER-0002"))
    assert len(rep.refused) == 1 and "CONFLICT" in str(rep.refused[0]) and "seq 2" in str(rep.refused[0])
    # also against a held batch
    rep = ingest(wh, write_batch(tmp_path / "h", ps[:1], ss[:2], seq=5, push_type="INCR", base_seq=4))
    assert rep.held
    rep = ingest(
        wh, write_batch(tmp_path / "h2", ps[:1], ss[:2], seq=5, push_type="INCR", base_seq=4, batch_id="NX-OTHER-0005")
    )
    assert len(rep.refused) == 1 and "CONFLICT" in str(rep.refused[0])
    assert q(wh, "SELECT batch_id, reason_code FROM batch_refusals") == [
        ("NX-OTHER-0002", "CONFLICT"),
        ("NX-OTHER-0005", "CONFLICT"),
    ]


def test_full_above_last_applies_without_base_and_supersedes_held_incrs(tmp_path, wh):
    ps, ss = population(40)
    ingest(wh, write_batch(tmp_path / "f1", ps, ss, seq=1))
    i3 = write_batch(
        tmp_path / "i3", [dict(ps[0], op="U", phone="13700000003")], ss[:2], seq=3, push_type="INCR", base_seq=2
    )
    i4 = write_batch(
        tmp_path / "i4", [dict(ps[1], op="U", phone="13700000004")], ss[2:4], seq=4, push_type="INCR", base_seq=3
    )
    i7 = write_batch(
        tmp_path / "i7", [dict(ps[2], op="U", phone="13700000007")], ss[4:6], seq=7, push_type="INCR", base_seq=6
    )
    rep = ingest(wh, i3, i4, i7)
    assert [h["seq"] for h in rep.held] == [3, 4, 7]
    f5 = write_batch(tmp_path / "f5", ps[1:], ss[2:], seq=5)
    rep = ingest(wh, f5)
    assert [a["seq"] for a in rep.applied] == [5]
    assert rep.superseded == ["NX-2026-11-0003", "NX-2026-11-0004"]
    assert q(wh, "SELECT seq, status FROM batches ORDER BY seq") == [
        (1, "APPLIED"),
        (3, "SUPERSEDED"),
        (4, "SUPERSEDED"),
        (5, "APPLIED"),
        (7, "HELD"),
    ]
    assert q1(wh, "SELECT count(*) FROM person_versions WHERE valid_from_seq IN (3, 4)") == 0
    assert persons_as_of(wh)[ps[0]["id_no"]]["in_push"] is False
    # a superseded batch delivered again stays unapplied; the INCR before the FULL is stale
    rep = ingest(wh, i3)
    assert rep.noop == ["NX-2026-11-0003"] and not rep.applied
    i2 = write_batch(
        tmp_path / "i2", [dict(ps[5], op="U", phone="13700000099")], ss[10:12], seq=2, push_type="INCR", base_seq=1
    )
    rep = ingest(wh, i2)
    assert len(rep.refused) == 1 and "STALE" in str(rep.refused[0])
    assert q1(wh, "SELECT count(*) FROM person_versions WHERE valid_from_seq IN (2, 3, 4)") == 0


def test_full_in_the_same_call_supersedes_an_incr_held_in_that_call(tmp_path, wh):
    ps, ss = population(40)
    ingest(wh, write_batch(tmp_path / "f1", ps, ss, seq=1))
    i3 = write_batch(
        tmp_path / "i3", [dict(ps[0], op="U", phone="13700000003")], ss[:2], seq=3, push_type="INCR", base_seq=2
    )
    rep = ingest(wh, i3, write_batch(tmp_path / "f5", ps, ss, seq=5))
    assert rep.superseded == ["NX-2026-11-0003"]
    assert not rep.held, "a batch superseded in this run is not reported as held too"
    assert not any("held back" in line for line in rep.lines())


def test_stale_seq_is_refused(tmp_path, wh):
    ps, ss = population(40)
    ingest(wh, write_batch(tmp_path / "f1", ps, ss, seq=1), write_batch(tmp_path / "f3", ps, ss, seq=3))
    rep = ingest(wh, write_batch(tmp_path / "f2", ps[:30], ss[:60], seq=2))
    assert len(rep.refused) == 1 and "STALE" in str(rep.refused[0])
    rep = ingest(wh, write_batch(tmp_path / "i4", ps[:1], ss[:2], seq=4, push_type="INCR", base_seq=2))
    assert len(rep.refused) == 1 and "STALE" in str(rep.refused[0])
    assert q(wh, "SELECT seq, reason_code FROM batch_refusals ORDER BY seq") == [(2, "STALE"), (4, "STALE")]
    assert q1(wh, "SELECT max(valid_from_seq) FROM person_versions") == 1  # seq 3 changed nobody
    assert sum(v["in_push"] for v in persons_as_of(wh).values()) == 40


# --------------------------------------------------------------------------- quarantine


def _file_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


def test_bad_row_in_the_middle_is_quarantined_with_its_row_number(tmp_path, wh):
    ps, ss = population(60, segs_per=1)
    ps[19]["gender"] = "3"  # data row 20
    b = write_batch(tmp_path / "b1", ps, ss, seq=1)
    rep = ingest(wh, b)
    a = rep.applied[0]
    assert (a["persons_accepted"], a["persons_quarantined"], a["segments_accepted"], a["segments_quarantined"]) == (
        59,
        1,
        59,
        1,
    )
    rows = quarantine(wh)
    assert [r[:5] for r in rows] == [
        (1, "NX-2026-11-0001", "persons", 20, "BAD_GENDER"),
        (1, "NX-2026-11-0001", "segments", 20, "PERSON_QUARANTINED"),
    ]
    assert rows[0][5] == _file_lines(b / "persons.csv")[20]  # the raw text of the record
    assert rows[1][5] == _file_lines(b / "segments.csv")[20]
    assert q(wh, "SELECT reason FROM quarantine_rows WHERE file = 'persons'")[0][0]
    assert q(wh, "SELECT rows_balanced FROM batches") == [(True,)]
    assert ps[19]["id_no"] not in persons_as_of(wh)


def test_unparsable_records_after_a_multiline_name_keep_row_numbers(tmp_path, wh):
    ps, ss = population(100, segs_per=1)  # 200 rows: 7 bad ones stay under 5 %
    ps[4]["name"] = "马\n国强"  # data row 5 spans two lines
    ps[9]["employer_name"] = '宁夏"甲",\n乙公司'  # data row 10 too
    ps[29]["gender"] = "0"  # data row 30: a bad value
    text = csv_text(ps, PERSON_COLUMNS)
    lines = text.split("\n")
    # data row 20 (file line 22 after the two multi-line records): one column too many
    i20 = next(i for i, line in enumerate(lines) if line.startswith("," + ps[19]["id_no"]))
    lines[i20] = lines[i20] + ",EXTRA"
    i25 = next(i for i, line in enumerate(lines) if line.startswith("," + ps[24]["id_no"]))
    lines[i25] = lines[i25].rsplit(",", 2)[0]  # data row 25: two columns too few
    raw_p = "\n".join(lines)
    s_lines = csv_text(ss, SEGMENT_COLUMNS).split("\n")
    s_lines[40] = s_lines[40].rsplit(",", 1)[0]  # segments data row 40: one column too few
    b = write_batch(
        tmp_path / "b1", ps, ss, seq=1, raw_files={"persons": raw_p.encode(), "segments": "\n".join(s_lines).encode()}
    )
    rep = ingest(wh, b)
    assert len(rep.applied) == 1, rep.lines()
    rows = quarantine(wh)
    got = [(r[2], r[3], r[4].split(":")[0]) for r in rows]
    assert got == [
        ("persons", 20, "UNPARSABLE_ROW"),
        ("persons", 25, "UNPARSABLE_ROW"),
        ("persons", 30, "BAD_GENDER"),
        ("segments", 20, "ORPHAN_SEGMENT"),
        ("segments", 25, "ORPHAN_SEGMENT"),
        ("segments", 30, "PERSON_QUARANTINED"),
        ("segments", 40, "UNPARSABLE_ROW"),
    ]
    by_row = {(r[2], r[3]): r[5] for r in rows}
    assert by_row[("persons", 20)] == lines[i20]
    assert by_row[("persons", 25)] == lines[i25]
    assert "EXTRA" in by_row[("persons", 20)]
    a = rep.applied[0]
    assert a["persons_accepted"] + a["persons_quarantined"] == 100 == a["persons_rows"]
    assert a["segments_accepted"] + a["segments_quarantined"] == 100
    assert q(wh, "SELECT rows_balanced FROM batches") == [(True,)]
    cur = persons_as_of(wh)
    assert cur[ps[4]["id_no"]]["name"] == "马\n国强" and cur[ps[9]["id_no"]]["employer_name"] == '宁夏"甲",\n乙公司'
    assert len(cur) == 97


def test_row_numbers_stay_exact_after_a_blank_line(tmp_path, wh):
    """A blank line is no data row (DuckDB skips it) but DuckDB counts it in a reject's line: the
    unparsable row, the bad value and the rows between keep their data-row numbers."""
    ps, ss = population(100, segs_per=1)
    ps[7]["gender"] = "0"  # data row 8: a bad value
    lines = csv_text(ps, PERSON_COLUMNS).split("\n")  # lines[0] is the header
    lines[5] += ",EXTRA"  # data row 5: one column too many
    lines.insert(3, "")  # a blank line after data row 2
    b = write_batch(tmp_path / "b1", ps, ss, seq=1, raw_files={"persons": "\n".join(lines).encode()})
    rep = ingest(wh, b)
    assert len(rep.applied) == 1, rep.lines()
    got = [(r[3], r[4].split(":")[0]) for r in quarantine(wh) if r[2] == "persons"]
    assert got == [(5, "UNPARSABLE_ROW"), (8, "BAD_GENDER")]
    seg = {(r[3], r[4]) for r in quarantine(wh) if r[2] == "segments"}
    assert seg == {(5, "ORPHAN_SEGMENT"), (8, "PERSON_QUARANTINED")}
    assert q(wh, "SELECT rows_balanced FROM batches") == [(True,)]


def test_invalid_utf8_bytes_in_one_record_quarantine_that_record(tmp_path, wh):
    ps, ss = population(60, segs_per=1)
    ps[4]["name"] = "马\n国强"
    data = csv_text(ps, PERSON_COLUMNS).encode()
    bad_name = "测试12".encode()
    assert data.count(bad_name) == 1
    data = data.replace(bad_name, "测试12".encode("gb18030"))  # data row 12: not UTF-8
    b = write_batch(tmp_path / "b1", ps, ss, seq=1, raw_files={"persons": data})
    rep = ingest(wh, b)
    assert len(rep.applied) == 1, rep.lines()
    assert [(r[2], r[3], r[4].split(":")[0]) for r in quarantine(wh)] == [
        ("persons", 12, "UNPARSABLE_ROW"),
        ("segments", 12, "ORPHAN_SEGMENT"),
    ]
    assert q(wh, "SELECT rows_balanced FROM batches") == [(True,)]


def test_unterminated_quote_swallowing_the_file_is_refused_not_crashed(tmp_path, wh):
    ps, ss = population(60, segs_per=1)
    lines = csv_text(ps, PERSON_COLUMNS).split("\n")
    lines[30] = lines[30].replace(",测试30,", ',"测试30,')  # the quote never closes
    b = write_batch(tmp_path / "b1", ps, ss, seq=1, raw_files={"persons": "\n".join(lines).encode()})
    rep = ingest(wh, b)
    assert len(rep.refused) == 1 and not rep.applied
    assert rep.refused[0].file == "persons.csv"
    assert 'a quote (") is never closed' in str(rep.refused[0])  # the cause, not only the count
    assert counts(wh)["person_versions"] == 0 and counts(wh)["quarantine_rows"] == 0
    assert_no_personal_data(str(rep.refused[0]))


def test_row_numbers_stay_exact_in_a_large_file_read_in_parallel(tmp_path, wh):
    """50,000 persons (DuckDB reads the CSV in parallel chunks): multi-line records early,
    unparsable ones late, still numbered as data rows of the file (and staged in O(n log n))."""
    from support.pushkit import write_generated_batch

    n = 50_000
    b = write_generated_batch(tmp_path / "big", n, seq=1)
    lines = (b / "persons.csv").read_text(encoding="utf-8").split("\n")
    for k in (3, n // 5, n // 3):  # data row k: a name over two lines
        f = lines[k].split(",")
        f[2] = '"' + f[2] + '\n第二行"'
        lines[k] = ",".join(f)
    for k in (n // 2, n - 7):  # unparsable: one column too many
        lines[k] += ",EXTRA"
    f = lines[2 * n // 3].split(",")
    f[3] = "7"  # a bad gender
    lines[2 * n // 3] = ",".join(f)
    (b / "persons.csv").write_text("\n".join(lines), encoding="utf-8")
    rehash(b)
    rep = ingest(wh, b)
    assert len(rep.applied) == 1, rep.lines()
    assert q(wh, "SELECT row_no, reason_code FROM quarantine_rows WHERE file = 'persons' ORDER BY row_no") == [
        (n // 2, "UNPARSABLE_ROW"),
        (2 * n // 3, "BAD_GENDER"),
        (n - 7, "UNPARSABLE_ROW"),
    ]
    assert q1(wh, "SELECT count(*) FROM person_versions WHERE name LIKE '%\n第二行'") == 3


def test_duplicate_id_no_quarantines_every_row_with_their_segments(tmp_path, wh):
    ps, ss = population(100, segs_per=1)  # 200 rows: 8 bad ones stay under 5 %
    xs, x = id_with_x(start=101)
    ps[2] = person(3)
    ps[40] = dict(ps[2], name="测试重复")  # same id_no on data rows 3 and 41
    ss[40] = segment(ps[2]["id_no"], start="200001", end="200112")
    ps[50] = person(xs)
    ps[51] = dict(person(xs), id_no=x.lower())  # rows 51/52: same number, x and X
    ss[50], ss[51] = segment(x), segment(x.lower(), start="200201")
    rep = ingest(wh, write_batch(tmp_path / "b1", ps, ss, seq=1))
    rows = [(r[2], r[3], r[4]) for r in quarantine(wh)]
    assert rows == [
        ("persons", 3, "DUPLICATE_ID_NO"),
        ("persons", 41, "DUPLICATE_ID_NO"),
        ("persons", 51, "DUPLICATE_ID_NO"),
        ("persons", 52, "DUPLICATE_ID_NO"),
        ("segments", 3, "PERSON_QUARANTINED"),
        ("segments", 41, "PERSON_QUARANTINED"),
        ("segments", 51, "PERSON_QUARANTINED"),
        ("segments", 52, "PERSON_QUARANTINED"),
    ]
    assert rep.applied[0]["persons_accepted"] == 96, rep.lines()
    cur = persons_as_of(wh)
    assert ps[2]["id_no"] not in cur and x not in cur


def test_segment_of_a_person_not_in_the_batch_is_an_orphan(tmp_path, wh):
    ps, ss = population(60, segs_per=1)
    stranger = person(300)["id_no"]
    ss.insert(10, segment(stranger))
    rep = ingest(wh, write_batch(tmp_path / "b1", ps, ss, seq=1))
    assert [(r[2], r[3], r[4]) for r in quarantine(wh)] == [("segments", 11, "ORPHAN_SEGMENT")]
    assert rep.applied[0]["segments_accepted"] == 60
    # in an INCR too: a segment of a present person whose persons row is not in the batch
    pad_p, pad_s = unchanged_updates(ps, ss, range(20, 60))
    rep = ingest(
        wh,
        write_batch(
            tmp_path / "i2",
            [dict(ps[0], op="U")] + pad_p,
            [ss[0], segment(ps[1]["id_no"])] + pad_s,
            seq=2,
            push_type="INCR",
            base_seq=1,
        ),
    )
    assert [(r[0], r[2], r[3], r[4]) for r in quarantine(wh) if r[0] == 2] == [(2, "segments", 2, "ORPHAN_SEGMENT")]
    assert len(segments_as_of(wh)[ps[1]["id_no"]]) == 1


def _bad_check_char(id_no: str) -> str:
    return id_no[:17] + ("0" if id_no[17] != "0" else "1")


BAD_VALUES = [  # (file, change, reason): each on its own person (or segment) of one batch
    ("persons", {"id_no": "BADCHECK"}, "BAD_ID_NO"),
    ("persons", {"insured_region": "640199"}, "UNKNOWN_OFFICE"),
    ("persons", {"insured_region": "64010"}, "UNKNOWN_OFFICE"),
    ("persons", {"hukou_region": "64010"}, "BAD_REGION_CODE"),
    ("persons", {"benefit_region_ministry": "6401000"}, "BAD_REGION_CODE"),
    ("persons", {"birth_date": "19650230"}, "BAD_BIRTH_DATE"),
    ("persons", {"birth_date": "1965-03-01"}, "BAD_BIRTH_DATE"),
    ("persons", {"op": "X"}, "BAD_OP"),
    ("persons", {"op": "U"}, "BAD_OP"),  # a FULL takes I or empty only
    ("persons", {"gender": "M"}, "BAD_GENDER"),
    ("persons", {"insurance_type": "120"}, "BAD_INSURANCE_TYPE"),
    ("persons", {"insurance_type": "170"}, "BAD_PERSON_TYPE"),  # 170 with person_type 2
    ("persons", {"employer_uscc": "91640100710645234H"}, "BAD_USCC"),
    ("persons", {"actual_contribution_months": "-3"}, "BAD_CONTRIBUTION_MONTHS"),
    ("persons", {"deemed_months": "3.5"}, "BAD_DEEMED_MONTHS"),
    ("persons", {"survival_status": "0"}, "BAD_SURVIVAL_STATUS"),
    ("segments", {"end_month": "198912"}, "END_BEFORE_START"),
    ("segments", {"region_code": "64010"}, "BAD_REGION_CODE"),
    ("segments", {"region_code": "990000"}, "BAD_REGION_CODE"),
    ("segments", {"start_month": "199013"}, "BAD_MONTH"),
    ("segments", {"start_month": "19900"}, "BAD_MONTH"),
    ("segments", {"relation_status": "4"}, "BAD_RELATION_STATUS"),
]
_BAD_ROW = {i: 10 * (i + 1) for i in range(len(BAD_VALUES))}  # data rows 10, 20, … 220


@pytest.fixture(scope="module")
def bad_values_batch(tmp_path_factory):
    """One FULL of 400 persons × 1 segment (800 rows) with every BAD_VALUES case on its own row."""
    tmp = tmp_path_factory.mktemp("bad_values")
    ps, ss = population(400, segs_per=1)
    for i, (file, change, _) in enumerate(BAD_VALUES):
        k = _BAD_ROW[i] - 1
        if file == "persons":
            if change.get("id_no") == "BADCHECK":
                change = {"id_no": _bad_check_char(ps[k]["id_no"])}
                ss[k]["id_no"] = change["id_no"]
            ps[k].update(change)
        else:
            ss[k].update(change)
    wh = tmp / "warehouse.duckdb"
    rep = ingest(wh, write_batch(tmp / "b1", ps, ss, seq=1))
    return wh, rep, {(r[2], r[3]): r[4] for r in quarantine(wh)}


@pytest.mark.parametrize(
    "case",
    range(len(BAD_VALUES)),
    ids=[f"{f}-{'-'.join(f'{k}={v}' for k, v in c.items())}-{r}" for f, c, r in BAD_VALUES],
)
def test_bad_value_is_quarantined_with_its_reason(bad_values_batch, case):
    wh, rep, reasons = bad_values_batch
    file, _, reason = BAD_VALUES[case]
    row = _BAD_ROW[case]
    assert len(rep.applied) == 1, rep.lines()
    assert reasons.get((file, row)) == reason
    if file == "persons" and reason != "BAD_ID_NO":
        assert reasons.get(("segments", row)) == "PERSON_QUARANTINED"
    if file == "persons" and reason == "BAD_ID_NO":
        assert reasons.get(("segments", row)) == "BAD_ID_NO"


def test_bad_values_batch_accounting(bad_values_batch):
    wh, rep, reasons = bad_values_batch
    n_p = sum(1 for f, _, _ in BAD_VALUES if f == "persons")
    a = rep.applied[0]
    assert (a["persons_quarantined"], a["segments_quarantined"]) == (n_p, len(BAD_VALUES))
    assert len(reasons) == n_p + len(BAD_VALUES)
    assert q(wh, "SELECT rows_balanced FROM batches") == [(True,)]
    assert q1(wh, "SELECT count(*) FROM quarantine_rows WHERE raw_text IS NULL OR reason = ''") == 0


def test_bad_op_in_an_incr(tmp_path, wh):
    ps, ss = population(40)
    ingest(wh, write_batch(tmp_path / "f1", ps, ss, seq=1))
    pad_p, pad_s = unchanged_updates(ps, ss, range(3, 40))
    rep = ingest(
        wh,
        write_batch(
            tmp_path / "i2",
            [dict(ps[0], op="X"), dict(ps[1], op=""), dict(ps[2], op="U")] + pad_p,
            pad_s,
            seq=2,
            push_type="INCR",
            base_seq=1,
        ),
    )
    assert [(r[2], r[3], r[4]) for r in quarantine(wh)] == [("persons", 1, "BAD_OP"), ("persons", 2, "BAD_OP")]
    assert rep.applied[0]["persons_accepted"] == 38


def test_lower_case_x_is_accepted_and_stored_upper_case(tmp_path, wh):
    ps, ss = population(40, segs_per=1)
    n, x = id_with_x()
    assert n <= 40
    ps[n - 1]["id_no"] = x.lower()
    ss[n - 1]["id_no"] = x.lower()
    ps[n - 1]["employer_uscc"] = ps[n - 1]["employer_uscc"].lower()  # uscc too is read upper-case
    ss.append(segment(x, start="202101", end="202112"))  # the same person, upper-case
    rep = ingest(wh, write_batch(tmp_path / "b1", ps, ss, seq=1))
    assert rep.applied[0]["persons_quarantined"] == rep.applied[0]["segments_quarantined"] == 0, rep.lines()
    cur = persons_as_of(wh)
    assert x in cur and x.lower() not in cur
    assert cur[x]["employer_uscc"] == ps[0]["employer_uscc"]
    assert len(segments_as_of(wh)[x]) == 2
    assert q1(wh, "SELECT count(*) FROM segment_versions WHERE id_no <> upper(id_no)") == 0


def test_batch_over_the_bad_row_share_is_refused_and_leaves_only_its_refusal(tmp_path, wh):
    ps, ss = population(40)  # 120 data rows; 3 bad persons = 3 + 6 bad rows = 7.5 %
    for i in (5, 15, 25):
        ps[i]["gender"] = "9"
    rep = ingest(wh, write_batch(tmp_path / "b1", ps, ss, seq=1))
    assert not rep.applied and len(rep.refused) == 1
    ref = rep.refused[0]
    assert "9 of 120" in ref.reason and "BAD_GENDER" in ref.reason and ref.file == "persons.csv" and ref.row == 6
    c = counts(wh)
    assert (
        c["person_versions"],
        c["segment_versions"],
        c["push_batches"],
        c["quarantine_rows"],
        c["batch_refusals"],
    ) == (0, 0, 0, 0, 1)
    assert q1(wh, "SELECT count(*) FROM person_keys") == 0
    assert_no_personal_data(str(ref))


def test_bad_row_share_boundary_and_setting(tmp_path, wh):
    ps, ss = population(40)  # 120 rows; 2 bad persons = 6 rows = exactly 5 %: not more, applied
    for i in (5, 15):
        ps[i]["gender"] = "9"
    rep = ingest(wh, write_batch(tmp_path / "b1", ps, ss, seq=1))
    assert len(rep.applied) == 1 and rep.applied[0]["persons_quarantined"] == 2
    ps[25]["gender"] = "9"
    b2 = write_batch(tmp_path / "b2", ps, ss, seq=2)
    assert ingest(wh, b2).refused
    rep = ingest(wh, b2, settings=Settings(person_key_secret="test-key-ingest", bad_row_share=0.10))
    assert len(rep.applied) == 1 and rep.applied[0]["persons_quarantined"] == 3


# --------------------------------------------------------------------------- every version kept


def test_state_as_of_every_applied_seq_is_what_that_batch_said(tmp_path, wh):
    base, base_s = population(30)
    extra = person(31)
    model: dict[str, dict] = {}  # id_no -> {"row": {...}, "segs": [...], "in_push": bool}
    snapshots: dict[int, dict] = {}

    def segs_of(segs, id_no):
        return sorted(seg_key(s) for s in segs if s["id_no"].upper() == id_no)

    def apply_full(persons, segs):
        ids = {p["id_no"] for p in persons}
        for i, m in model.items():
            if i not in ids:
                m["in_push"] = False
        for p in persons:
            model[p["id_no"]] = {
                "row": {c: p[c] for c in _TEXT_COLS},
                "segs": segs_of(segs, p["id_no"]),
                "in_push": True,
            }

    def apply_incr(persons, segs):
        for p in persons:
            if p["op"] == "D":
                model[p["id_no"]]["in_push"] = False
            else:
                model[p["id_no"]] = {
                    "row": {c: p[c] for c in _TEXT_COLS},
                    "segs": segs_of(segs, p["id_no"]),
                    "in_push": True,
                }

    def snap(seq):
        snapshots[seq] = json.loads(json.dumps(model))

    steps = []
    steps.append(("FULL", base, base_s))
    p1 = dict(base[0], op="U", phone="13700000001")
    steps.append(
        (
            "INCR",
            [p1, {"op": "D", "id_no": base[1]["id_no"]}, dict(extra, op="I"), dict(base[2], op="U")],
            [segment(p1["id_no"], "620102", "200001", "200512", 2), segment(extra["id_no"])],
        )
    )
    steps.append(
        (
            "INCR",
            [dict(base[1], op="I", name="测试回来"), dict(p1, name="测试改名", op="U")],
            [segment(base[1]["id_no"], start="201001", end="201912", status=3)]
            + [s for s in base_s if s["id_no"] == p1["id_no"]],
        )
    )
    full4 = [dict(p, op="") for p in base[:25]] + [dict(extra, op="")]
    full4[4] = dict(full4[4], insured_region="640521", actual_contribution_months="301")
    steps.append(
        ("FULL", full4, [s for s in base_s if s["id_no"] in {p["id_no"] for p in full4}] + [segment(extra["id_no"])])
    )
    steps.append(("INCR", [{"op": "D", "id_no": extra["id_no"]}, dict(base[27], op="U")], []))

    for seq, (ptype, persons, segs) in enumerate(steps, start=1):
        b = write_batch(
            tmp_path / f"s{seq}", persons, segs, seq=seq, push_type=ptype, base_seq=None if ptype == "FULL" else seq - 1
        )
        rep = ingest(wh, b)
        assert [a["seq"] for a in rep.applied] == [seq], rep.lines()
        (apply_full if ptype == "FULL" else apply_incr)(persons, segs)
        snap(seq)

    for seq, expected in snapshots.items():
        got_p = persons_as_of(wh, seq)
        got_s = segments_as_of(wh, seq)
        assert set(got_p) == set(expected), f"seq {seq}: persons differ"
        for i, m in expected.items():
            assert got_p[i]["in_push"] is m["in_push"], f"seq {seq}: in_push of a person"
            assert as_text(got_p[i]) == m["row"], f"seq {seq}: a person's data"
            if m["in_push"]:
                assert [list(t) for t in got_s.get(i, [])] == m["segs"], f"seq {seq}: a person's segments"
    # nothing is ever deleted: versions only accumulate
    assert q1(wh, "SELECT count(*) FROM person_versions WHERE valid_to_seq IS NOT NULL") > 0
    assert q1(wh, "SELECT count(DISTINCT id_no) FROM person_versions") == 31


# --------------------------------------------------------------------------- manifest checks


def _batch(tmp_path, name="b1", **kw):
    ps, ss = population(40)
    return write_batch(tmp_path / name, ps, ss, **kw)


@pytest.mark.parametrize(
    "bad_name", ["../persons.csv", "/tmp/persons.csv", "sub/persons.csv", "persons.txt", "Persons.csv", "persons.csv/"]
)
def test_manifest_file_names_outside_the_contract_are_refused(tmp_path, bad_name):
    b = _batch(tmp_path)
    (b / "sub").mkdir()
    shutil.copy(b / "persons.csv", b / "sub" / "persons.csv")
    shutil.copy(b / "persons.csv", tmp_path / "persons.csv")
    m = json.loads((b / "manifest.json").read_text())
    m["files"] = {(bad_name if k == "persons.csv" else k): v for k, v in m["files"].items()}
    (b / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BatchRefused) as exc:
        read_manifest(b)
    assert exc.value.file == "manifest.json" and exc.value.batch == "NX-2026-11-0001"
    assert refusal_note("MANIFEST", exc.value.reason, exc.value.file) is not None  # explained to the leaders


@pytest.mark.parametrize(
    "change",
    [
        {"batch_id": "NX 2026"},
        {"batch_id": "NX_2026-11"},
        {"batch_id": "A" * 65},
        {"batch_id": ""},
        {"batch_id": 17},
        {"batch_id": "../NX"},
        {"batch_id": None},
        {"province": "640100"},
        {"province": 640000},
        {"province": None},
        {"push_type": "DELTA"},
        {"push_type": "full"},
        {"push_type": None},
        {"schema_version": "2.0"},
        {"encoding": "latin-1"},
        {"data_month": "2026-13"},
        {"seq": 0},
        {"seq": "1"},
        {"seq": True},
        {"base_seq": 1},
        {"generated_at": "2026-11-05T02:00:00"},
        {"generated_at": "yesterday"},
    ],
    ids=lambda c: "-".join(f"{k}={v!r}" for k, v in c.items()),
)
def test_manifest_fields_of_the_wrong_shape_are_refused(tmp_path, change):
    b = _batch(tmp_path)
    edit_manifest(b, **change)
    with pytest.raises(BatchRefused) as exc:
        read_manifest(b)
    assert exc.value.file == "manifest.json"
    assert refusal_note("MANIFEST", exc.value.reason, exc.value.file) is not None  # explained to the leaders


def test_manifest_incr_base_seq_rules(tmp_path):
    for k, base in enumerate((None, 0, 3, 4, "2", True)):
        b = _batch(tmp_path, f"i{k}", seq=3, push_type="INCR", base_seq=base)
        with pytest.raises(BatchRefused) as exc:
            read_manifest(b)
        assert refusal_note("MANIFEST", exc.value.reason, exc.value.file) is not None, exc.value.reason
    assert read_manifest(_batch(tmp_path, "ok", seq=3, push_type="INCR", base_seq=1)).base_seq == 1


def test_manifest_refusals_are_recorded_and_apply_nothing(tmp_path, wh):
    bad = [_batch(tmp_path, "p"), _batch(tmp_path, "t", seq=2), _batch(tmp_path, "n", seq=3)]
    edit_manifest(bad[0], province="640100")
    edit_manifest(bad[1], push_type="DELTA")
    m = json.loads((bad[2] / "manifest.json").read_text())
    m["files"] = {("../" + k): v for k, v in m["files"].items()}
    (bad[2] / "manifest.json").write_text(json.dumps(m))
    good = _batch(tmp_path, "g", seq=4)
    rep = ingest(wh, *bad, good)
    assert len(rep.refused) == 3 and [a["seq"] for a in rep.applied] == [4]
    assert q(wh, "SELECT batch_id, reason_code, file FROM batch_refusals ORDER BY batch_id") == [
        ("NX-2026-11-0001", "MANIFEST", "manifest.json"),
        ("NX-2026-11-0002", "MANIFEST", "manifest.json"),
        ("NX-2026-11-0003", "MANIFEST", "manifest.json"),
    ]
    assert q(wh, "SELECT DISTINCT valid_from_seq FROM person_versions") == [(4,)]
    assert q(wh, "SELECT count(*) FROM batches WHERE status = 'REFUSED'") == [(3,)]


@pytest.mark.parametrize(
    "problem",
    [
        "no-manifest",
        "bad-json",
        "missing-file",
        "only-persons",
        "mixed-formats",
        "bad-rows",
        "bad-hex",
        "symlink",
        "two-persons",
    ],
)
def test_manifest_files_problems_are_refused(tmp_path, problem):
    b = _batch(tmp_path)
    m = json.loads((b / "manifest.json").read_text())
    if problem == "no-manifest":
        (b / "manifest.json").unlink()
    elif problem == "bad-json":
        (b / "manifest.json").write_text("{not json")
    elif problem == "missing-file":
        (b / "segments.csv").unlink()
    elif problem == "only-persons":
        del m["files"]["segments.csv"]
    elif problem == "mixed-formats":
        m["files"]["segments.parquet"] = m["files"].pop("segments.csv")
        (b / "segments.csv").rename(b / "segments.parquet")
    elif problem == "bad-rows":
        m["files"]["persons.csv"]["rows"] = -1
    elif problem == "bad-hex":
        m["files"]["persons.csv"]["sha256"] = "zz" * 32
    elif problem == "symlink":
        (b / "segments.csv").rename(tmp_path / "elsewhere.csv")
        (b / "segments.csv").symlink_to(tmp_path / "elsewhere.csv")
    elif problem == "two-persons":
        shutil.copy(b / "persons.csv", b / "persons.parquet")
        m["files"]["persons.parquet"] = m["files"]["persons.csv"]
    if problem not in ("no-manifest", "bad-json"):
        (b / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BatchRefused) as exc:
        read_manifest(b)
    if problem in ("missing-file", "symlink"):
        assert exc.value.file == "segments.csv"
    assert refusal_note("MANIFEST", exc.value.reason, exc.value.file) is not None, exc.value.reason


def test_missing_file_refused_through_ingest(tmp_path, wh):
    b = _batch(tmp_path)
    (b / "segments.csv").unlink()
    rep = ingest(wh, b)
    assert len(rep.refused) == 1 and rep.refused[0].file == "segments.csv" and not rep.applied
    assert len(refusals(wh)) == 1 and counts(wh)["person_versions"] == 0


@pytest.mark.parametrize(
    "kind,edit",
    [
        ("persons", "missing"),
        ("persons", "extra"),
        ("persons", "duplicate"),
        ("segments", "renamed"),
        ("persons", "no-header"),
    ],
)
def test_header_with_missing_or_extra_columns_is_refused(tmp_path, wh, kind, edit):
    ps, ss = population(40)
    rows, cols = (ps, list(PERSON_COLUMNS)) if kind == "persons" else (ss, list(SEGMENT_COLUMNS))
    if edit == "missing":
        cols.remove("relation_status" if kind == "segments" else "phone")
        text = csv_text(rows, cols)
    elif edit == "extra":
        text = csv_text([dict(r, email="a@b.c") for r in rows], cols + ["email"])
    elif edit == "duplicate":
        text = csv_text(rows, cols + ["phone"])
    elif edit == "renamed":
        text = csv_text(rows, cols, header=["OP"] + cols[1:])
    else:  # no header row at all: the first data row is read as the header
        text = csv_text(rows, cols).split("\n", 1)[1]
    raw = {kind: text.encode()}
    b = write_batch(tmp_path / "b1", ps, ss, seq=1, raw_files=raw)
    rep = ingest(wh, b)
    assert len(rep.refused) == 1 and not rep.applied
    assert rep.refused[0].file == f"{kind}.csv" and "header" in rep.refused[0].reason
    assert counts(wh)["person_versions"] == 0 and counts(wh)["quarantine_rows"] == 0
    assert_no_personal_data(str(rep.refused[0]))


def test_read_manifest_returns_the_verified_shape(tmp_path):
    b = _batch(tmp_path, seq=4, push_type="INCR", base_seq=3, encoding="GB18030")
    m = read_manifest(b)
    assert (m.batch_id, m.seq, m.push_type, m.base_seq, m.encoding, m.file_format) == (
        "NX-2026-11-0004",
        4,
        "INCR",
        3,
        "GB18030",
        "csv",
    )
    assert m.files["persons"]["rows"] == 40 and m.files["segments"]["rows"] == 80
    edit_manifest(b, batch_id="NX-2026-11-0004")
    assert read_manifest(b).content_hash == m.content_hash


def test_declared_utf8_with_gb18030_bytes_is_refused_or_quarantined_not_crashed(tmp_path, wh):
    ps, ss = _named_population()
    b = write_batch(tmp_path / "b1", ps, ss, seq=1, encoding="GB18030")
    edit_manifest(b, encoding="UTF-8")
    rep = ingest(wh, b)
    # every row with a Chinese name is unreadable: well over 5 %, so the batch is refused whole
    assert len(rep.refused) == 1 and not rep.applied
    assert counts(wh)["person_versions"] == 0
    assert_no_personal_data(str(rep.refused[0]))


# --------------------------------------------------------------------------- views


def test_batches_view_lists_every_batch_with_its_status_and_accounting(tmp_path, wh):
    ps, ss = population(40)
    ps2 = [dict(p) for p in ps]
    ps2[7]["gender"] = "5"
    ingest(wh, write_batch(tmp_path / "f1", ps, ss, seq=1))
    ingest(
        wh,
        write_batch(tmp_path / "i3", [dict(ps[0], op="U")], ss[:2], seq=3, push_type="INCR", base_seq=2),
        write_batch(tmp_path / "i9", [dict(ps[0], op="U")], ss[:2], seq=9, push_type="INCR", base_seq=8),
    )
    bad = write_batch(tmp_path / "r", ps, ss, seq=6, rows_override={"persons": 41})
    ingest(wh, bad, write_batch(tmp_path / "f5", ps2, ss, seq=5))
    rows = q(
        wh,
        "SELECT seq, batch_id, status, persons_rows, persons_accepted, persons_quarantined, "
        "segments_rows, segments_accepted, segments_quarantined, rows_balanced, message FROM batches "
        "ORDER BY seq, status",
    )
    by = {(r[0], r[2]): r for r in rows}
    assert set(by) == {(1, "APPLIED"), (3, "SUPERSEDED"), (5, "APPLIED"), (6, "REFUSED"), (9, "HELD")}
    assert by[(1, "APPLIED")][3:10] == (40, 40, 0, 80, 80, 0, True)
    assert by[(5, "APPLIED")][3:10] == (40, 39, 1, 80, 78, 2, True)
    assert by[(3, "SUPERSEDED")][3] == 1 and "superseded by FULL seq 5" in by[(3, "SUPERSEDED")][10]
    assert "waiting for seq" in by[(9, "HELD")][10]
    assert "persons.csv" in by[(6, "REFUSED")][10]
    for r in rows:
        assert_no_personal_data(*r)


def test_quarantine_view_shows_person_key_never_the_id_number(tmp_path, wh):
    ps, ss = population(60, segs_per=1)
    ps[9]["gender"] = "0"
    ps[19]["id_no"] = _bad_check_char(ps[19]["id_no"])
    ps[29]["name"] = "马国强"
    ps[29]["birth_date"] = "19650230"
    ingest(wh, write_batch(tmp_path / "b1", ps, ss, seq=1))
    con = duckdb.connect(str(wh), read_only=True)
    try:
        cur = con.execute("SELECT * FROM quarantine ORDER BY file, row_no")
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    assert "person_key" in cols
    assert not {"id_no", "id_no_raw", "raw_text", "name", "phone"} & set(cols)
    assert len(rows) == 6
    for r in rows:
        assert_no_personal_data(*r)
    keys = {(r[cols.index("file")], r[cols.index("row_no")]): r[cols.index("person_key")] for r in rows}
    assert keys[("persons", 10)] == person_key(ps[9]["id_no"], SETTINGS)
    assert keys[("segments", 10)] == keys[("persons", 10)]
    assert keys[("persons", 20)] == person_key(ps[19]["id_no"], SETTINGS)


def test_messages_never_carry_an_id_number_or_a_name(tmp_path, wh):
    ps, ss = population(40)
    msgs = []
    b = write_batch(tmp_path / "hash", ps, ss, seq=1)
    (b / "persons.csv").write_bytes((b / "persons.csv").read_bytes() + b"\n")
    msgs += ingest(wh, b).lines()
    for i in range(0, 40, 4):
        ps[i]["birth_date"] = "19650230"
    msgs += ingest(wh, write_batch(tmp_path / "thr", ps, ss, seq=1)).lines()
    msgs += ingest(wh, write_batch(tmp_path / "rows", ps[:3], ss[:6], seq=1, rows_override={"segments": 9})).lines()
    lines = csv_text(ps[:3]).split("\n")
    lines[2] += ",EXTRA," + ps[2]["id_no"]
    msgs += ingest(
        wh, write_batch(tmp_path / "unp", ps[:3], ss[:6], seq=1, raw_files={"persons": "\n".join(lines).encode()})
    ).lines()
    good, good_s = population(40)
    msgs += ingest(wh, write_batch(tmp_path / "ok", good, good_s, seq=1)).lines()
    msgs += ingest(wh, write_batch(tmp_path / "conf", good[:3], good_s[:6], seq=1, batch_id="NX-C")).lines()
    assert sum("REFUSED" in m for m in msgs) >= 5
    for m in msgs:
        assert_no_personal_data(m)
    for r in refusals(wh):
        assert_no_personal_data(*r)
    for r in q(wh, "SELECT * FROM batches"):
        assert_no_personal_data(*r)


# --------------------------------------------------------------------------- a FULL that empties the push

GUARDED = Settings(person_key_secret="test-key-ingest", full_departure_min_persons=5)


def test_a_header_only_full_is_refused_departures_and_changes_nothing(tmp_path, wh):
    """decisions.md "A FULL that empties the push": a header-only FULL whose manifest agrees with it
    would mark everyone as having left (every ledger entry closed): refused whole, code DEPARTURES."""
    ps, ss = population(30)
    assert ingest(wh, write_batch(tmp_path / "b1", ps, ss, seq=1), settings=GUARDED).applied
    before = counts(wh)
    rep = ingest(wh, write_batch(tmp_path / "b2", [], [], seq=2), settings=GUARDED)
    assert not rep.applied and len(rep.refused) == 1
    ref = rep.refused[0]
    assert ref.reason.startswith("DEPARTURES: this FULL would mark 30 of the 30 persons in the push (100.0%)")
    assert "--accept-departures" in ref.reason and ref.batch in ref.reason
    assert_no_personal_data(str(ref))
    after = counts(wh)
    assert after == dict(before, batch_refusals=before["batch_refusals"] + 1)
    assert q(wh, "SELECT reason_code FROM batch_refusals") == [("DEPARTURES",)]
    assert q1(wh, "SELECT count(*) FROM person_versions WHERE valid_to_seq IS NULL AND in_push") == 30


def test_departures_boundary_and_floor(tmp_path, wh):
    """More than the share refuses; exactly the share, or fewer leaving than the floor, applies."""
    ps, ss = population(20)
    assert ingest(wh, write_batch(tmp_path / "b1", ps, ss, seq=1), settings=GUARDED).applied
    half = [p for i, p in enumerate(ps) if i % 2]
    rep = ingest(wh, write_batch(tmp_path / "b2", half, _segments_of(ss, half), seq=2), settings=GUARDED)
    assert rep.applied and rep.applied[0]["persons_left"] == 10  # 50 %: not more than the share
    one = half[:1]
    b3 = write_batch(tmp_path / "b3", one, _segments_of(ss, one), seq=3)
    assert "9 of the 10 persons" in ingest(wh, b3, settings=GUARDED).refused[0].reason  # 90 %
    floor10 = Settings(person_key_secret="test-key-ingest", full_departure_min_persons=10)
    assert ingest(wh, b3, settings=floor10).applied  # the same batch again: 9 leaving < floor 10
    rep = ingest(wh, write_batch(tmp_path / "b4", [], [], seq=4), settings=GUARDED)
    assert rep.applied and rep.applied[0]["persons_left"] == 1  # 1 leaving < floor 5


def test_an_accepted_full_applies_as_written(tmp_path, wh):
    """The operator names the batch (`ingest --accept-departures`, the DAG's param): everyone left,
    nobody deleted; another batch's name does not accept it."""
    ps, ss = population(12)
    assert ingest(wh, write_batch(tmp_path / "b1", ps, ss, seq=1), settings=GUARDED).applied
    b2 = write_batch(tmp_path / "b2", [], [], seq=2)
    batch_id = read_manifest(b2).batch_id
    assert ingest(wh, b2, settings=GUARDED, accept_departures=["NX-OTHER"]).refused
    rep = ingest(wh, b2, settings=GUARDED, accept_departures=[batch_id])
    assert rep.applied and rep.applied[0]["persons_left"] == 12
    assert q1(wh, "SELECT count(*) FROM person_versions WHERE valid_to_seq IS NULL AND in_push") == 0
    assert q1(wh, "SELECT count(*) FROM person_versions") == 24


def _segments_of(ss, persons):
    ids = {p["id_no"] for p in persons}
    return [s for s in ss if s["id_no"] in ids]
