"""The turn of the year, 2026 → 2027, as production will live it (sixteenth session, an adversarial
probe): the months 2026-11, 2026-12, 2027-01 and 2027-02 (FULL pushes), the declarations of their
1sts, county feedback between them — conclusions received in mid and late December, confirmations,
objections filed in December and January, one late, a supplement — while the working-day calendar
does not know 2027 (chinese_calendar stops at 2026), and then a TEST calendar of 2027 entered in a
copy of the override file in mid-January (support/calendar.py: never the real one).

What is checked: every objection filed while the 2027 deadline is unknown is accepted as on time and
stays accepted once the calendar is entered; deadlines are filled in by the next feedback, and an
objection reported after that is judged on them; the officer's worklist says why a deadline is empty
(待定) instead of showing the blank of a result not received; the reminders of persons reaching their
age in January 2027 come in the right months, none twice; nothing stops.
"""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines import workdays
from pipelines.declare import declare_month
from pipelines.feedback import COLUMNS, apply_feedback_files
from pipelines.explain import explain_person
from pipelines.ingest import ingest_batches
from pipelines.monthly import run_month
from support import calendar
from support.pushkit import person, segment, write_batch

PENDING = "待定（节假日安排未录入）"

#: key -> (number, push fields): S is the statutory month (rules.md §1)
PERSONS = {
    "jan": (1, {"birth_date": "19660815", "arrears_months": "1"}),  # man, S 2027-01 (taken in by ARREARS)
    "mar": (2, {"birth_date": "19660915", "arrears_months": "1"}),  # man, S 2027-03
    "apr": (3, {"birth_date": "19661015", "arrears_months": "1"}),  # man, S 2027-04
    "may": (4, {"birth_date": "19661115"}),  # man, O 2026-11, S 2027-05
    "res": (
        5,
        {
            "birth_date": "19670115",
            "insurance_type": "170",
            "person_type": "",
            "employer_uscc": "",
            "employer_name": "",
        },
    ),  # resident, S = O = 2027-01
    "dec10": (6, {"birth_date": "19661201"}),  # men, S 2027-06: the objection cases
    "dec15a": (7, {"birth_date": "19661201"}),
    "dec15b": (8, {"birth_date": "19661201"}),
    "dec16": (9, {"birth_date": "19661201"}),
    "dec22": (10, {"birth_date": "19661201"}),
}


