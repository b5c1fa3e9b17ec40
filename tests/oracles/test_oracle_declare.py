"""Independent oracle of rules.md §6, the month-start declaration screening (seventeenth session).

The pipeline is driven black-box through ``pipelines.cli.main`` (ingest, run, feedback, declare)
over three eras of one warehouse — 2024-12 … 2025-02 (R in 2025), 2026-10 … 2027-03 (the edges) and
2029-10 … 2030-01 (the minimum's first rise) — and every declarations list, its decisions,
retirement months, counted and minimum months, offices, the DECLARATION/CONSULTATION notices and
the moves to DECLARED are compared with ``support.oracle_declare`` (plain Python over the facts
fed: push rows and the county's events as applied). The county's rows are typed as officers type
them (docs/feedback-format.md: 2027年5月, full-width digits, 2027/1 …) and a few hostile ones
(2027.1, 180.0, a day in 选定退休年月, a month outside the window, an election for a resident) must be
refused and change nothing.

Cohort of the second era (first run 2026-10; declares 2026-11 before its push, 2026-12 after its
push and before its run, 2026-12 again after the run, 2027-01, none of 2027-02, 2027-03 twice):
R − P = 0, 1, 3, 4; counted exactly 180 and 179 (push 300), push 100 with a conclusion of 200;
elected later than S, earlier than S, outside the window (refused), a window a corrected birth date
moves; confirmed then objected (open, rejected, upheld 170); re-issued and not confirmed; concluded
only; nothing; died, retired, moved office, left the push, left Ningxia after confirmation; died
after the notice; 170 at 180 and 179; a flexible-employment woman and a woman worker; declared and
then objected; declared and then a later month elected.
"""

from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path

import duckdb
import pytest

from pipelines import cli
from support.oracle_declare import Oracle, mi, mt
from support.oracle_rules import ages, min_contribution
from support.pushkit import make_id, person, read_vectors, segment, write_batch
from support.warehouse import q

OFF, OFF2 = "640104", "640105"
FB_COLUMNS = (
    "office_code,event,id_no,event_date,officer_id,result,months,items,counted_months,merge_status,"
    "archive_conclusion,base_data,elected_month,confirmer,pre_review_office,reason,basis,remedy,note"
).split(",")

# key: (birth_date, statutory month expected, fields)
MAN = {}
WOMAN_WORKER = dict(gender=2, person_type=1)
WOMAN_FLEX = dict(gender=2, person_type=3, employer_uscc="", employer_name="")
RESIDENT = dict(insurance_type=170, person_type="", employer_uscc="", employer_name="")
SUSP = dict(contribution_status=2)  # past the original age: in scope as suspended (rules.md §3 (b))

