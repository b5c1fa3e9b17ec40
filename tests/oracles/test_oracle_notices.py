"""Independent scenario check of rules.md §5–7 over seven months (2026-10 … 2027-04).

Expectations come from the spec (rules.md, outputs.md, push-format.md, seed-notice.txt,
vectors/) and the project's docs (feedback-format.md, decisions.md) only; the pipeline is
driven black-box through ``pipelines.cli.main`` and read back from its files and, read-only,
from the warehouse.

Persons (month arithmetic of rules.md §1; O original age month, S statutory month):

  A   110 man cadre     1966-10  O 2026-10  S 2027-04  full path, DECLARATION 2027-01
  B   110 woman cadre   1971-10  O 2026-10  S 2027-04  elects 2027-02, county RETIRED 2027-02
  C   170 man           1967-01  O=S 2027-01           100 months -> CONSULTATION; OVERDUE 2027-02
  D   170 woman         1967-04  O=S 2027-04           no phone -> TOWNSHIP
  E   110 man cadre     1966-11  O 2026-11  S 2027-05  bad phone -> EMPLOYER; moves 640104 -> 640521
  F   110 woman cadre   1971-07  O 2026-07  S 2026-12  suspended (scope b); OVERDUE 2027-01, 2027-04
  G   110 man           1965-05  O 2025-05  S 2025-07  suspended, past age: OVERDUE at entry, +3, +6
  H   110 man           1967-11  O 2027-11             enters 2026-11 (O-P = 12)
  I   110 man           1966-12  O 2026-12  S 2027-06  dies (push 2027-01): no AGE_MINUS_3 2027-03
  J   110 man           1967-01  O 2027-01  S 2027-08  push retired=1 in 2026-12
  K   110 man           1967-02  O 2027-02  S 2027-09  op D 2026-11; back in the FULL 2027-02
  L   110 man           1967-03  O 2027-03  S 2027-10  absent from the FULL 2027-02
  M   110 woman flex    1971-11  O 2026-11  S 2027-05  no employer: confirms as PERSON
  N   110 woman flex    1971-12  O 2026-12  S 2027-06  no employer, bad phone -> TOWNSHIP
  Q   110 man           1968-03  O 2028-03             application applied 2026-11-10 (trigger 2)
  R   110 man           1968-01  O 2028-01             arrears (trigger 3, O-P = 15)
  S   110 man           1966-10  O 2026-10  S 2027-04  elects a later month 2027-07
  T   110 woman flex    1971-11  O 2026-11  S 2027-05  confirmed; listed by declare 2027-02, dead in that push
  O1…O6 110 men cadre   1966-10  S 2027-04             objection scenarios
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import math
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines import cli
from support.pushkit import make_id, person, segment, write_batch
from support.warehouse import q

SIG = "【宁夏人社】"
OFF = "640104"
OFF2 = "640521"
FB_COLUMNS = (
    "office_code,event,id_no,event_date,officer_id,result,months,items,counted_months,merge_status,"
    "archive_conclusion,base_data,elected_month,confirmer,pre_review_office,reason,basis,remedy,"
    "note"
).split(",")
MONTHS = ["2026-10", "2026-11", "2026-12", "2027-01", "2027-02", "2027-03", "2027-04", "2027-05"]
REMINDERS = ("PRE_SERVICE", "AGE_MINUS_3", "AGE_REACHED", "OVERDUE")


def mi(text: str) -> int:
    y, m = text.split("-")[:2]
    return int(y) * 12 + int(m) - 1


def mt(m: int) -> str:
    return f"{m // 12:04d}-{m % 12 + 1:02d}"


# ------------------------------------------------------------------------------------------ persons

SPEC = {
    # key: (n, fields)
    "A": (1, dict(birth_date="19661015")),
    "B": (2, dict(birth_date="19711020", gender=2, person_type=2)),
    "C": (
        3,
        dict(
            birth_date="19670110",
            insurance_type=170,
            person_type="",
            employer_uscc="",
            employer_name="",
            actual_contribution_months=100,
        ),
    ),
    "D": (
        4,
        dict(
            birth_date="19670412",
            gender=2,
            insurance_type=170,
            person_type="",
            employer_uscc="",
            employer_name="",
            phone="",
        ),
    ),
    "E": (5, dict(birth_date="19661105", phone="0951-5012345")),
    "F": (6, dict(birth_date="19710708", gender=2, person_type=2, contribution_status=2)),
    "G": (7, dict(birth_date="19650520", contribution_status=2)),
    "H": (8, dict(birth_date="19671103")),
    "I": (9, dict(birth_date="19661201")),
    "J": (10, dict(birth_date="19670105")),
    "K": (11, dict(birth_date="19670205")),
    "L": (12, dict(birth_date="19670305")),
    "M": (13, dict(birth_date="19711106", gender=2, person_type=3, employer_uscc="", employer_name="")),
    "N": (
        14,
        dict(birth_date="19711207", gender=2, person_type=3, employer_uscc="", employer_name="", phone="12912345678"),
    ),
    "Q": (15, dict(birth_date="19680301")),
    "R": (16, dict(birth_date="19680101", arrears_months=3)),
    "S": (17, dict(birth_date="19661018")),
    "T": (18, dict(birth_date="19711108", gender=2, person_type=3, employer_uscc="", employer_name="")),
    "O1": (21, dict(birth_date="19661001")),
    "O2": (22, dict(birth_date="19661002")),
    "O3": (23, dict(birth_date="19661003")),
    "O4": (24, dict(birth_date="19661004")),
    "O5": (25, dict(birth_date="19661005")),
    "O6": (26, dict(birth_date="19661006")),
}


def _person(key: str, **over) -> dict:
    n, kw = SPEC[key]
    kw = dict(kw)
    kw.update(over)
    p = person(n, **kw)
    # make_id in pushkit only knows the gender for the sequence digit; keep it consistent
    p["id_no"] = make_id(prefix="640104", birth=p["birth_date"], seq=n, gender=int(p["gender"]))
    return p


PERSONS = {k: _person(k) for k in SPEC}
ID = {k: p["id_no"] for k, p in PERSONS.items()}
KEY_OF = {v: k for k, v in ID.items()}


def _segs(persons):
    return [segment(p["id_no"], region="640104", start="199001", end="202012", status=1) for p in persons]


# ------------------------------------------------------------------------------------------ feedback


def fb_row(key: str, event: str, day: str, office: str = OFF, **kw) -> dict:
    r = {"office_code": office, "event": event, "id_no": ID[key], "event_date": day}
    r.update({k: str(v) for k, v in kw.items()})
    return r


def path(key: str, days: list[str], counted=300, confirmer="EMPLOYER", until="CONFIRMED", office=OFF) -> list[dict]:
    """ARCHIVE_REVIEWED … until, on the given days (one per event)."""
    evs = [
        ("ARCHIVE_REVIEWED", {"result": "PASS"}),
        ("YEARS_CONFIRMED", {"months": counted}),
        ("RELATIONS_MERGED", {"merge_status": "NOT_NEEDED"}),
        (
            "CONCLUSION_ISSUED",
            {
                "counted_months": counted,
                "merge_status": "NOT_NEEDED",
                "archive_conclusion": "PASS",
                "base_data": "base 6500",
            },
        ),
        ("RESULT_RECEIVED", {}),
        ("CONFIRMED", {"confirmer": confirmer}),
    ]
    out = []
    for (ev, kw), d in zip(evs, days):
        out.append(fb_row(key, ev, d, office=office, **kw))
        if ev == until:
            break
    return out


def write_fb(folder: Path, name: str, rows: list[dict]) -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FB_COLUMNS, lineterminator="\r\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: r.get(c, "") for c in FB_COLUMNS})
    f = folder / name
    f.write_bytes(buf.getvalue().encode("utf-8"))
    return f


# ------------------------------------------------------------------------------------------ the scenario


class World:
    def __init__(self, root: Path):
        self.root = root
        self.wh = root / "w.duckdb"
        self.out = root / "out"
        self.fbdir = root / "fb"
        self.fbdir.mkdir()
        self.rc: dict[str, int] = {}
        self.stdout: dict[str, str] = {}
        self.snap: dict[str, object] = {}

    def cli(self, tag: str, *argv: str) -> int:
        buf, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
            rc = cli.main(list(argv))
        self.rc[tag] = rc
        self.stdout[tag] = buf.getvalue() + err.getvalue()
        return rc

    def ingest(self, tag, folder):
        return self.cli(tag, "ingest", str(folder), "--warehouse", str(self.wh))

    def run(self, month, *extra, tag=None):
        return self.cli(
            tag or f"run {month}", "run", "--month", month, "--warehouse", str(self.wh), "--out", str(self.out), *extra
        )

    def declare(self, month):
        return self.cli(
            f"declare {month}", "declare", "--month", month, "--warehouse", str(self.wh), "--out", str(self.out)
        )

    def feedback(self, name, rows):
        return self.cli(
            f"feedback {name}", "feedback", str(write_fb(self.fbdir, name, rows)), "--warehouse", str(self.wh)
        )

    def q(self, sql, params=None):
        return q(self.wh, sql, params)

    def notices(self):
        return self.q(
            "SELECT id_no, kind, reference_mi, issued_mi, channel, office_code, text, segments, phone "
            "FROM notice_log ORDER BY issued_mi, kind, id_no"
        )


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("oracle"))
    root = w.root
    allp = list(PERSONS.values())

    # applications: Q applied 2026-11-10 (counts from 2026-11 only)
    app = root / "applications.csv"
    app.write_text(
        f"id_no,applicant_type,applied_on,channel,county_code\n{ID['Q']},2,20261110,online,640104\n", encoding="utf-8"
    )

    # ---- 2026-10
    write_batch(root / "b1", allp, _segs(allp), seq=1, month="2026-10")
    w.ingest("ingest 1", root / "b1")
    w.cli("applications", "applications", str(app), "--warehouse", str(w.wh))
    w.run("2026-10")
    w.snap["digest 2026-10"] = tree_digest(w.out / "2026-10" / "notifications")
    w.snap["notices after first 2026-10"] = len(w.notices())
    w.run("2026-10", tag="rerun 2026-10")
    w.snap["digest 2026-10 rerun"] = tree_digest(w.out / "2026-10" / "notifications")
    w.snap["notices after rerun 2026-10"] = len(w.notices())
    rows = []
    rows += path(
        "C",
        ["2026-10-12", "2026-10-13", "2026-10-14", "2026-10-15", "2026-10-16"],
        counted=100,
        until="RESULT_RECEIVED",
    )
    rows += [
        fb_row("C", "CONFIRMED", "2026-10-19", confirmer="EMPLOYER"),  # wrong confirmer (170)
        fb_row("C", "CONFIRMED", "2026-10-19", confirmer="PERSON"),
    ]
    rows += path("O1", ["2026-10-01"] * 5, until="RESULT_RECEIVED")  # deadline 2026-10-27
    rows += [fb_row("O1", "OBJECTION_FILED", "2026-10-27")]  # on the deadline day
    w.feedback("fb-640104-2026-10.csv", rows)

    # ---- 2026-11
    w.declare("2026-11")
    write_batch(root / "b2", [dict(PERSONS["K"], op="D")], [], seq=2, push_type="INCR", base_seq=1, month="2026-11")
    w.ingest("ingest 2", root / "b2")
    w.run("2026-11")
    n_before = len(w.notices())
    w.run("2026-11", tag="rerun 2026-11")
    w.snap["rerun 2026-11 added"] = len(w.notices()) - n_before
    nov = ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06", "2026-11-09"]
    rows = []
    rows += path("A", nov)
    rows += path("B", nov)
    rows += [
        fb_row("B", "ELECTED_MONTH", "2026-11-10", elected_month="2026-10"),  # before the event's month
        fb_row("B", "ELECTED_MONTH", "2026-11-10", elected_month="2030-05"),  # after S + 36
        fb_row("B", "ELECTED_MONTH", "2026-11-10", elected_month="2027-02"),
    ]
    rows += [fb_row("C", "ELECTED_MONTH", "2026-11-10", elected_month="2027-03")]  # 170: no flexible window
    rows += path("M", nov, confirmer="PERSON", until="RESULT_RECEIVED")
    rows += [
        fb_row("M", "CONFIRMED", "2026-11-09", confirmer="EMPLOYER"),  # no employer: refused
        fb_row("M", "CONFIRMED", "2026-11-09", confirmer="PERSON"),
    ]
    rows += path("O2", nov, until="RESULT_RECEIVED")  # deadline 2026-11-27
    rows += [fb_row("O2", "OBJECTION_FILED", "2026-11-30")]  # late
    rows += path("O3", nov, until="RESULT_RECEIVED")
    rows += [
        fb_row("O3", "OBJECTION_FILED", "2026-11-10", items="EVIDENCE;ARCHIVE_ORIGINAL"),
        fb_row("O3", "OBJECTION_FILED", "2026-11-12", items="DEEMED_YEARS"),
    ]  # not in the notice
    rows += [
        fb_row("O1", "OBJECTION_RESOLVED", "2026-11-03", result="REJECTED", reason="r", basis="b"),  # no remedy
        fb_row(
            "O1",
            "OBJECTION_RESOLVED",
            "2026-11-03",
            result="REJECTED",
            reason="months proven",
            basis="rules 16",
            remedy="administrative review",
        ),
        fb_row("O1", "CONFIRMED", "2026-11-04", confirmer="EMPLOYER"),
    ]
    rows += path("O6", nov)
    rows += [
        fb_row("O6", "OBJECTION_FILED", "2026-11-16"),  # after confirmation, in time
        fb_row("O6", "CONFIRMED", "2026-11-17", confirmer="EMPLOYER"),
    ]  # objection open: refused
    rows += path("S", nov)
    rows += [fb_row("S", "ELECTED_MONTH", "2026-11-10", elected_month="2027-07")]
    rows += path("E", nov, until="CONCLUSION_ISSUED")
    rows += path("T", nov, until="CONCLUSION_ISSUED")
    rows += [fb_row("T", "CONFIRMED", "2026-11-09", confirmer="PERSON")]  # no RESULT_RECEIVED before
    w.feedback("fb-640104-2026-11.csv", rows)
    d = tree_digest(w.out / "2026-11" / "notifications")
    n = len(w.notices())
    w.run("2026-11", tag="rerun 2026-11 after feedback")
    w.snap["rerun 2026-11 after feedback"] = (
        d == tree_digest(w.out / "2026-11" / "notifications"),
        len(w.notices()) - n,
    )

    # ---- 2026-12
    w.declare("2026-12")
    e_moved = dict(PERSONS["E"], op="U", insured_region=OFF2)
    j_ret = dict(PERSONS["J"], op="U", retired=1)
    write_batch(
        root / "b3", [e_moved, j_ret], _segs([e_moved, j_ret]), seq=3, push_type="INCR", base_seq=2, month="2026-12"
    )
    w.ingest("ingest 3", root / "b3")
    w.run("2026-12")
    w.snap["digest 2026-12"] = tree_digest(w.out / "2026-12" / "notifications")
    dec = ["2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04", "2026-12-10"]
    rows = [
        fb_row("O3", "OBJECTION_FILED", "2026-12-01"),  # supplement, after the deadline
        fb_row("O3", "OBJECTION_RESOLVED", "2026-12-03", result="UPHELD", counted_months=320),
        fb_row("O3", "RESULT_RECEIVED", "2026-12-04"),
        fb_row("O3", "CONFIRMED", "2026-12-07", confirmer="EMPLOYER"),
    ]
    rows += path("O4", dec[:4] + ["2026-12-11", "2026-12-14"])  # 15 wd reach 2027: unknown
    rows += path("O5", dec, until="RESULT_RECEIVED")  # -> 2026-12-31
    rows += [fb_row("O5", "RESULT_RECEIVED", "2026-12-11")]  # another day: conflicting
    rows += path("I", dec[:4], until="CONCLUSION_ISSUED")  # RESULT -> batch 2027-01
    rows += [fb_row("E", "RESULT_RECEIVED", "2026-12-08")]  # old office: refused
    w.feedback("fb-2026-12.csv", rows)
    # a feedback file is one office's (issue 14): the new office's row comes in its own file
    w.feedback(f"fb-{OFF2}-2026-12.csv", [fb_row("E", "RESULT_RECEIVED", "2026-12-08", office=OFF2)])

    # ---- 2027-01
    w.declare("2027-01")
    d = tree_digest(w.out / "2027-01" / "declarations")
    n = len(w.notices())
    w.declare("2027-01")
    w.snap["declare rerun 2027-01"] = (d == tree_digest(w.out / "2027-01" / "declarations"), len(w.notices()) - n)
    i_dead = dict(PERSONS["I"], op="U", survival_status=2)
    write_batch(root / "b4", [i_dead], _segs([i_dead]), seq=4, push_type="INCR", base_seq=3, month="2027-01")
    w.ingest("ingest 4", root / "b4")
    w.run("2027-01")
    rows = [
        fb_row("O4", "OBJECTION_FILED", "2027-01-20"),
        fb_row("I", "RESULT_RECEIVED", "2027-01-21"),
    ]  # closed: refused
    w.feedback("fb-2027-01.csv", rows)

    # ---- 2027-02: B retired (county), FULL without L, with K again
    w.declare("2027-02")
    w.feedback("fb-2027-02.csv", [fb_row("B", "RETIRED", "2027-02-03")])
    full = [p for k, p in PERSONS.items() if k not in ("L", "E", "J", "I", "T")] + [
        dict(e_moved, op=""),
        dict(j_ret, op=""),
        dict(i_dead, op=""),
        dict(PERSONS["T"], survival_status=2),
    ]
    write_batch(root / "b5", full, _segs(full), seq=5, month="2027-02")
    w.ingest("ingest 5", root / "b5")
    w.run("2027-02")

    # ---- 2027-03 … 2027-05: pushes without changes (the state of seq 5 holds): the Ministry pushes
    # every month, and a month more than one month ahead of the latest push is refused (issue 14)
    for k, m in enumerate(("2027-03", "2027-04", "2027-05")):
        w.declare(m)
        write_batch(root / f"b{6 + k}", [], [], seq=6 + k, push_type="INCR", base_seq=5 + k, month=m)
        w.ingest(f"ingest {6 + k}", root / f"b{6 + k}")
        w.run(m)

    # ---- replays
    n = len(w.notices())
    w.run("2026-12", tag="run 2026-12 again (not replay)")
    w.run("2026-12", "--replay", tag="replay 2026-12")
    w.snap["replay added"] = len(w.notices()) - n
    w.snap["digest 2026-12 replayed"] = tree_digest(w.out / "2026-12" / "notifications")
    return w


# ------------------------------------------------------------------------------------------ helpers


def read_csv(path: Path) -> list[dict]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), path
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def parquet_rows(path: Path) -> list[dict]:
    return duckdb.sql(f"SELECT * FROM read_parquet('{path}')").df().to_dict("records")


def sms_rows(w: World, month: str) -> dict[str, list[dict]]:
    base = w.out / month / "notifications"
    out = {}
    if base.exists():
        for d in sorted(base.iterdir()):
            f = d / "sms.parquet"
            out[d.name] = parquet_rows(f) if f.exists() else []
    return out


def offline_rows(w: World, month: str) -> dict[str, list[dict]]:
    base = w.out / month / "notifications"
    out = {}
    if base.exists():
        for d in sorted(base.iterdir()):
            f = d / "offline.csv"
            out[d.name] = read_csv(f) if f.exists() else []
    return out


def worklist(w: World, month: str) -> dict[str, list[dict]]:
    base = w.out / month / "worklists"
    return {d.name: parquet_rows(d / "worklist.parquet") for d in sorted(base.iterdir())}


def declarations(w: World, month: str) -> dict[str, dict]:
    base = w.out / month / "declarations"
    got = {}
    if base.exists():
        for d in sorted(base.iterdir()):
            for r in parquet_rows(d / "declarations.parquet"):
                got[KEY_OF.get(r["id_no"], r["id_no"])] = dict(r, _office=d.name)
    return got


def reminders_of(w: World, key: str) -> set[tuple[str, str]]:
    return {(k, mt(ref)) for (i, k, ref, *_rest) in w.notices() if i == ID[key] and k in REMINDERS}


def sms_segments(text: str) -> int:
    n = len(text)
    return 1 if n <= 70 else math.ceil(n / 67)


# ------------------------------------------------------------------------------------------ commands


def test_every_command_succeeded(world):
    bad = {k: v for k, v in world.rc.items() if v != 0 and k != "run 2026-12 again (not replay)"}
    assert not bad, bad


def test_month_before_last_is_refused_and_replay_adds_nothing(world):
    assert world.rc["run 2026-12 again (not replay)"] != 0
    assert world.rc["replay 2026-12"] == 0
    assert world.snap["replay added"] == 0


def test_rerun_same_month_adds_no_notice_and_same_files(world):
    assert world.snap["notices after first 2026-10"] == world.snap["notices after rerun 2026-10"]
    assert world.snap["digest 2026-10"] == world.snap["digest 2026-10 rerun"]
    assert world.snap["rerun 2026-11 added"] == 0


# ------------------------------------------------------------------------------------------ §5 reminders

EXPECTED_REMINDERS = {
    "A": {("PRE_SERVICE", "2026-10"), ("AGE_MINUS_3", "2027-01"), ("AGE_REACHED", "2027-04"), ("OVERDUE", "2027-05")},
    "B": {("PRE_SERVICE", "2026-10"), ("AGE_MINUS_3", "2027-01")},  # retired 2027-02
    "C": {
        ("PRE_SERVICE", "2026-10"),
        ("AGE_MINUS_3", "2026-10"),
        ("AGE_REACHED", "2027-01"),
        ("OVERDUE", "2027-02"),
        ("OVERDUE", "2027-05"),
    },
    "D": {("PRE_SERVICE", "2026-10"), ("AGE_MINUS_3", "2027-01"), ("AGE_REACHED", "2027-04"), ("OVERDUE", "2027-05")},
    "E": {("PRE_SERVICE", "2026-10"), ("AGE_MINUS_3", "2027-02"), ("AGE_REACHED", "2027-05")},
    "F": {("PRE_SERVICE", "2026-10"), ("AGE_REACHED", "2026-12"), ("OVERDUE", "2027-01"), ("OVERDUE", "2027-04")},
    "G": {("PRE_SERVICE", "2026-10"), ("OVERDUE", "2026-10"), ("OVERDUE", "2027-01"), ("OVERDUE", "2027-04")},
    "H": {("PRE_SERVICE", "2026-11")},
    "I": {("PRE_SERVICE", "2026-10")},  # died 2027-01
    "J": {("PRE_SERVICE", "2026-10")},  # retired 2026-12
    "K": {("PRE_SERVICE", "2026-10"), ("PRE_SERVICE", "2027-02")},  # re-entry (decisions.md)
    "L": {("PRE_SERVICE", "2026-10")},
    "M": {("PRE_SERVICE", "2026-10"), ("AGE_MINUS_3", "2027-02"), ("AGE_REACHED", "2027-05")},
    "N": {("PRE_SERVICE", "2026-10"), ("AGE_MINUS_3", "2027-03")},
    "Q": {("PRE_SERVICE", "2026-11")},
    "R": {("PRE_SERVICE", "2026-10")},
    "O1": {("PRE_SERVICE", "2026-10"), ("AGE_MINUS_3", "2027-01"), ("AGE_REACHED", "2027-04"), ("OVERDUE", "2027-05")},
    # OVERDUE although a later month (2027-07) was elected: rules.md §5 literally (decisions.md "OVERDUE")
    "S": {("PRE_SERVICE", "2026-10"), ("AGE_MINUS_3", "2027-01"), ("AGE_REACHED", "2027-04"), ("OVERDUE", "2027-05")},
    "T": {("PRE_SERVICE", "2026-10")},  # dead in the 2027-02 push: no AGE_MINUS_3
}


@pytest.mark.parametrize("key", sorted(EXPECTED_REMINDERS))
def test_reminders_fire_in_the_right_month(world, key):
    assert reminders_of(world, key) == EXPECTED_REMINDERS[key]


def test_reminders_issued_in_their_reference_month_and_never_twice(world):
    seen = {}
    for i, k, ref, issued, *_ in world.notices():
        if k in REMINDERS:
            assert issued == ref, (KEY_OF.get(i), k, mt(ref), mt(issued))
        if k in ("AGE_MINUS_3", "AGE_REACHED"):
            assert (i, k) not in seen, (KEY_OF.get(i), k)
            seen[(i, k)] = ref
    over = {}
    for i, k, ref, *_ in world.notices():
        if k == "OVERDUE":
            over.setdefault(i, []).append(ref)
    for i, refs in over.items():
        refs.sort()
        assert all(b - a >= 3 for a, b in zip(refs, refs[1:])), (KEY_OF.get(i), refs)


def test_no_notice_after_closing(world):
    closed = dict(
        world.q(
            "SELECT id_no, min(closed_mi) FROM ledger_entries WHERE closed_mi IS NOT NULL "
            "AND id_no NOT IN (SELECT id_no FROM ledger_entries WHERE closed_mi IS NULL) GROUP BY id_no"
        )
    )
    for i, k, ref, issued, *_ in world.notices():
        if i in closed:
            assert issued <= closed[i], (KEY_OF.get(i), k, mt(issued), mt(closed[i]))


def test_closing_reasons(world):
    got = {
        KEY_OF[i]: (r, mt(c))
        for i, r, c in world.q("SELECT id_no, close_reason, closed_mi FROM ledger_entries WHERE closed_mi IS NOT NULL")
    }
    assert got.get("I") == ("DECEASED", "2027-01")
    assert got.get("J") == ("RETIRED", "2026-12")
    assert got.get("K") == ("LEFT_PUSH", "2026-11")
    assert got.get("L") == ("LEFT_PUSH", "2027-02")
    assert got.get("B", ("RETIRED",))[0] == "RETIRED"


def test_county_retirement_not_reentered(world):
    n = world.q("SELECT count(*) FROM ledger_entries WHERE id_no = ?", [ID["B"]])[0][0]
    assert n == 1
    assert world.q("SELECT count(*) FROM ledger_entries WHERE id_no = ? AND closed_mi IS NULL", [ID["K"]])[0][0] == 1


# ------------------------------------------------------------------------------------------ channels


def test_channels(world):
    ch = {}
    for i, k, ref, issued, channel, office, *_ in world.notices():
        ch.setdefault(KEY_OF.get(i), set()).add(channel)
    assert ch["D"] == {"TOWNSHIP"}  # 170, no phone
    assert ch["E"] == {"EMPLOYER"}  # 110 with employer, invalid phone
    assert ch["N"] == {"TOWNSHIP"}  # 110 flexible, no employer, invalid phone
    assert ch["A"] == {"SMS"} and ch["M"] == {"SMS"} and ch["C"] == {"SMS"}


def test_offline_files_hold_offline_notices_and_sms_files_do_not(world):
    offline_ids = {KEY_OF[i] for i, _k, _r, _iss, ch, *_ in world.notices() if ch != "SMS"}
    for m in MONTHS:
        for office, rows in sms_rows(world, m).items():
            assert not {KEY_OF.get(r["id_no"]) for r in rows} & offline_ids, (m, office)
    joined = " ".join(str(r) for rows in offline_rows(world, "2026-10").values() for r in rows)
    for k in ("D", "E", "N"):
        assert ID[k] in joined, k
    # E's AGE_MINUS_3 of 2027-02 goes through its new office's offline file
    e02 = offline_rows(world, "2027-02")
    assert ID["E"] in " ".join(str(r) for r in e02.get(OFF2, []))
    assert ID["E"] not in " ".join(str(r) for r in e02.get(OFF, []))


def test_sms_rows_per_contract(world):
    kinds = set(REMINDERS) | {"DECLARATION", "CONSULTATION", "RESULT"}
    total = 0
    for m in MONTHS:
        wl = worklist(world, m)
        for office, rows in sms_rows(world, m).items():
            ids_here = {r["id_no"] for r in wl.get(office, [])}
            for r in rows:
                total += 1
                t = r["text"]
                assert t.startswith(SIG), t
                assert len(t) <= 500
                assert r["segments"] == sms_segments(t), (len(t), r["segments"])
                assert re.fullmatch(r"1[3-9][0-9]{9}", r["phone"])
                assert r["notice_kind"] in kinds
                assert re.fullmatch(r"\d{4}-\d{2}", r["reference_month"])
                assert r["id_no"] in ids_here, (m, office, KEY_OF.get(r["id_no"]))
    assert total > 30


def test_sms_wording_follows_the_templates(world):
    texts = {}
    for i, k, ref, issued, ch, office, text, segs, phone in world.notices():
        texts.setdefault(k, []).append(text)
        if k == "PRE_SERVICE" and PERSONS[KEY_OF[i]]["insurance_type"] == "110":
            assert "弹性" in text, text  # flexible retirement: 110 only (rules.md §1)
    for t in texts["PRE_SERVICE"]:
        assert "预服务" in t, t
    for k in ("AGE_MINUS_3", "AGE_REACHED"):
        for t in texts[k]:
            assert "待遇" in t and ("申报" in t or "申请" in t), t
    for t in texts["OVERDUE"]:
        assert "尚未办理" in t or "选定的退休时间" in t, t  # decisions.md: names the elected month
    for t in texts["DECLARATION"]:
        assert "退休申报" in t, t
    for t in texts["CONSULTATION"]:
        assert "缴费年限" in t and "不符合" in t, t
    for t in texts["RESULT"]:
        assert "15个工作日" in t, t


def test_age_minus_3_names_the_benefit_start_month(world):
    # rules.md §5: AGE_MINUS_3 tells the benefit start month = S + 1; A: S 2027-04 -> 2027-05
    t = [text for i, k, *_r, text, _s, _p in world.notices() if i == ID["A"] and k == "AGE_MINUS_3"][0]
    assert "2027年5月" in t or "2027-05" in t or "2027年05月" in t, t


# ------------------------------------------------------------------------------------------ offices


def test_each_office_sees_only_its_persons(world):
    for m in MONTHS:
        for office, rows in worklist(world, m).items():
            assert {r["office_code"] for r in rows} <= {office}, (m, office)
    wl12 = worklist(world, "2026-12")
    assert ID["E"] in {r["id_no"] for r in wl12[OFF2]}
    assert ID["E"] not in {r["id_no"] for r in wl12[OFF]}
    wl10 = worklist(world, "2026-10")
    assert ID["E"] in {r["id_no"] for r in wl10[OFF]}
    ho = world.q("SELECT kind, from_code, to_code, month_mi FROM handovers WHERE id_no = ?", [ID["E"]])
    assert ("OFFICE_CHANGE", OFF, OFF2, mi("2026-12")) in ho


def test_wrong_office_and_closed_entry_refused(world):
    codes = refusals(world)
    # the person's old office is told nothing more than for an ID number without any entry (issue 14)
    assert ("E", "RESULT_RECEIVED", "UNKNOWN_PERSON") in codes
    assert ("I", "RESULT_RECEIVED", "ENTRY_CLOSED") in codes
    st = world.q("SELECT stage FROM ledger_entries WHERE id_no = ? AND closed_mi IS NULL", [ID["E"]])
    assert st == [("CONCLUDED",)]
    assert conclusion(world, "E", 1)[1] == date(2026, 12, 8)


def refusals(world) -> set[tuple[str, str, str]]:
    rows = world.q(
        "SELECT k.id_no, r.event, r.reason_code FROM feedback_rows r "
        "LEFT JOIN person_keys k USING (person_key) WHERE r.status = 'REFUSED'"
    )
    return {(KEY_OF.get(i, i), e, c) for i, e, c in rows}


# ------------------------------------------------------------------------------------------ §6 declaration

EXPECTED_DECL = {
    "2026-11": {"C": "CONSULTATION", "F": "FOLLOW_UP"},
    "2026-12": {"B": "DECLARATION", "C": "CONSULTATION"},
    "2027-01": {
        "A": "DECLARATION",
        "B": "DECLARATION",
        "O1": "DECLARATION",
        "O3": "DECLARATION",
        "O4": "DECLARATION",
        "D": "FOLLOW_UP",
        "O2": "FOLLOW_UP",
        "O5": "FOLLOW_UP",
        "O6": "FOLLOW_UP",
    },
    "2027-02": {
        "A": "DECLARATION",
        "O1": "DECLARATION",
        "O3": "DECLARATION",
        "T": "DECLARATION",
        "D": "FOLLOW_UP",
        "O2": "FOLLOW_UP",
        "O4": "FOLLOW_UP",
        "O5": "FOLLOW_UP",
        "O6": "FOLLOW_UP",
        "E": "FOLLOW_UP",
        "M": "DECLARATION",
    },
    "2027-03": {
        "A": "DECLARATION",
        "O1": "DECLARATION",
        "O3": "DECLARATION",
        "D": "FOLLOW_UP",
        "O2": "FOLLOW_UP",
        "O4": "FOLLOW_UP",
        "O5": "FOLLOW_UP",
        "O6": "FOLLOW_UP",
        "E": "FOLLOW_UP",
        "M": "DECLARATION",
        "N": "FOLLOW_UP",
    },
    "2027-04": {"E": "FOLLOW_UP", "M": "DECLARATION", "N": "FOLLOW_UP", "S": "DECLARATION"},
    "2027-05": {"N": "FOLLOW_UP", "S": "DECLARATION"},
}


@pytest.mark.parametrize("month", sorted(EXPECTED_DECL))
def test_declaration_lists(world, month):
    got = {k: r["decision"] for k, r in declarations(world, month).items()}
    assert got == EXPECTED_DECL[month]


def test_declaration_rows_office_and_month(world):
    d = declarations(world, "2026-12")
    assert d["B"]["retirement_month"] == "2027-02" and d["B"]["_office"] == OFF
    assert d["C"]["retirement_month"] == "2027-01"
    assert declarations(world, "2027-02")["E"]["_office"] == OFF2
    assert declarations(world, "2027-03")["O3"]["retirement_month"] == "2027-04"


def test_declaration_notices_once_per_retirement_month(world):
    got = {}
    for i, k, ref, issued, ch, *_ in world.notices():
        if k in ("DECLARATION", "CONSULTATION"):
            got.setdefault((KEY_OF[i], k), []).append((mt(ref), mt(issued)))
    got.pop(("T", "DECLARATION"), None)  # see test_no_notice_to_a_person_dead_…
    assert got == {
        ("C", "CONSULTATION"): [("2027-01", "2026-11")],
        ("B", "DECLARATION"): [("2027-02", "2026-12")],
        ("A", "DECLARATION"): [("2027-04", "2027-01")],
        ("O1", "DECLARATION"): [("2027-04", "2027-01")],
        ("O3", "DECLARATION"): [("2027-04", "2027-01")],
        ("M", "DECLARATION"): [("2027-05", "2027-02")],  # confirmed 2026-11 (PERSON), S 2027-05
        ("O4", "DECLARATION"): [("2027-04", "2027-01")],
        ("S", "DECLARATION"): [("2027-07", "2027-04")],  # R = elected 2027-07
    }


def test_declared_stage_and_whole_stage_history(world):
    rows = world.q(
        "SELECT to_stage, source FROM ledger_transitions WHERE id_no = ? ORDER BY event_date, recorded_at", [ID["A"]]
    )
    stages = [s for s, _ in rows if not s.startswith("(")]
    order = [
        "ENROLLED",
        "NOTIFIED",
        "ARCHIVE_REVIEWED",
        "YEARS_CONFIRMED",
        "RELATIONS_MERGED",
        "CONCLUDED",
        "CONFIRMED",
        "DECLARED",
    ]
    assert [s for s in stages if s in order] == order
    src = dict(rows)
    assert src["ENROLLED"] == "run:2026-10" and src["DECLARED"] == "declare:2027-01"
    assert src["CONFIRMED"].startswith("feedback:fb-640104-2026-11.csv#")


# ------------------------------------------------------------------------------------------ §7 conclusions


def conclusion(world, key, version=None):
    q = (
        "SELECT version, received_on, objection_deadline, deadline_status, confirmed_by, superseded_on, "
        "counted_months FROM conclusions c JOIN ledger_entries e USING (entry_id) WHERE e.id_no = ? "
    )
    rows = world.q(q + "ORDER BY version", [ID[key]])
    return rows if version is None else [r for r in rows if r[0] == version][0]


def objection(world, key):
    return world.q(
        "SELECT objection_no, status, timeliness, deadline, missing_items, missing_notice, reason, basis, "
        "remedy, new_conclusion_version FROM objections o JOIN ledger_entries e USING (entry_id) "
        "WHERE e.id_no = ? ORDER BY objection_no",
        [ID[key]],
    )


def test_confirmer_rules(world):
    codes = refusals(world)
    assert ("C", "CONFIRMED", "WRONG_CONFIRMER") in codes
    assert ("M", "CONFIRMED", "WRONG_CONFIRMER") in codes
    assert conclusion(world, "C", 1)[4] == "PERSON"
    assert conclusion(world, "M", 1)[4] == "PERSON"
    assert conclusion(world, "A", 1)[4] == "EMPLOYER"


def test_elected_month_rules(world):
    codes = refusals(world)
    assert ("B", "ELECTED_MONTH", "ELECTED_MONTH_PAST") in codes or (
        "B",
        "ELECTED_MONTH",
        "OUTSIDE_FLEXIBLE_WINDOW",
    ) in codes
    assert ("B", "ELECTED_MONTH", "OUTSIDE_FLEXIBLE_WINDOW") in codes
    assert ("C", "ELECTED_MONTH", "ELECTION_NOT_ALLOWED") in codes
    assert world.q("SELECT elected_retirement_mi FROM ledger_entries WHERE id_no = ?", [ID["B"]]) == [(mi("2027-02"),)]


def test_deadline_across_national_day(world):
    v = conclusion(world, "O1", 1)
    assert (v[1], v[2], v[3]) == (date(2026, 10, 1), date(2026, 10, 27), "SET")
    o = objection(world, "O1")
    assert len(o) == 1
    _, status, timeliness, deadline, *_rest, reason, basis, remedy, newv = o[0]
    assert (status, timeliness, deadline) == ("REJECTED", "ON_TIME", date(2026, 10, 27))
    assert (reason, basis, remedy) == ("months proven", "rules 16", "administrative review")
    mal = world.q(
        "SELECT row_no FROM feedback_rows WHERE file_name = 'fb-640104-2026-11.csv' "
        "AND status = 'REFUSED' AND reason_code = 'MALFORMED'"
    )
    assert len(mal) == 1  # the REJECTED without remedy
    assert conclusion(world, "O1", 1)[5] is None  # the conclusion stands


def test_late_objection_refused(world):
    assert conclusion(world, "O2", 1)[2] == date(2026, 11, 27)
    assert ("O2", "OBJECTION_FILED", "LATE_OBJECTION") in refusals(world)
    assert objection(world, "O2") == []


def test_incomplete_objection_then_upheld(world):
    o = objection(world, "O3")
    assert len(o) == 1
    _, status, timeliness, deadline, missing, notice, *_r, newv = o[0]
    assert status == "UPHELD" and newv == 2 and timeliness == "ON_TIME"
    assert notice and all(
        any(x in notice for x in alts) for alts in (("EVIDENCE", "佐证"), ("ARCHIVE_ORIGINAL", "档案原件"))
    )
    assert ("O3", "OBJECTION_FILED", "NEW_MISSING_ITEMS") in refusals(world)
    v1, v2 = conclusion(world, "O3")
    assert v1[5] == date(2026, 12, 3) and v1[6] == 300
    assert v2[6] == 320 and v2[1] == date(2026, 12, 4) and v2[2] == date(2026, 12, 25) and v2[4] == "EMPLOYER"
    res = [(mt(ref), mt(iss)) for i, k, ref, iss, *_ in world.notices() if i == ID["O3"] and k == "RESULT"]
    assert sorted(res) == [("2026-11", "2026-12"), ("2026-12", "2027-01")]


def test_year_boundary_deadline(world):
    v5 = conclusion(world, "O5", 1)
    assert (v5[2], v5[3]) == (date(2026, 12, 31), "SET")
    v4 = conclusion(world, "O4", 1)
    assert (v4[2], v4[3]) == (None, "CALENDAR_UNKNOWN")
    o = objection(world, "O4")
    assert [(r[1], r[2]) for r in o] == [("ACCEPTED", "DEADLINE_UNKNOWN")]


def test_objection_suspends_confirmation(world):
    assert ("O6", "CONFIRMED", "OBJECTION_PENDING") in refusals(world)
    st = world.q("SELECT stage FROM ledger_entries WHERE id_no = ?", [ID["O6"]])
    assert st == [("CONCLUDED",)]
    assert [r[1] for r in objection(world, "O6")] == ["ACCEPTED"]


def test_result_notice_when_conclusion_issued(world):
    res = {}
    for i, k, ref, iss, *_ in world.notices():
        if k == "RESULT":
            res.setdefault(KEY_OF[i], []).append((mt(ref), mt(iss)))
    assert res["C"] == [("2026-10", "2026-11")]
    assert res["A"] == [("2026-11", "2026-12")]
    assert res["O1"] == [("2026-10", "2026-11")]
    # RESULT notices of 2026-11 reach the 2026-12 SMS batch
    sms12 = {
        (r["id_no"], r["notice_kind"], r["reference_month"])
        for rows in sms_rows(world, "2026-12").values()
        for r in rows
    }
    assert (ID["A"], "RESULT", "2026-11") in sms12


def test_objection_after_declaration_suspends_it(world):
    # O4 confirmed 2026-12-14, DECLARED by declare 2027-01, objects 2027-01-20 (deadline unknown: on time)
    st = world.q("SELECT stage FROM ledger_entries WHERE id_no = ?", [ID["O4"]])
    assert st == [("CONCLUDED",)]
    tr = [
        s
        for (s,) in world.q(
            "SELECT to_stage FROM ledger_transitions WHERE id_no = ? ORDER BY event_date, recorded_at", [ID["O4"]]
        )
    ]
    assert tr[-2:] == ["DECLARED", "CONCLUDED"], tr


def test_reruns_after_feedback_and_declare_reruns(world):
    assert world.snap["rerun 2026-11 after feedback"] == (True, 0)
    assert world.snap["declare rerun 2027-01"] == (True, 0)
    assert world.snap["digest 2026-12"] == world.snap["digest 2026-12 replayed"]


def test_result_notice_of_moved_person_goes_to_new_office(world):
    # E: conclusion issued 2026-11-05 by 640104 (after the 2026-11 run) -> batch 2026-12, when E is at 640521
    got = world.q(
        "SELECT reference_mi, issued_mi, channel, file_office FROM notice_log WHERE id_no = ? AND kind = 'RESULT'",
        [ID["E"]],
    )
    assert got == [(mi("2026-11"), mi("2026-12"), "EMPLOYER", OFF2)]
    off = offline_rows(world, "2026-12")
    assert ID["E"] in " ".join(str(r) for r in off.get(OFF2, []))
    assert ID["E"] not in " ".join(str(r) for r in off.get(OFF, []))


def test_worklist_shows_deadline_and_channel(world):
    wl = {r["id_no"]: r for rows in worklist(world, "2027-01").values() for r in rows}
    assert wl[ID["O5"]]["objection_deadline"] == "2026-12-31"
    # received 2026-12-11: its 15 working days reach 2027, which no calendar knows: kept open, and the
    # worklist says so rather than the blank of a result not received (docs/decisions.md, the turn of the year)
    assert wl[ID["O4"]]["objection_deadline"] == "待定（节假日安排未录入）"
    assert wl[ID["D"]]["channel"] == "TOWNSHIP" and wl[ID["E"]]["channel"] == "EMPLOYER"
    assert wl[ID["A"]]["channel"] == "SMS"
    assert wl[ID["O3"]]["objection_status"] == "UPHELD"


def test_sms_csv_headers_bom_and_no_formula(world):
    for m in MONTHS:
        for d in (world.out / m / "notifications").iterdir():
            for name in ("sms.csv", "offline.csv"):
                f = d / name
                if f.exists():
                    rows = read_csv(f)
                    for r in rows:
                        assert not any(v[:1] in ("=", "+", "-", "@") for v in r.values() if v), (f, r)


def test_confirmation_without_receipt_takes_its_day(world):
    # feedback-format.md: without RESULT_RECEIVED the confirmation day is the day of receipt
    v = conclusion(world, "T", 1)
    assert (v[1], v[2], v[4]) == (date(2026, 11, 9), date(2026, 11, 30), "PERSON")
    assert ("O5", "RESULT_RECEIVED", "CONFLICTING_RECORD") in refusals(world)


def test_no_notice_to_a_person_dead_in_the_months_push(world):
    # T was listed DECLARATION on 2027-02-01 (alive then); the 2027-02 push says deceased and the
    # 2027-02 run closes the entry: nothing of the 2027-02 batch may go to T (rules.md §6 re-check
    # "alive"; §3 closing; decisions.md: notices raised before P's push are settled on P's data).
    closed = world.q("SELECT close_reason, closed_mi FROM ledger_entries WHERE id_no = ?", [ID["T"]])
    assert closed == [("DECEASED", mi("2027-02"))]
    sent = [
        (r["notice_kind"], r["reference_month"])
        for rows in sms_rows(world, "2027-02").values()
        for r in rows
        if r["id_no"] == ID["T"]
    ]
    assert sent == []
    # withdrawn, not lost (sql/notify/46_withdraw.sql)
    assert world.q("SELECT kind, reason, withdrawn_mi FROM notice_withdrawals WHERE id_no = ?", [ID["T"]]) == [
        ("DECLARATION", "DECEASED", mi("2027-02"))
    ]
    report = (world.out / "2027-02" / "report" / "index.html").read_text(encoding="utf-8")
    assert "本月告知撤回" in report and "DECEASED" in report and ID["T"] not in report
    from pipelines.explain import explain_person

    assert "DECLARATION for 2027-05 withdrawn unsent by the run of 2027-02: entry closed DECEASED" in explain_person(
        ID["T"], "2027-02", world.wh
    )


def test_no_result_notice_to_a_person_dead_in_the_months_push(world):
    # I: conclusion issued 2026-12-04, after the 2026-12 run -> RESULT in the 2027-01 batch; the
    # 2027-01 push says deceased and the 2027-01 run closes the entry DECEASED.
    assert world.q("SELECT close_reason, closed_mi FROM ledger_entries WHERE id_no = ?", [ID["I"]]) == [
        ("DECEASED", mi("2027-01"))
    ]
    sent = [
        (r["notice_kind"], r["reference_month"])
        for rows in sms_rows(world, "2027-01").values()
        for r in rows
        if r["id_no"] == ID["I"]
    ]
    assert sent == []
    assert world.q("SELECT kind, reason, withdrawn_mi FROM notice_withdrawals WHERE id_no = ?", [ID["I"]]) == [
        ("RESULT", "DECEASED", mi("2027-01"))
    ]


def test_calendar_warnings(world):
    # rules.md §7: a year without Ningxia's days is computed nationally *with a warning that says so*;
    # feedback-format.md: a year no calendar knows keeps the deadline open and says so
    out = world.stdout
    assert "national calendar used" in out["feedback fb-640104-2026-10.csv"]
    assert "2027" in out["feedback fb-2026-12.csv"] and "not known" in out["feedback fb-2026-12.csv"]
    assert "accepted as on time" in out["feedback fb-2027-01.csv"]