class World:
    def __init__(self, tmp: Path):
        self.tmp, self.wh, self.out = tmp, tmp / "w.duckdb", tmp / "out"
        self.p = {k: person(n, **kw) for k, (n, kw) in PERSONS.items()}
        self.seq = 0
        self.files = 0
        self.snap: dict[str, object] = {}

    def month(self, month: str) -> None:
        self.seq += 1
        ps = list(self.p.values())
        b = write_batch(self.tmp / f"b{self.seq}", ps, [segment(p["id_no"]) for p in ps], seq=self.seq, month=month)
        assert not ingest_batches([b], self.wh, validate=False).refused
        run_month(month, self.wh, self.out, validate=False)

    def declare(self, month: str):
        return declare_month(month, self.wh, self.out)

    def feedback(self, rows: list[tuple]):
        self.files += 1
        f = self.tmp / f"feedback-640104-{self.files:02d}.csv"
        with open(f, "w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(COLUMNS))
            w.writeheader()
            for key, event, day, *extra in rows:
                w.writerow(
                    {
                        "office_code": "640104",
                        "event": event,
                        "id_no": self.p[key]["id_no"],
                        "event_date": day,
                        **(extra[0] if extra else {}),
                    }
                )
        return apply_feedback_files([f], self.wh, office="640104", receipts=self.out / "feedback")

    def to_conclusion(self, key: str, first: date) -> list[tuple]:
        d = lambda k: date(first.year, first.month, first.day + k).isoformat()  # noqa: E731
        return [
            (key, "ARCHIVE_REVIEWED", d(0), {"result": "PASS"}),
            (key, "YEARS_CONFIRMED", d(1), {"months": "300"}),
            (key, "RELATIONS_MERGED", d(2), {"merge_status": "NOT_NEEDED"}),
            (
                key,
                "CONCLUSION_ISSUED",
                d(3),
                {
                    "counted_months": "300",
                    "merge_status": "NOT_NEEDED",
                    "archive_conclusion": "PASS",
                    "base_data": "核算数据",
                },
            ),
        ]

    def q(self, sql: str, params=None):
        con = duckdb.connect(str(self.wh), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def by_key(self, sql: str) -> dict:
        """``sql`` selects (id_no, value…) — keyed by the person's key here."""
        keys = {p["id_no"]: k for k, p in self.p.items()}
        return {keys[r[0]]: (r[1:] if len(r) > 2 else r[1]) for r in self.q(sql)}

    def worklist_deadlines(self, month: str) -> dict:
        f = self.out / month / "worklists" / "640104" / "worklist.csv"
        keys = {p["id_no"]: k for k, p in self.p.items()}
        with open(f, encoding="utf-8-sig", newline="") as fh:
            return {keys[r["公民身份号码"]]: r["异议截止日期"] for r in csv.DictReader(fh)}


DEADLINES = (
    "SELECT e.id_no, c.objection_deadline, c.deadline_status FROM conclusions c "
    "JOIN ledger_entries e USING (entry_id) WHERE c.superseded_on IS NULL"
)
OBJECTIONS = (
    "SELECT e.id_no, o.status, o.timeliness FROM objections o JOIN ledger_entries e USING (entry_id) "
    "WHERE o.objection_no = (SELECT max(objection_no) FROM objections x WHERE x.entry_id = o.entry_id)"
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("year_end"))
    cal = w.tmp / "overrides.csv"
    shutil.copy(workdays.OVERRIDES_FILE, cal)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(workdays, "OVERRIDES_FILE", cal)
        w.month("2026-11")
        rep = w.feedback(
            w.to_conclusion("mar", date(2026, 11, 20))
            + [("mar", "RESULT_RECEIVED", "2026-11-24"), ("mar", "CONFIRMED", "2026-11-25", {"confirmer": "EMPLOYER"})]
        )
        assert rep.files[0].refused == 0, rep.lines()
        w.declare("2026-12")
        rows = []
        for k in ("apr", "may", "dec10", "dec15a", "dec15b", "dec16", "dec22"):
            rows += w.to_conclusion(k, date(2026, 12, 1))
        rows += [
            ("dec10", "RESULT_RECEIVED", "2026-12-10"),
            ("apr", "RESULT_RECEIVED", "2026-12-15"),
            ("dec15a", "RESULT_RECEIVED", "2026-12-15"),
            ("dec15b", "RESULT_RECEIVED", "2026-12-15"),
        ]
        w.snap["mid-december"] = w.feedback(rows)
        w.month("2026-12")
        w.snap["late-december"] = w.feedback(
            [
                ("dec16", "RESULT_RECEIVED", "2026-12-16"),
                ("dec22", "RESULT_RECEIVED", "2026-12-22"),
                ("may", "RESULT_RECEIVED", "2026-12-21"),
                ("may", "CONFIRMED", "2026-12-23", {"confirmer": "EMPLOYER"}),
                ("apr", "OBJECTION_FILED", "2026-12-28"),
                ("dec22", "OBJECTION_FILED", "2026-12-30", {"items": "EVIDENCE;ID_DOCUMENT"}),
            ]
        )
        w.snap["declare 2027-01"] = w.declare("2027-01")
        w.snap["early-january"] = w.feedback(
            [
                ("dec10", "OBJECTION_FILED", "2027-01-04"),  # deadline 2026-12-31: late, known
                ("dec15a", "OBJECTION_FILED", "2027-01-08"),  # 2027 unknown: accepted (the TEST deadline is 01-06)
                (
                    "apr",
                    "OBJECTION_RESOLVED",
                    "2027-01-06",
                    {"result": "REJECTED", "reason": "r", "basis": "b", "remedy": "m"},
                ),
                ("apr", "CONFIRMED", "2027-01-07", {"confirmer": "EMPLOYER"}),
                ("may", "OBJECTION_FILED", "2027-01-11"),  # after a confirmation: suspends it
            ]
        )
        w.snap["deadlines before"] = w.by_key(DEADLINES)
        w.snap["objections before"] = w.by_key(OBJECTIONS)
        for lang in ("zh", "en"):
            w.snap[f"explain {lang}"] = explain_person(w.p["dec15a"]["id_no"], "2026-12", w.wh, lang=lang)
        # mid-January: the division enters 2027 (here the TEST calendar)
        with open(cal, "a", encoding="utf-8") as fh:
            fh.write(calendar.text_2027())
        # the month of January is run before any county sends a file: its worklist has the deadlines
        w.month("2027-01")
        w.snap["after entry"] = w.feedback(
            [
                ("dec15b", "OBJECTION_FILED", "2027-01-20"),  # late on the calendar now known
                ("dec16", "OBJECTION_FILED", "2027-01-07"),  # its last day
                ("dec22", "OBJECTION_FILED", "2027-01-19"),  # the supplement: not judged again
            ]
        )
        w.declare("2027-02")
        w.month("2027-02")
    return w


def test_objections_while_2027_is_unknown_are_accepted_and_stay_accepted(world):
    before = world.snap["deadlines before"]
    assert before["dec10"] == (date(2026, 12, 31), "SET")  # 15 working days inside 2026
    for k in ("apr", "dec15a", "dec15b", "dec16", "dec22", "may"):
        assert before[k] == (None, "CALENDAR_UNKNOWN"), k
    assert world.snap["objections before"] == {
        "apr": ("REJECTED", "DEADLINE_UNKNOWN"),
        "dec22": ("INCOMPLETE", "DEADLINE_UNKNOWN"),
        "dec15a": ("ACCEPTED", "DEADLINE_UNKNOWN"),
        "may": ("ACCEPTED", "DEADLINE_UNKNOWN"),
    }
    late = world.q("SELECT file_name, reason_code, reason FROM feedback_rows WHERE status = 'REFUSED' ORDER BY ALL")
    assert late == [
        ("feedback-640104-04.csv", "LATE_OBJECTION", "filed after the deadline 2026-12-31"),
        ("feedback-640104-05.csv", "LATE_OBJECTION", "filed after the deadline 2027-01-06"),
    ]
    # the calendar entered: deadlines filled in by the next feedback, objections judged on them, and
    # the one accepted on 01-08 while the deadline was open (after the TEST deadline 01-06) not undone
    after = world.by_key(DEADLINES)
    assert after["dec15a"] == after["dec15b"] == after["apr"] == (date(2027, 1, 6), "SET")
    assert after["dec16"] == (date(2027, 1, 7), "SET")
    objections = world.by_key(OBJECTIONS)
    assert objections["dec15a"] == ("ACCEPTED", "DEADLINE_UNKNOWN")
    assert objections["dec16"] == ("ACCEPTED", "ON_TIME")
    assert objections["dec22"] == ("ACCEPTED", "DEADLINE_UNKNOWN")  # its supplement completed it
    assert "dec15b" not in objections
    assert world.by_key("SELECT id_no, stage FROM ledger_entries")["may"] == "CONCLUDED"  # suspended


def test_the_worklist_says_why_a_deadline_is_not_shown(world):
    """Found by this probe: a result received whose deadline reaches the unknown 2027 had an empty
    异议截止日期, as a result not received yet, so the officer could not tell the two apart."""
    dec = world.worklist_deadlines("2026-12")  # run on the 16th: received 12-10 and 12-15 only
    assert dec["dec10"] == "2026-12-31"
    assert dec["apr"] == dec["dec15a"] == dec["dec15b"] == PENDING
    assert dec["dec16"] == dec["dec22"] == dec["may"] == ""  # not received yet
    # the calendar entered, then the month of January run before any feedback: the run fills them in
    jan = world.worklist_deadlines("2027-01")
    assert jan["dec15a"] == jan["apr"] == "2027-01-06" and jan["dec16"] == "2027-01-07"
    assert PENDING not in jan.values()


def test_reminders_and_declarations_across_the_year(world):
    ref = world.q(
        "SELECT kind, strftime(make_date(reference_mi // 12, reference_mi % 12 + 1, 1), '%Y-%m'), id_no "
        "FROM notice_log WHERE kind IN ('AGE_MINUS_3', 'AGE_REACHED', 'DECLARATION')"
    )
    keys = {p["id_no"]: k for k, p in world.p.items()}
    got = sorted((kind, month, keys[i]) for kind, month, i in ref)
    assert got == sorted(
        [
            ("AGE_MINUS_3", "2026-12", "mar"),  # S 2027-03
            ("AGE_MINUS_3", "2027-01", "apr"),  # S 2027-04
            ("AGE_MINUS_3", "2027-02", "may"),  # S 2027-05
            ("AGE_REACHED", "2027-01", "jan"),
            ("AGE_REACHED", "2027-01", "res"),
            ("DECLARATION", "2027-03", "mar"),  # declared on 2026-12-01 (R - P = 3), once only
            ("DECLARATION", "2027-04", "apr"),  # declared on 2027-02-01, confirmed again after the rejection
        ]
    )
    counts = world.q("SELECT id_no, kind, reference_mi, count(*) FROM notice_log GROUP BY ALL HAVING count(*) > 1")
    assert counts == []  # never twice
    assert world.snap["declare 2027-01"].counts["DECLARATION"] == 1  # "mar", already told: no notice again
    for month in ("2026-12", "2027-01", "2027-02"):
        assert (world.out / month / "declarations" / "640104" / "declarations.csv").exists()
    forecast = world.q("SELECT min(forecast_mi), max(forecast_mi) FROM forecast WHERE month_mi = 2027 * 12 + 0")
    assert forecast == [(2027 * 12 + 1, 2028 * 12 + 0)]
    page = (world.out / "2027-01" / "report" / "index.html").read_text(encoding="utf-8")
    assert "与2026-12比较的变化列于各项数字下方" in page


def test_a_calendar_file_being_edited_does_not_stop_the_month(tmp_path, monkeypatch):
    """The run now computes the deadlines its worklists show (above); a calendar file that cannot be
    read (a row half typed on 15 January) leaves them as they were and says so, the month goes on."""
    cal = tmp_path / "overrides.csv"
    cal.write_text(workdays.OVERRIDES_FILE.read_text(encoding="utf-8") + "2027-01-0\n", encoding="utf-8")
    monkeypatch.setattr(workdays, "OVERRIDES_FILE", cal)
    w = World(tmp_path)
    w.p = {"may": w.p["may"]}
    w.month("2026-11")
    assert (w.out / "2026-11" / "worklists" / "640104" / "worklist.csv").exists()
    assert w.q("SELECT status FROM month_runs WHERE command = 'run'") == [("DONE",)]


def test_explain_tells_the_conclusion_its_open_deadline_and_the_objection(world):
    """``retire-prep explain`` for a person whose deadline is kept open: the conclusion, the 待定
    deadline and the objection accepted meanwhile (it said nothing of feedback before)."""
    zh, en = world.snap["explain zh"], world.snap["explain en"]
    assert "结论、异议与申报（rules.md §6、§7）：" in zh
    assert "结论 v1" in zh and "送达 2026-12-15，异议截止 待定（节假日安排未录入）" in zh
    assert "异议 1（对结论 v1）：2027-01-08 提出，期限 待定（期限未能确定），已受理，受理于 2027-01-08" in zh
    assert "received 2026-12-15, objection deadline open (calendar)" in en
    assert "objection 1 (to v1): filed 2027-01-08, deadline open (DEADLINE_UNKNOWN), ACCEPTED" in en
    assert world.p["dec15a"]["id_no"] not in zh + en


def test_explain_tells_the_declaration_screenings(world):
    id_no, month, decision = world.q(
        "SELECT id_no, month_mi, decision FROM declaration_decisions ORDER BY month_mi, id_no LIMIT 1"
    )[0]
    shown = f"{month // 12}-{month % 12 + 1:02d}"
    zh = explain_person(id_no, "2027-02", world.wh, lang="zh")
    en = explain_person(id_no, "2027-02", world.wh, lang="en")
    assert f"{shown} 月初申报筛查：" in zh and f"declaration screening {shown}: {decision} for " in en


def test_the_receipt_says_the_deadlines_it_left_open(world):
    """The officer who reported results received on 15 December is told on the file's receipt that
    three deadlines are 待定 and why; the receipt of a file that left none open says nothing of it."""
    import openpyxl

    def summary(n: int) -> dict:
        ws = openpyxl.load_workbook(world.out / "feedback" / "640104" / f"feedback-640104-{n:02d}.回执.xlsx")["回执"]
        return {r[0].value: r[1].value for r in ws.iter_rows() if r[0].value and len(r) > 1 and r[1].value}

    mid = summary(2)  # mid-December: apr, dec15a, dec15b received on 12-15 (dec10's deadline is known)
    assert mid["异议期限"].startswith("有3人的异议期限待定") and "期间提出的异议按期内受理" in mid["异议期限"]
    assert "异议期限" not in summary(1)  # November: a deadline inside 2026