COHORT = {
    # era A (2024-12 … 2025-02)
    "a180": ("19650110", "2025-02", MAN),
    "a179": ("19650111", "2025-02", MAN),
    "a2503": ("19650212", "2025-03", MAN),
    # era B (2026-10 … 2027-03)
    "r0": ("19660610", "2026-11", SUSP),
    "r1": ("19660710", "2026-12", SUSP),
    "r3": ("19760510", "2027-02", {**WOMAN_WORKER, **SUSP}),
    "r4": ("19660910", "2027-03", SUSP),
    "min180": ("19660811", "2027-01", SUSP),
    "min179": ("19660812", "2027-01", SUSP),
    "pushlow": ("19660813", "2027-01", {**SUSP, "actual_contribution_months": 100}),
    "elate": ("19660711", "2026-12", SUSP),
    "eearly": ("19670110", "2027-08", MAN),
    "eout": ("19660814", "2027-01", SUSP),
    "wmove": ("19661010", "2027-04", MAN),
    "obj_open": ("19660911", "2027-03", SUSP),
    "obj_rej": ("19660912", "2027-03", SUSP),
    "obj_uph": ("19660913", "2027-03", SUSP),
    "reissue": ("19660914", "2027-03", SUSP),
    "concl": ("19660915", "2027-03", SUSP),
    "none": ("19660916", "2027-03", SUSP),
    "dies": ("19660917", "2027-03", SUSP),
    "dies_late": ("19660815", "2027-01", SUSP),
    "retires": ("19660918", "2027-03", SUSP),
    "moves": ("19660919", "2027-03", SUSP),
    "leaves": ("19660920", "2027-03", SUSP),
    "out_nx": ("19660921", "2027-03", {**SUSP, "hukou_region": "620102"}),
    "r170ok": ("19661210", "2026-12", RESIDENT),
    "r170short": ("19670110", "2027-01", {**RESIDENT, "gender": 2}),
    "flex": ("19710810", "2027-01", {**WOMAN_FLEX, **SUSP}),
    "decl_obj": ("19760511", "2027-02", {**WOMAN_WORKER, **SUSP}),
    "redecl": ("19660712", "2026-12", SUSP),
    "skip_ok": ("19661110", "2027-05", MAN),
    "skip_lost": ("19660922", "2027-03", SUSP),
    # era C (2029-10 … 2030-01)
    "c2912_180": ("19681210", "2029-12", SUSP),
    "c2912_179": ("19681211", "2029-12", SUSP),
    "c3001_186": ("19681212", "2029-12", SUSP),
    "c3001_185": ("19681213", "2029-12", SUSP),
    "c3002_186": ("19690110", "2030-02", SUSP),
    "c3002_185": ("19690111", "2030-02", SUSP),
    "c170_3001": ("19700110", "2030-01", RESIDENT),
    "c_early": ("19690112", "2030-02", SUSP),
    "c_redecl": ("19681214", "2029-12", SUSP),
}
ERA = {
    k: ("A" if k in ("a180", "a179", "a2503") else "C" if k[:2] in ("c1", "c2", "c3", "c_") else "B") for k in COHORT
}


def _row(n: int, key: str) -> dict:
    birth, _, kw = COHORT[key]
    r = person(n, birth_date=birth, **kw)
    r["id_no"] = make_id(prefix=OFF, birth=birth, seq=n, gender=int(r["gender"]))
    r["_key"] = key
    return r


ROWS = {k: _row(i + 1, k) for i, k in enumerate(COHORT)}
ID = {k: r["id_no"] for k, r in ROWS.items()}
KEY = {v: k for k, v in ID.items()}


def _segs(key: str, extra=()) -> list[dict]:
    return [segment(ID[key], region=OFF, start="199001", end="202012", status=1), *extra]


def push_row(key: str, **over) -> dict:
    return {**ROWS[key], **{k: str(v) for k, v in over.items()}}


# ------------------------------------------------------------------------------------------ the world


class World:
    def __init__(self, root: Path):
        self.root, self.wh, self.out = root, root / "w.duckdb", root / "out"
        self.oracle = Oracle()
        self.seq = 0
        self.files = 0
        self.log: list[str] = []  # every command and its exit status
        self.diffs: dict[str, list[str]] = {}  # declare tag -> mismatches with the oracle
        self.refusals: list[str] = []  # feedback rows not as expected

    def cli(self, *argv: str) -> int:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            rc = cli.main(list(argv))
        self.log.append(f"{' '.join(argv[:3])}: {rc} {buf.getvalue()[-400:] if rc else ''}")
        return rc

    def q(self, sql, params=None):
        return q(self.wh, sql, params)

    def push(self, month: str, rows: list[dict], segs: dict[str, list] | None = None, full=False):
        self.seq += 1
        segs = segs if segs is not None else {r["id_no"]: _segs(KEY[r["id_no"]]) for r in rows if r.get("op") != "D"}
        folder = self.root / f"b{self.seq}"
        clean = [{k: v for k, v in r.items() if k != "_key"} for r in rows]
        write_batch(
            folder,
            clean,
            [s for ss in segs.values() for s in ss],
            seq=self.seq,
            push_type="FULL" if full else "INCR",
            base_seq=None if full else self.seq - 1,
            month=month,
        )
        assert self.cli("ingest", str(folder), "--warehouse", str(self.wh)) == 0, self.log[-1]
        self.oracle.push(rows, segs, full)

    def run(self, month: str, entering=()):
        assert self.cli("run", "--month", month, "--warehouse", str(self.wh), "--out", str(self.out)) == 0, self.log[-1]
        self.oracle.run(mi(month), {ID[k] for k in entering})

    def feedback(self, rows: list[tuple]):
        """rows: (key, event, day, columns, expected status or refusal code, oracle effect or None)."""
        self.files += 1
        name = f"fb-{self.files:02d}.csv"
        office = rows[0][3].get("office_code", OFF)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=FB_COLUMNS, lineterminator="\r\n")
        w.writeheader()
        for key, event, day, cols, _, _ in rows:
            w.writerow({"office_code": office, "event": event, "id_no": ID[key], "event_date": day, **cols})
        path = self.root / name
        path.write_bytes(buf.getvalue().encode("utf-8"))
        self.cli("feedback", str(path), "--office", office, "--warehouse", str(self.wh))
        got = self.q(
            "SELECT row_no, status, reason_code FROM feedback_rows WHERE file_name = ? ORDER BY row_no", [name]
        )
        assert len(got) == len(rows), (name, got)
        for (row_no, status, code), (key, event, day, cols, want, effect) in zip(got, rows):
            seen = "APPLIED" if status == "APPLIED" else code
            if seen != want:
                self.refusals.append(f"{name}#{row_no} {key} {event} {day} {cols}: {seen} (expected {want})")
            if status == "APPLIED" and effect is not None:
                effect(ID[key])

    def declare(self, month: str, tag: str):
        assert self.cli("declare", "--month", month, "--warehouse", str(self.wh), "--out", str(self.out)) == 0, (
            self.log[-1]
        )
        want = self.oracle.screen(mi(month))
        self.oracle.notify(mi(month), want)
        self.diffs[tag] = self._compare(month, want)

    def _compare(self, month: str, want) -> list[str]:
        files = sorted((self.out / month / "declarations").glob("*/declarations.parquet"))
        got = {}
        for f in files:
            for r in duckdb.sql(f"SELECT * FROM '{f}'").df().to_dict("records"):
                assert r["id_no"] not in got, f"{KEY.get(r['id_no'])} listed twice"
                assert f.parent.name == r["office_code"], "a row in another office's file"
                got[r["id_no"]] = r
        diffs = []
        for i in sorted(set(got) | set(want)):
            k = KEY.get(i, i)
            if i not in got:
                diffs.append(f"{k}: expected {want[i]} but not listed")
                continue
            if i not in want:
                diffs.append(f"{k}: listed {got[i]['decision']} {got[i]['retirement_month']} but not expected")
                continue
            g, e = got[i], want[i]
            pairs = {
                "office": (g["office_code"], e.office),
                "retirement_month": (g["retirement_month"], e.retirement_month),
                "retirement_source": (g["retirement_source"], e.retirement_source),
                "decision": (g["decision"], e.decision),
                "counted": (int(g["counted_contribution_months"]), e.counted),
                "minimum": (int(g["min_contribution_months"]), e.minimum),
            }
            diffs += [f"{k} {name}: got {a!r}, oracle {b!r}" for name, (a, b) in pairs.items() if a != b]
            if e.decision == "DECLARATION":
                stage = self.q("SELECT stage FROM ledger_entries WHERE id_no = ? AND closed_mi IS NULL", [i])
                if stage != [("DECLARED",)]:
                    diffs.append(f"{k}: declared, stage {stage}")
        # §5: the notices so far, each (person, kind, reference month) once, in its batch
        notices = self.q(
            "SELECT id_no, kind, reference_mi, issued_mi FROM notice_log WHERE kind IN ('DECLARATION', 'CONSULTATION')"
        )
        seen = {}
        for i, kind, ref, issued in notices:
            if (i, kind, ref) in seen:
                diffs.append(f"{KEY.get(i, i)}: {kind} for {mt(ref)} twice")
            seen[(i, kind, ref)] = issued
        for key in sorted(set(seen) | set(self.oracle.notices)):
            a, b = seen.get(key), self.oracle.notices.get(key)
            if a != b:
                diffs.append(f"{KEY.get(key[0])} notice {key[1]} {mt(key[2])}: batch {mt(a)}, oracle {mt(b)}")
        return diffs


# ------------------------------------------------------------------------------------------ feedback rows

PATH = ("ARCHIVE_REVIEWED", "YEARS_CONFIRMED", "RELATIONS_MERGED", "CONCLUSION_ISSUED", "RESULT_RECEIVED", "CONFIRMED")


def path(o: Oracle, key: str, days: list[str], counted=300, until="CONFIRMED", counted_cell=None) -> list[tuple]:
    """The pre-service of one person, one event a day, ARCHIVE_REVIEWED … ``until``."""
    itype = ROWS[key]["insurance_type"]
    confirmer = "EMPLOYER" if itype == "110" and ROWS[key]["employer_name"] else "PERSON"
    cols = {
        "ARCHIVE_REVIEWED": {"result": "PASS"},
        "YEARS_CONFIRMED": {"months": str(counted)},
        "RELATIONS_MERGED": {"merge_status": "NOT_NEEDED"},
        "CONCLUSION_ISSUED": {
            "counted_months": counted_cell or str(counted),
            "merge_status": "NOT_NEEDED",
            "archive_conclusion": "PASS",
            "base_data": "缴费基数6500",
        },
        "RESULT_RECEIVED": {},
        "CONFIRMED": {"confirmer": confirmer},
    }
    effects = {
        "CONCLUSION_ISSUED": lambda i: o.conclusion(i, counted),
        "CONFIRMED": o.confirm,
    }
    out = []
    for ev, day in zip(PATH, days):
        out.append((key, ev, day, cols[ev], "APPLIED", effects.get(ev)))
        if ev == until:
            break
    return out


def days(month: str, first: int) -> list[str]:
    """Six working days of ``month`` from day ``first`` (Monday to Friday; the scenario's months
    have no holiday on them)."""
    from datetime import date, timedelta

    y, m = map(int, month.split("-"))
    d, out = date(y, m, first), []
    while len(out) < 6:
        if d.weekday() < 5:
            out.append(d.isoformat())
        d += timedelta(days=1)
    return out


def elect(o: Oracle, key: str, day: str, cell: str, want="APPLIED", month: str | None = None) -> tuple:
    return (key, "ELECTED_MONTH", day, {"elected_month": cell}, want, lambda i: o.elect(i, mi(month or cell)))


# ------------------------------------------------------------------------------------------ the scenario


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    # longer than 80 lines on purpose: the scenario is read top to bottom, month by month, as the
    # months happen; split, its order (push, run, feedback, declare) would be harder to follow
    w = World(tmp_path_factory.mktemp("oracle_declare"))
    o = w.oracle
    era = {e: [k for k in COHORT if ERA[k] == e] for e in "ABC"}

    # ---- era A: R in 2025 (push 2024-12; declares 2025-01 and 2025-02)
    w.push("2024-12", [ROWS[k] for k in era["A"]], full=True)
    w.run("2024-12", era["A"])
    dec = days("2024-12", 9)
    w.feedback(
        path(o, "a180", dec, counted=180) + path(o, "a179", dec, counted=179) + path(o, "a2503", dec, counted=180)
    )
    w.declare("2025-01", "2025-01")
    w.push("2025-01", [])
    w.run("2025-01")
    w.declare("2025-02", "2025-02")

    # ---- era B: the edges (a FULL of era B only: era A leaves the push)
    w.push("2026-10", [ROWS[k] for k in era["B"]], full=True)
    w.run("2026-10", era["B"])
    oct_ = days("2026-10", 12)
    rows = []
    for k in ("r0", "r1", "r3", "r4", "elate", "eearly", "eout", "wmove", "dies", "dies_late"):
        rows += path(o, k, oct_)
    for k in ("retires", "moves", "leaves", "out_nx", "redecl", "decl_obj"):
        rows += path(o, k, oct_)
    rows += path(o, "min180", oct_, counted=180, counted_cell="１８０")  # full-width, as typed
    rows += path(o, "min179", oct_, counted=179)
    rows += path(o, "pushlow", oct_, counted=200)
    rows += path(o, "r170ok", oct_, counted=180) + path(o, "r170short", oct_, counted=179)
    rows += path(o, "flex", oct_)
    rows += path(o, "concl", oct_, until="CONCLUSION_ISSUED")
    rows += path(o, "reissue", oct_)
    rows += path(o, "skip_ok", oct_, until="RESULT_RECEIVED") + path(o, "skip_lost", oct_, until="RESULT_RECEIVED")
    after = "2026-10-22"
    rows += [
        elect(o, "elate", after, "2027年5月", month="2027-05"),  # later than S (flexible delay), as typed
        elect(o, "eearly", after, "２０２７／１", month="2027-01"),  # earlier than S, full-width
        elect(o, "eout", after, "2030-03", "OUTSIDE_FLEXIBLE_WINDOW"),  # beyond S + 36
        elect(o, "wmove", after, "2027.1", "MALFORMED"),  # a spreadsheet's 2027.10
        elect(o, "wmove", after, "2027/1/1", "MALFORMED"),  # a day where a month is needed
        elect(o, "wmove", after, "2026-09", "ELECTED_MONTH_PAST"),
        elect(o, "wmove", after, "2027-01"),
        elect(o, "r170short", after, "2027-03", "ELECTION_NOT_ALLOWED"),
        ("concl", "CONFIRMED", after, {"confirmer": "PERSON"}, "WRONG_CONFIRMER", None),  # the employer confirms
    ]
    w.feedback(rows)
    # a conclusion typed 180.0 (a number cell) is refused, not read as 180 or 1800
    w.feedback(
        [("none", "ARCHIVE_REVIEWED", "2026-10-23", {"result": "PASS"}, "APPLIED", None)]
        + [("none", "YEARS_CONFIRMED", "2026-10-26", {"months": "180.0"}, "MALFORMED", None)]
    )
    w.declare("2026-11", "2026-11 before its push")
    # push 2026-11: dies_late died (declared on the 1st: its notice is withdrawn); wmove's birth date
    # corrected by a year (its elected month leaves the window)
    w.push(
        "2026-11",
        [push_row("dies_late", op="U", survival_status=2), push_row("wmove", op="U", birth_date="19671010")],
    )
    w.run("2026-11")
    nov = days("2026-11", 2)
    rows = []
    for k in ("obj_open", "obj_rej", "obj_uph"):
        rows += path(o, k, nov)
    rows += [
        ("obj_open", "OBJECTION_FILED", "2026-11-10", {}, "APPLIED", o.objection),
        ("obj_rej", "OBJECTION_FILED", "2026-11-10", {}, "APPLIED", o.objection),
        ("obj_uph", "OBJECTION_FILED", "2026-11-10", {}, "APPLIED", o.objection),
        ("decl_obj", "OBJECTION_FILED", "2026-10-30", {}, "APPLIED", o.objection),  # after its declaration
        (
            "obj_rej",
            "OBJECTION_RESOLVED",
            "2026-11-12",
            {"result": "REJECTED", "reason": "核实无误", "basis": "档案", "remedy": "行政复议"},
            "APPLIED",
            o.rejected,
        ),
        (
            "obj_uph",
            "OBJECTION_RESOLVED",
            "2026-11-12",
            {"result": "UPHELD", "counted_months": "170"},
            "APPLIED",
            lambda i: o.upheld(i, 170),
        ),
        (
            "reissue",
            "CONCLUSION_ISSUED",
            "2026-11-13",
            {"counted_months": "250", "merge_status": "NOT_NEEDED", "archive_conclusion": "PASS", "base_data": "x"},
            "APPLIED",
            lambda i: o.conclusion(i, 250),
        ),
        elect(o, "redecl", "2026-11-16", "2027-02"),  # declared for S 2026-12, then elects later
    ]
    w.feedback(rows)
    # push 2026-12, ingested before the 1st's declaration (then the run)
    gs = segment(ID["out_nx"], region="620102", start="202101", end="202611", status=1)
    w.push(
        "2026-12",
        [
            push_row("dies", op="U", survival_status=2),
            push_row("retires", op="U", retired=1),
            push_row("moves", op="U", insured_region=OFF2),
            push_row("leaves", op="D"),
            push_row("out_nx", op="U"),
        ],
        segs={
            ID["out_nx"]: _segs("out_nx", [gs]),
            ID["dies"]: _segs("dies"),
            ID["retires"]: _segs("retires"),
            ID["moves"]: [segment(ID["moves"], region=OFF2, start="199001", end="202012")],
        },
    )
    w.declare("2026-12", "2026-12 before its run")
    w.run("2026-12")
    w.declare("2026-12", "2026-12 again after its run")
    dec = days("2026-12", 2)
    w.feedback(
        [
            ("obj_rej", "CONFIRMED", dec[0], {"confirmer": "EMPLOYER"}, "APPLIED", o.confirm),
            ("obj_uph", "RESULT_RECEIVED", dec[0], {}, "APPLIED", None),
            ("obj_uph", "CONFIRMED", dec[1], {"confirmer": "EMPLOYER"}, "APPLIED", o.confirm),
            (
                "decl_obj",
                "OBJECTION_RESOLVED",
                dec[0],
                {"result": "REJECTED", "reason": "r", "basis": "b", "remedy": "m"},
                "APPLIED",
                o.rejected,
            ),
            ("decl_obj", "CONFIRMED", dec[1], {"confirmer": "EMPLOYER"}, "APPLIED", o.confirm),
        ]
    )
    w.declare("2027-01", "2027-01")
    w.feedback(
        [
            ("skip_ok", "CONFIRMED", "2027-01-05", {"confirmer": "EMPLOYER"}, "APPLIED", o.confirm),
            ("skip_lost", "CONFIRMED", "2027-01-05", {"confirmer": "EMPLOYER"}, "APPLIED", o.confirm),
        ]
    )
    w.push("2027-01", [])
    w.run("2027-01")
    w.push("2027-02", [])
    w.run("2027-02")
    # 2027-02 is never declared (skipped)
    w.declare("2027-03", "2027-03 after a skipped month")
    w.declare("2027-03", "2027-03 again")

    # ---- era C: the minimum's first rise (2029: 180, 2030: 186); residents 180
    w.push("2029-10", [ROWS[k] for k in era["C"]], full=True)
    w.run("2029-10", era["C"])
    oc = days("2029-10", 8)
    rows = []
    for k, n in (("c2912_180", 180), ("c2912_179", 179), ("c3001_186", 186), ("c3001_185", 185)):
        rows += path(o, k, oc, counted=n)
    for k, n in (("c3002_186", 186), ("c3002_185", 185), ("c170_3001", 180), ("c_early", 183), ("c_redecl", 183)):
        rows += path(o, k, oc, counted=n)
    late = "2029-10-22"
    rows += [
        elect(o, "c3001_186", late, "2030-01"),
        elect(o, "c3001_185", late, "2030-01"),  # one month later than S: 2030's minimum
        elect(o, "c_early", late, "2029-12"),  # earlier than S (2030-02): 2029's minimum
    ]
    w.feedback(rows)
    w.declare("2029-11", "2029-11")
    # declared for S 2029-12 with 183 months, then elects 2030-02: 2030's minimum (186)
    w.feedback([elect(o, "c_redecl", "2029-11-03", "2030-02")])
    w.push("2029-11", [])
    w.run("2029-11")
    w.declare("2029-12", "2029-12")
    w.declare("2030-01", "2030-01")
    return w


# ------------------------------------------------------------------------------------------ checks


def test_cohort_statutory_months_as_designed():
    """The cohort's S (oracle_rules, checked against tests/vectors/) is what each case needs."""
    for k, (_, s, _) in COHORT.items():
        assert mt(ages(ROWS[k])["statutory_age_mi"]) == s, k


def test_oracle_minimum_matches_the_vectors():
    for v in read_vectors("min_contribution.csv"):
        assert min_contribution(int(v["statutory_age_year"]), "110") == int(v["min_contribution_months"])


def test_every_command_succeeded_and_the_cohort_entered(world):
    assert not [line for line in world.log if not line.split(": ")[1].startswith("0")], world.log
    opened = {r[0] for r in world.q("SELECT DISTINCT id_no FROM ledger_entries")}
    assert {k for k in COHORT if ID[k] not in opened} == set()


def test_feedback_rows_applied_or_refused_as_typed(world):
    assert world.refusals == [], "\n".join(world.refusals)


DECLARES = [
    "2025-01",
    "2025-02",
    "2026-11 before its push",
    "2026-12 before its run",
    "2026-12 again after its run",
    "2027-01",
    "2027-03 after a skipped month",
    "2027-03 again",
    "2029-11",
    "2029-12",
    "2030-01",
]


@pytest.mark.parametrize("tag", DECLARES)
def test_declaration_list_matches_the_oracle(world, tag):
    assert world.diffs[tag] == [], "\n".join(world.diffs[tag])


def test_the_edges_were_exercised(world):
    """The scenario reaches the cases it claims (a guard on the cohort, not on the pipeline)."""
    lists = {}
    for m in ("2025-01", "2026-11", "2026-12", "2027-01", "2027-03", "2029-11", "2029-12", "2030-01"):
        for f in (world.out / m / "declarations").glob("*/declarations.parquet"):
            for r in duckdb.sql(f"SELECT id_no, decision FROM '{f}'").fetchall():
                lists[(m, KEY[r[0]])] = r[1]
    assert lists[("2026-11", "min180")] == "DECLARATION" and lists[("2026-11", "min179")] == "CONSULTATION"
    assert lists[("2029-12", "c3001_185")] == "CONSULTATION" and lists[("2029-11", "c_early")] == "DECLARATION"
    assert ("2026-11", "r0") not in lists and ("2026-11", "r4") not in lists
    assert lists[("2026-12", "obj_open")] == "FOLLOW_UP" and lists[("2027-01", "obj_uph")] == "CONSULTATION"
    assert lists[("2026-12", "moves")] == "DECLARATION"
    assert lists[("2029-11", "c_redecl")] == "DECLARATION" and lists[("2029-12", "c_redecl")] == "CONSULTATION"
    # out_nx: in the window of 2026-12 (S 2027-03) when the push moved his place to Gansu; the run closed it
    assert world.q("SELECT close_reason FROM ledger_entries WHERE id_no = ?", [ID["out_nx"]]) == [("MOVED_OUT",)]


def test_declared_then_short_for_a_later_elected_month_keeps_its_stage(world):
    """Spec silent (docs/decisions.md, seventeenth session): an entry DECLARED for S and then told to
    consult for a later elected month whose year needs more months stays DECLARED (stages never go
    back but by an objection or a re-issue, rules.md §7); the list's row says CONSULTATION."""
    assert world.q("SELECT stage FROM ledger_entries WHERE id_no = ? AND closed_mi IS NULL", [ID["c_redecl"]]) == [
        ("DECLARED",)
    ]
