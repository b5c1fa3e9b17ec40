"""County feedback (rules.md §7, seed notice 二(三)–(五), 五; docs/feedback-format.md).

Fixtures are rows inserted directly into a fresh warehouse (person_versions,
screen_results, ledger_entries); feedback files are written as CSV and applied.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from pipelines import feedback
from pipelines.feedback import FeedbackFileRefused, apply_feedback_files, objection_deadline
from pipelines.settings import load_settings
from support import calendar
from support.pushkit import make_id
from support.feedback import mi, Person, Wh, row, PATH, path_rows, P, D0  # noqa: F401


@pytest.fixture
def wh(tmp_path):
    return Wh(tmp_path)


# ------------------------------------------------------------------------------------ every event


def test_whole_path_every_event_accepted(wh):
    p = wh.person(S=P + 4)
    rows = [row(p, "OFFICER_ASSIGNED", D0, officer_id="640104-02")]
    rows += path_rows(p, "CONFIRMED")
    rows += [row(p, "ELECTED_MONTH", D0 + timedelta(days=6), elected_month="2027-02")]
    rep = wh.apply(rows)
    assert (rep.rows, rep.accepted, rep.refused) == (8, 8, 0), rep.lines()
    assert wh.stage(p) == "CONFIRMED"
    t = wh.q(
        "SELECT from_stage, to_stage, event_date, source FROM ledger_transitions WHERE entry_id = ? "
        "ORDER BY event_date, recorded_at",
        [p.entry_id],
    )
    assert [x[1] for x in t] == ["ARCHIVE_REVIEWED", "YEARS_CONFIRMED", "RELATIONS_MERGED", "CONCLUDED", "CONFIRMED"]
    assert t[0] == ("NOTIFIED", "ARCHIVE_REVIEWED", D0, "feedback:fb01.csv#2")
    st = wh.q(
        "SELECT officer_id, archive_result, years_confirmed_months, conclusion_version, counted_months, "
        "merge_status, archive_conclusion, base_data, result_received_on, objection_deadline, deadline_status, "
        "confirmed_by, objection_open, elected_retirement_month, pre_review_office "
        "FROM entry_status WHERE entry_id = ?",
        [p.entry_id],
    )[0]
    assert st == (
        "640104-02",
        "PASS",
        300,
        1,
        300,
        "MERGED",
        "PASS",
        "base 6500",
        date(2026, 11, 6),
        date(2026, 11, 27),
        "SET",
        "EMPLOYER",
        False,
        "2027-02",
        "640104",
    )
    # RESULT notice when the conclusion is issued (rules.md §5), reference month = month of issue,
    # stating the 15-working-day objection period; receipt and confirmation send nothing more
    n = wh.q("SELECT kind, reference_mi, text FROM notice_log WHERE id_no = ?", [p.id_no])
    assert len(n) == 1 and n[0][0] == "RESULT" and n[0][1] == P and "自收到结论之日起15个工作日内" in n[0][2]
    # RETIRED closes the entry
    rep = wh.apply([row(p, "RETIRED", date(2026, 12, 1))])
    assert rep.accepted == 1
    assert wh.q("SELECT stage, closed_mi, close_reason FROM ledger_entries WHERE entry_id = ?", [p.entry_id]) == [
        ("RETIRED", P + 1, "RETIRED")
    ]


def test_archive_review_may_skip_notified_and_fail_lists_items(wh):
    p = wh.person(stage="ENROLLED")
    rep = wh.apply(
        [
            row(
                p,
                "ARCHIVE_REVIEWED",
                D0,
                result="FAIL",
                items="military_service; WORK_HISTORY",
                pre_review_office="640100",
            )
        ]
    )
    assert rep.accepted == 1, rep.lines()
    assert wh.stage(p) == "ARCHIVE_REVIEWED"
    assert wh.q(
        "SELECT archive_result, archive_items, pre_review_office FROM entry_status WHERE entry_id = ?", [p.entry_id]
    ) == [("FAIL", "MILITARY_SERVICE;WORK_HISTORY", "640100")]
    # a second review (the material came in) stays in the stage and records the new result
    rep = wh.apply([row(p, "ARCHIVE_REVIEWED", D0 + timedelta(days=3), result="PASS")])
    assert rep.accepted == 1 and wh.stage(p) == "ARCHIVE_REVIEWED"
    assert wh.one("SELECT archive_result FROM entry_status WHERE entry_id = ?", [p.entry_id]) == "PASS"


def test_confirmer_person_for_residents_and_110_without_employer(wh):
    a = wh.person(itype=170)
    b = wh.person(employer=False)
    rows = path_rows(a, "CONFIRMED", CONFIRMED={"confirmer": "PERSON"})
    rows += path_rows(b, "CONFIRMED", CONFIRMED={"confirmer": "PERSON"})
    rep = wh.apply(rows)
    assert rep.refused == 0, rep.lines()
    assert wh.stage(a) == wh.stage(b) == "CONFIRMED"


def test_confirmation_implies_receipt(wh):
    p = wh.person()
    rows = path_rows(p, "CONCLUSION_ISSUED") + [row(p, "CONFIRMED", D0 + timedelta(days=9), confirmer="EMPLOYER")]
    assert wh.apply(rows).refused == 0
    assert wh.q("SELECT result_received_on, confirmed_on FROM entry_status WHERE entry_id = ?", [p.entry_id]) == [
        (D0 + timedelta(days=9), D0 + timedelta(days=9))
    ]
    # the one notice is the RESULT of the conclusion's issue; confirming adds none
    assert wh.q("SELECT kind, count(*) FROM notice_log WHERE id_no = ? GROUP BY kind", [p.id_no]) == [("RESULT", 1)]


# ------------------------------------------------------------------------------------ objections


def test_objection_incomplete_then_complete_then_upheld_keeps_old_values(wh):
    p = wh.person()
    rows = path_rows(p, "RESULT_RECEIVED", CONCLUSION_ISSUED={"counted_months": 170})
    d = D0 + timedelta(days=6)
    rows += [
        row(p, "OBJECTION_FILED", d, items="EVIDENCE;WORK_HISTORY;EVIDENCE"),
        row(p, "CONFIRMED", d, confirmer="EMPLOYER"),  # OBJECTION_PENDING
        row(p, "OBJECTION_RESOLVED", d, result="UPHELD", counted_months=190),  # NO_ACCEPTED_OBJECTION
        row(p, "OBJECTION_FILED", d + timedelta(days=1), items="EVIDENCE;MILITARY_SERVICE"),  # NEW_MISSING_ITEMS
        row(p, "OBJECTION_FILED", d + timedelta(days=2), items="EVIDENCE"),  # still one missing
        row(p, "OBJECTION_FILED", d + timedelta(days=3)),  # complete: accepted
        row(p, "OBJECTION_FILED", d + timedelta(days=3)),  # same row again in the file: a new one, OBJECTION_PENDING
        row(p, "OBJECTION_FILED", d + timedelta(days=4), note="second"),  # OBJECTION_PENDING
        row(
            p,
            "OBJECTION_RESOLVED",
            d + timedelta(days=5),
            result="UPHELD",
            counted_months=190,
            archive_conclusion="PASS",
            reason="补充材料核实",
        ),
    ]
    rep = wh.apply(rows)
    assert wh.statuses("fb01.csv")[5:] == [
        ("APPLIED", None),
        ("REFUSED", "OBJECTION_PENDING"),
        ("REFUSED", "NO_ACCEPTED_OBJECTION"),
        ("REFUSED", "NEW_MISSING_ITEMS"),
        ("APPLIED", None),
        ("APPLIED", None),
        ("REFUSED", "OBJECTION_PENDING"),  # (an identical row of the same file is no re-send: docs/decisions.md)
        ("REFUSED", "OBJECTION_PENDING"),
        ("APPLIED", None),
    ], rep.lines()
    o = wh.q(
        "SELECT status, missing_items, missing_notice, accepted_on, resolved_on, new_conclusion_version, "
        "timeliness, deadline FROM objections WHERE entry_id = ?",
        [p.entry_id],
    )
    assert o == [
        (
            "UPHELD",
            None,
            "您提交的退休预服务结果异议申诉材料不齐，请一次性补充以下全部材料：相关佐证材料、工作经历材料。",
            d + timedelta(days=3),
            d + timedelta(days=5),
            2,
            "ON_TIME",
            date(2026, 11, 27),
        )
    ]
    c = wh.q(
        "SELECT version, counted_months, superseded_on, superseded_reason, received_on FROM conclusions "
        "WHERE entry_id = ? ORDER BY version",
        [p.entry_id],
    )
    assert c == [(1, 170, d + timedelta(days=5), "objection 1 upheld", date(2026, 11, 6)), (2, 190, None, None, None)]
    assert wh.stage(p) == "CONCLUDED"
    assert wh.q(
        "SELECT counted_months, conclusion_version, objection_open, deadline_status FROM entry_status "
        "WHERE entry_id = ?",
        [p.entry_id],
    ) == [(190, 2, False, "NOT_RECEIVED")]
    # the corrected result is received and confirmed
    rep = wh.apply(
        [
            row(p, "RESULT_RECEIVED", d + timedelta(days=6)),
            row(p, "CONFIRMED", d + timedelta(days=7), confirmer="EMPLOYER"),
        ]
    )
    assert rep.refused == 0 and wh.stage(p) == "CONFIRMED"


def test_a_conclusion_corrected_in_a_later_month_is_told_again(wh):
    """rules.md §5 RESULT when a conclusion is issued: an upheld objection issues a corrected
    conclusion, told by a RESULT of its own month (one per person, kind and reference month)."""
    p = wh.person()
    wh.apply(path_rows(p, "RESULT_RECEIVED"))  # v1 issued 2026-11-05
    d = date(2026, 12, 2)
    wh.apply(
        [
            row(p, "OBJECTION_FILED", date(2026, 11, 20)),
            row(p, "OBJECTION_RESOLVED", d, result="UPHELD", counted_months=190),
        ]
    )
    n = wh.q("SELECT kind, reference_mi FROM notice_log WHERE id_no = ? ORDER BY reference_mi", [p.id_no])
    assert n == [("RESULT", P), ("RESULT", P + 1)]


def test_objection_rejected_records_reason_basis_remedy(wh):
    p = wh.person()
    rows = path_rows(p, "RESULT_RECEIVED")
    d = D0 + timedelta(days=6)
    rows += [
        row(p, "OBJECTION_FILED", d),
        row(p, "OBJECTION_RESOLVED", d + timedelta(days=1), result="REJECTED", reason="r", basis="b"),
        row(p, "OBJECTION_RESOLVED", d + timedelta(days=1), result="REJECTED", reason="r", basis="b", remedy="m"),
        row(p, "CONFIRMED", d + timedelta(days=2), confirmer="EMPLOYER"),
    ]
    wh.apply(rows)
    assert [s for s, _ in wh.statuses("fb01.csv")[5:]] == ["APPLIED", "REFUSED", "APPLIED", "APPLIED"]
    assert wh.statuses("fb01.csv")[6][1] == "MALFORMED"
    assert wh.q("SELECT status, reason, basis, remedy FROM objections WHERE entry_id = ?", [p.entry_id]) == [
        ("REJECTED", "r", "b", "m")
    ]
    assert wh.q("SELECT count(*) FROM conclusions WHERE entry_id = ?", [p.entry_id]) == [(1,)]
    assert wh.stage(p) == "CONFIRMED"


def test_objection_in_time_after_confirmation_suspends_it(wh):
    p = wh.person()
    rows = path_rows(p, "CONFIRMED") + [row(p, "OBJECTION_FILED", D0 + timedelta(days=8))]
    assert wh.apply(rows).refused == 0
    assert wh.stage(p) == "CONCLUDED"
    assert wh.q("SELECT confirmed_on, objection_open FROM entry_status WHERE entry_id = ?", [p.entry_id]) == [
        (None, True)
    ]


# ------------------------------------------------------------------------------------ deadlines


@pytest.mark.parametrize(
    "received, expected",
    [
        ("2026-09-30", "2026-10-27"),  # National Day
        ("2026-02-13", "2026-03-12"),  # Spring Festival, adjusted working Saturdays 02-14 and 02-28
        ("2025-12-25", "2026-01-16"),  # year end; Sunday 2026-01-04 is a working day
        ("2026-04-24", "2026-05-19"),  # Labour Day, Saturday 05-09 worked
    ],
)
def test_objection_deadline_vectors(received, expected):
    d, _ = objection_deadline(date.fromisoformat(received), load_settings())
    assert d == date.fromisoformat(expected)


def test_objection_deadline_unknown_year_is_not_guessed():
    d, msgs = objection_deadline(date(2026, 12, 15), load_settings())
    assert d is None
    assert any("2027" in m and "not known" in m for m in msgs)


def test_late_objection_across_national_day(wh):
    sep = mi(2026, 9)
    a = wh.person(opened=sep)
    b = wh.person(opened=sep)
    d0 = date(2026, 9, 26)
    rows = path_rows(a, "CONCLUSION_ISSUED", d0) + path_rows(b, "CONCLUSION_ISSUED", d0)
    rows += [
        row(a, "RESULT_RECEIVED", date(2026, 9, 30)),
        row(b, "RESULT_RECEIVED", date(2026, 9, 30)),
        row(a, "OBJECTION_FILED", date(2026, 10, 27)),  # the last day: on time
        row(b, "OBJECTION_FILED", date(2026, 10, 28)),
    ]  # one day late
    rep = wh.apply(rows)
    assert rep.files[0].reasons == {"LATE_OBJECTION": 1}
    assert wh.q("SELECT entry_id, status, deadline FROM objections") == [(a.entry_id, "ACCEPTED", date(2026, 10, 27))]
    reason = wh.one("SELECT reason FROM feedback_rows WHERE reason_code = 'LATE_OBJECTION'")
    assert "2026-10-27" in reason


def test_unknown_calendar_year_keeps_deadline_open_and_never_refuses(wh, tmp_path, monkeypatch):
    p = wh.person(opened=mi(2026, 12))
    rows = path_rows(p, "CONCLUSION_ISSUED", date(2026, 12, 1))
    rows += [row(p, "RESULT_RECEIVED", date(2026, 12, 15))]
    rep = wh.apply(rows)
    assert rep.refused == 0
    assert any("2027" in w for w in rep.warnings)
    assert wh.q("SELECT objection_deadline, deadline_status FROM conclusions WHERE entry_id = ?", [p.entry_id]) == [
        (None, "CALENDAR_UNKNOWN")
    ]
    # the RESULT notice (sent when the conclusion was issued) states the period, never a guessed date
    assert wh.one("SELECT count(*) FROM notice_log WHERE id_no = ? AND kind = 'RESULT'", [p.id_no]) == 1
    # an objection filed long after: accepted as on time (a right is never lost to a missing calendar)
    rep = wh.apply([row(p, "OBJECTION_FILED", date(2027, 3, 1))])
    assert rep.refused == 0
    assert wh.q("SELECT status, timeliness, deadline FROM objections") == [("ACCEPTED", "DEADLINE_UNKNOWN", None)]
    # the State Council's 2027 arrangement is entered: the deadline is filled in (no second notice)
    cal = tmp_path / "overrides.csv"
    cal.write_text("date,kind,scope,name\n" + calendar.text_2027(), encoding="utf-8")
    from pipelines import workdays

    monkeypatch.setattr(workdays, "OVERRIDES_FILE", cal)
    rep = wh.apply([])
    assert wh.q("SELECT objection_deadline, deadline_status FROM conclusions WHERE entry_id = ?", [p.entry_id]) == [
        (date(2027, 1, 6), "SET")
    ]
    assert rep.notices == 0
    assert wh.one("SELECT count(*) FROM notice_log WHERE id_no = ? AND kind = 'RESULT'", [p.id_no]) == 1


# ------------------------------------------------------------------------------------ refusals


def _refusal_cases():
    """(name, setup(wh) -> (person, rows before), the refused row, expected reason code)."""
    d9 = D0 + timedelta(days=9)

    def base(**kw):
        return lambda w: (w.person(**kw), lambda p: [])

    def upto(ev, **kw):
        return lambda w: (w.person(**kw), lambda p: path_rows(p, ev))

    return [
        ("unknown event", base(), lambda p: row(p, "FINISHED", d9), "UNKNOWN_EVENT"),
        ("bad date", base(), lambda p: row(p, "RETIRED", D0) | {"event_date": "2026-02-30"}, "MALFORMED"),
        ("date format", base(), lambda p: row(p, "RETIRED", D0) | {"event_date": "11/02/2026"}, "MALFORMED"),
        ("date, two-digit year", base(), lambda p: row(p, "RETIRED", D0) | {"event_date": "26/11/2"}, "MALFORMED"),
        ("date typo years ahead", base(), lambda p: row(p, "RETIRED", D0) | {"event_date": "2999-01-01"}, "MALFORMED"),
        ("not an office", base(), lambda p: row(p, "RETIRED", D0) | {"office_code": "123456"}, "MALFORMED"),
        (
            "bad id",
            base(),
            lambda p: row(p, "RETIRED", D0) | {"id_no": p.id_no[:-1] + ("0" if p.id_no[-1] != "0" else "1")},
            "MALFORMED",
        ),
        ("bad office", base(), lambda p: row(p, "RETIRED", D0) | {"office_code": "64A104"}, "MALFORMED"),
        ("missing result", base(), lambda p: row(p, "ARCHIVE_REVIEWED", D0), "MALFORMED"),
        ("fail without items", base(), lambda p: row(p, "ARCHIVE_REVIEWED", D0, result="FAIL"), "MALFORMED"),
        ("unknown item", base(), lambda p: row(p, "ARCHIVE_REVIEWED", D0, result="FAIL", items="HOBBIES"), "MALFORMED"),
        (
            "months not a number",
            upto("ARCHIVE_REVIEWED"),
            lambda p: row(p, "YEARS_CONFIRMED", d9, months="12.5"),
            "MALFORMED",
        ),
        (
            "conclusion without base data",
            upto("RELATIONS_MERGED"),
            lambda p: row(
                p, "CONCLUSION_ISSUED", d9, counted_months=200, merge_status="MERGED", archive_conclusion="PASS"
            ),
            "MALFORMED",
        ),
        (
            "upheld without data",
            upto("RESULT_RECEIVED"),
            lambda p: row(p, "OBJECTION_RESOLVED", d9, result="UPHELD"),
            "MALFORMED",
        ),
        ("elected month format", base(), lambda p: row(p, "ELECTED_MONTH", D0, elected_month="202702"), "MALFORMED"),
        (
            "unknown person",
            lambda w: (w.person(), lambda p: []),
            lambda p: row(p, "RETIRED", D0) | {"id_no": make_id(birth="19500101", seq=77)},
            "UNKNOWN_PERSON",
        ),
        # the file is bound to 640104 (--office): a row naming another office is refused as such …
        (
            "row of another office",
            base(),
            lambda p: row(p, "ARCHIVE_REVIEWED", D0, result="PASS") | {"office_code": "640105"},
            "WRONG_OFFICE",
        ),
        # … and a row of 640104 about a person of another office as if the ID number had no entry (issue 14)
        (
            "person of another office",
            base(office="640105"),
            lambda p: row(p, "ARCHIVE_REVIEWED", D0, result="PASS") | {"office_code": "640104"},
            "UNKNOWN_PERSON",
        ),
        (
            "closed entry",
            base(),
            lambda p: row(p, "ARCHIVE_REVIEWED", D0 + timedelta(days=40), result="PASS"),
            "ENTRY_CLOSED",
        ),
        (
            "confirmed before a conclusion",
            upto("RELATIONS_MERGED"),
            lambda p: row(p, "CONFIRMED", d9, confirmer="EMPLOYER"),
            "IMPOSSIBLE_TRANSITION",
        ),
        (
            "years before the archive review",
            base(),
            lambda p: row(p, "YEARS_CONFIRMED", D0, months=200),
            "IMPOSSIBLE_TRANSITION",
        ),
        (
            "conclusion skipping relations",
            upto("YEARS_CONFIRMED"),
            lambda p: row(
                p,
                "CONCLUSION_ISSUED",
                d9,
                counted_months=200,
                merge_status="MERGED",
                archive_conclusion="PASS",
                base_data="x",
            ),
            "IMPOSSIBLE_TRANSITION",
        ),
        (
            "archive review going back",
            upto("YEARS_CONFIRMED"),
            lambda p: row(p, "ARCHIVE_REVIEWED", d9, result="PASS"),
            "IMPOSSIBLE_TRANSITION",
        ),
        (
            "result before a conclusion",
            upto("RELATIONS_MERGED"),
            lambda p: row(p, "RESULT_RECEIVED", d9),
            "IMPOSSIBLE_TRANSITION",
        ),
        (
            "objection before a conclusion",
            upto("RELATIONS_MERGED"),
            lambda p: row(p, "OBJECTION_FILED", d9),
            "IMPOSSIBLE_TRANSITION",
        ),
        (
            "date before the last stage change",
            upto("RELATIONS_MERGED"),
            lambda p: row(
                p,
                "CONCLUSION_ISSUED",
                D0,
                counted_months=200,
                merge_status="MERGED",
                archive_conclusion="PASS",
                base_data="x",
            ),
            "DATE_OUT_OF_ORDER",
        ),
        (
            "date before the entry opened",
            base(),
            lambda p: row(p, "ARCHIVE_REVIEWED", date(2026, 10, 31), result="PASS"),
            "DATE_OUT_OF_ORDER",
        ),
        (
            "received before issued",
            upto("CONCLUSION_ISSUED"),
            lambda p: row(p, "RESULT_RECEIVED", D0),
            "DATE_OUT_OF_ORDER",
        ),
        (
            "unknown officer",
            base(),
            lambda p: row(p, "OFFICER_ASSIGNED", D0, officer_id="640105-01"),
            "UNKNOWN_OFFICER",
        ),
        (
            "person confirms for an employee",
            upto("RESULT_RECEIVED"),
            lambda p: row(p, "CONFIRMED", d9, confirmer="PERSON"),
            "WRONG_CONFIRMER",
        ),
        (
            "employer confirms for a resident",
            upto("RESULT_RECEIVED", itype=170),
            lambda p: row(p, "CONFIRMED", d9, confirmer="EMPLOYER"),
            "WRONG_CONFIRMER",
        ),
        (
            "employer confirms without employer",
            upto("RESULT_RECEIVED", employer=False),
            lambda p: row(p, "CONFIRMED", d9, confirmer="EMPLOYER"),
            "WRONG_CONFIRMER",
        ),
        (
            "received twice, other day",
            upto("RESULT_RECEIVED"),
            lambda p: row(p, "RESULT_RECEIVED", d9),
            "CONFLICTING_RECORD",
        ),
        (
            "late objection",
            upto("RESULT_RECEIVED"),
            lambda p: row(p, "OBJECTION_FILED", date(2026, 11, 30)),
            "LATE_OBJECTION",
        ),
        (
            "objection pending",
            lambda w: (w.person(), lambda p: path_rows(p, "RESULT_RECEIVED") + [row(p, "OBJECTION_FILED", d9)]),
            lambda p: row(p, "CONFIRMED", d9, confirmer="EMPLOYER"),
            "OBJECTION_PENDING",
        ),
        (
            "supplement asks for new items",
            lambda w: (
                w.person(),
                lambda p: path_rows(p, "RESULT_RECEIVED") + [row(p, "OBJECTION_FILED", d9, items="EVIDENCE")],
            ),
            lambda p: row(p, "OBJECTION_FILED", d9, items="ID_DOCUMENT"),
            "NEW_MISSING_ITEMS",
        ),
        (
            "resolve without objection",
            upto("RESULT_RECEIVED"),
            lambda p: row(p, "OBJECTION_RESOLVED", d9, result="REJECTED", reason="r", basis="b", remedy="m"),
            "NO_ACCEPTED_OBJECTION",
        ),
        (
            "elected month for a resident",
            base(itype=170),
            lambda p: row(p, "ELECTED_MONTH", D0, elected_month="2027-02"),
            "ELECTION_NOT_ALLOWED",
        ),
        (
            "elected before the window",
            base(S=P + 6, flex=(P + 2, P + 42)),
            lambda p: row(p, "ELECTED_MONTH", D0, elected_month="2026-12"),
            "OUTSIDE_FLEXIBLE_WINDOW",
        ),
        (
            "elected after the window",
            base(S=P + 6, flex=(P + 2, P + 42)),
            lambda p: row(p, "ELECTED_MONTH", D0, elected_month="2030-06"),
            "OUTSIDE_FLEXIBLE_WINDOW",
        ),
        (
            "elected month already past",
            base(S=P, flex=(P - 36, P + 36)),
            lambda p: row(p, "ELECTED_MONTH", D0, elected_month="2026-10"),
            "ELECTED_MONTH_PAST",
        ),
        # rules.md §1: early retirement needs the minimum months by then (179 < 180, not contributing)
        (
            "early without the minimum months",
            base(S=P + 6, counted=179),
            lambda p: row(p, "ELECTED_MONTH", D0, elected_month="2027-01"),
            "EARLY_MONTHS_SHORT",
        ),
    ]


CASES = _refusal_cases()


@pytest.fixture(scope="module")
def refusals(tmp_path_factory):
    """Every case in one warehouse: the set-up rows in one file, then all refused rows in one file."""
    w = Wh(tmp_path_factory.mktemp("refusals"))
    people, pre = {}, []
    for name, setup, _, _ in CASES:
        p, before = setup(w)
        people[name] = p
        pre += before(p)
    with w.raw() as con:
        con.execute(
            "UPDATE ledger_entries SET closed_mi = ?, close_reason = 'DECEASED', stage = 'DECEASED' WHERE entry_id = ?",
            [P, people["closed entry"].entry_id],
        )
    rep = w.apply(pre)
    assert rep.refused == 0, rep.lines()
    tables = ("ledger_entries", "ledger_transitions", "conclusions", "objections", "notices", "feedback_events")
    before = [w.q(f"SELECT * FROM {t} ORDER BY ALL") for t in tables]
    rep = apply_feedback_files(
        [w.write([refused(people[name]) for name, _, refused, _ in CASES])], w.path, w.settings, office="640104"
    )
    after = [w.q(f"SELECT * FROM {t} ORDER BY ALL") for t in tables]
    rows = w.q(
        "SELECT row_no, status, reason_code, reason FROM feedback_rows WHERE file_name = ? ORDER BY row_no",
        [rep.files[0].file],
    )
    return {
        "report": rep,
        "unchanged": before == after,
        "people": people,
        "rows": {name: r for (name, *_), r in zip(CASES, rows)},
    }


@pytest.mark.parametrize("name, code", [(c[0], c[3]) for c in CASES], ids=[c[0] for c in CASES])
def test_every_refusal_reason(refusals, name, code):
    _, status, got, reason = refusals["rows"][name]
    assert (status, got) == ("REFUSED", code), reason
    p = refusals["people"][name]
    assert reason and p.id_no not in reason and p.id_no[:17] not in reason and "测试" not in reason


def test_another_offices_person_is_refused_as_an_unknown_one(refusals):
    """issue 14: the refusal must not reveal whether the ID number has an entry at another office."""
    unknown, other = refusals["rows"]["unknown person"], refusals["rows"]["person of another office"]
    assert unknown[1:] == other[1:] == ("REFUSED", "UNKNOWN_PERSON", feedback.REASONS["UNKNOWN_PERSON"])


def test_refused_rows_change_nothing_and_are_counted(refusals):
    f = refusals["report"].files[0]
    assert (f.rows, f.accepted, f.refused) == (len(CASES), 0, len(CASES))
    assert refusals["unchanged"]


def test_every_reason_code_is_tested():
    assert {c[3] for c in CASES} == set(feedback.REASONS)


def test_refused_stage_event_changes_nothing(wh):
    p = wh.person()
    before = wh.q("SELECT * FROM ledger_entries")
    wh.apply([row(p, "CONFIRMED", D0, confirmer="EMPLOYER")])
    assert wh.q("SELECT * FROM ledger_entries") == before
    assert wh.one("SELECT count(*) FROM ledger_transitions") == 0


def test_last_stage_change_of_earlier_rows_and_files_is_seen(wh):
    """DATE_OUT_OF_ORDER compares with the entry's last stage change, whether an earlier row of the
    same file made it or an earlier file (the file's last changes are read once, then kept current)."""
    p, q = wh.person(), wh.person()
    d = D0 + timedelta(days=5)
    rep = wh.apply(
        [
            row(p, "ARCHIVE_REVIEWED", d, result="PASS"),
            row(p, "YEARS_CONFIRMED", d - timedelta(days=1), months=300),  # before the row above
            row(p, "YEARS_CONFIRMED", d, months=300),  # the same day: fine
            row(q, "ARCHIVE_REVIEWED", d, result="PASS"),
        ]
    )
    rows = wh.q("SELECT row_no, status, reason_code FROM feedback_rows ORDER BY row_no")
    assert rows == [
        (1, "APPLIED", None),
        (2, "REFUSED", "DATE_OUT_OF_ORDER"),
        (3, "APPLIED", None),
        (4, "APPLIED", None),
    ], rep.lines()
    rep = wh.apply(
        [
            row(q, "YEARS_CONFIRMED", d - timedelta(days=2), months=300),
            row(p, "RELATIONS_MERGED", d + timedelta(days=1), merge_status="MERGED"),
        ]
    )
    assert [f.reasons for f in rep.files] == [{"DATE_OUT_OF_ORDER": 1}]
    assert wh.q("SELECT stage FROM ledger_entries ORDER BY id_no = ?", [p.id_no]) == [
        ("ARCHIVE_REVIEWED",),
        ("RELATIONS_MERGED",),
    ]


# ------------------------------------------------------------------------------------ accounting


def test_accounting_and_idempotent_reapplication(wh):
    a = wh.person()
    b = wh.person(office="640202")
    rows = path_rows(a, "RESULT_RECEIVED")
    rows += [
        row(b, "ARCHIVE_REVIEWED", D0, result="PASS") | {"office_code": "640104"},  # another office's person
        {"office_code": "640104", "event": "RETIRED"},  # malformed
        row(a, "CONFIRMED", D0 + timedelta(days=8), confirmer="PERSON"),
    ]  # wrong confirmer
    f = wh.write(rows)
    rep = apply_feedback_files([f], wh.path, wh.settings)
    out = rep.files[0]
    assert (out.rows, out.accepted, out.refused) == (8, 5, 3)
    assert out.reasons == {"UNKNOWN_PERSON": 1, "MALFORMED": 1, "WRONG_CONFIRMER": 1}
    assert wh.q("SELECT status, rows, accepted, refused FROM feedback_files") == [("APPLIED", 8, 5, 3)]
    assert wh.one("SELECT count(*) FROM feedback_rows WHERE status = 'REFUSED' AND reason_code IS NULL") == 0

    def snapshot():
        return [
            wh.q(f"SELECT * FROM {t} ORDER BY ALL")
            for t in (
                "ledger_entries",
                "ledger_transitions",
                "conclusions",
                "notices",
                "feedback_events",
                "objections",
                "feedback_rows",
            )
        ]

    before = snapshot()
    rep2 = apply_feedback_files([f], wh.path, wh.settings)
    assert rep2.files[0].status == "ALREADY_APPLIED" and rep2.files[0].rows == 8
    assert snapshot() == before
    # the county sends the file again with one row more: the old rows are recognised
    f3 = wh.write(rows + [row(a, "CONFIRMED", D0 + timedelta(days=8), confirmer="EMPLOYER")])
    rep3 = apply_feedback_files([f3], wh.path, wh.settings)
    o = rep3.files[0]
    assert (o.rows, o.accepted, o.already_applied, o.refused) == (9, 6, 5, 3)
    assert wh.stage(a) == "CONFIRMED"
    assert wh.one("SELECT count(*) FROM ledger_transitions WHERE entry_id = ?", [a.entry_id]) == 5
    assert wh.one("SELECT count(*) FROM notice_log") == 1


def test_file_level_refusals_and_formats(wh):
    p = wh.person()
    good = wh.write([row(p, "ARCHIVE_REVIEWED", D0, result="PASS")], bom=True)
    unknown_col = wh.tmp / "bad1.csv"
    unknown_col.write_text("office_code,event,id_no,event_date,elected_mnth\n", encoding="utf-8")
    missing_col = wh.tmp / "bad2.csv"
    missing_col.write_text("office_code,event,event_date\n", encoding="utf-8")
    gbk = wh.tmp / "bad3.csv"  # UTF-16 ("Unicode text"): neither UTF-8 nor GB18030 (issue 16 reads GB18030)
    gbk.write_bytes("office_code,event,id_no,event_date,note\n640104,RETIRED,x,2026-11-02,备注\n".encode("utf-16"))
    with pytest.raises(FeedbackFileRefused) as exc:
        apply_feedback_files([unknown_col, good, missing_col, gbk], wh.path, wh.settings)
    rep = exc.value.report
    assert [f.status for f in rep.files] == ["REFUSED", "APPLIED", "REFUSED", "REFUSED"]
    assert wh.stage(p) == "ARCHIVE_REVIEWED"  # the good file (with BOM) was applied
    assert sorted(r[0] for r in wh.q("SELECT reason_code FROM feedback_files WHERE status = 'REFUSED'")) == [
        "BAD_HEADER",
        "BAD_HEADER",
        "ENCODING",
    ]
    assert "elected_mnth" in str(exc.value)


def test_minimal_columns_blank_lines_and_extra_cells(wh):
    p = wh.person()
    text = (
        "\ufeffOffice_Code , EVENT,id_no,event_date,result\r\n"
        f"640104,archive_reviewed,{p.id_no.lower()},2026-11-02,pass\r\n"
        "\r\n"
        f"640104,RETIRED,{p.id_no},2026-11-05,,extra\r\n"
    )
    f = wh.tmp / "min.csv"
    f.write_text(text, encoding="utf-8")
    rep = apply_feedback_files([f], wh.path, wh.settings)
    assert (rep.rows, rep.accepted, rep.refused) == (2, 1, 1)
    assert wh.q("SELECT row_no, status, reason_code FROM feedback_rows ORDER BY row_no") == [
        (1, "APPLIED", None),
        (3, "REFUSED", "MALFORMED"),
    ]


def test_one_transaction_per_file(wh, monkeypatch):
    p = wh.person()
    rows = path_rows(p, "RESULT_RECEIVED")

    def boom(*a, **k):
        raise RuntimeError("notice stage failed")

    monkeypatch.setattr("pipelines.notify.issue_notices", boom)
    with pytest.raises(RuntimeError):
        wh.apply(rows)
    assert wh.stage(p) == "NOTIFIED"
    for t in ("ledger_transitions", "conclusions", "feedback_rows", "feedback_files", "feedback_events"):
        assert wh.one(f"SELECT count(*) FROM {t}") == 0, t
    monkeypatch.undo()
    rep = apply_feedback_files([wh.tmp / "fb01.csv"], wh.path, wh.settings)
    assert rep.files[0].status == "APPLIED" and wh.stage(p) == "CONCLUDED"


def test_early_election_counts_the_months_until_then(wh):
    """rules.md §1 "early retirement also needs the minimum contribution months … to be met by then":
    180 met at the elected month (counted now + months still contributing) is enough; a month at or
    after S needs no such check (§6 decides then)."""
    short = wh.person(S=P + 6, counted=178)
    with wh.raw() as con:  # contributing: the screening projects to S (178 + 6)
        con.execute("UPDATE screen_results SET projected_months = 184 WHERE id_no = ?", [short.id_no])
    late = wh.person(S=P + 6, counted=100)
    wh.apply(
        [
            row(short, "ELECTED_MONTH", D0, elected_month="2026-12"),  # 178 + 1 = 179 < 180
            row(short, "ELECTED_MONTH", D0, elected_month="2027-01"),  # 178 + 2 = 180
            row(late, "ELECTED_MONTH", D0, elected_month="2027-05"),
        ]
    )  # S itself
    assert [c for _, c in wh.statuses(wh.last_file())] == ["EARLY_MONTHS_SHORT", None, None]
    assert wh.one("SELECT elected_retirement_mi FROM ledger_entries WHERE entry_id = ?", [short.entry_id]) == P + 2


def test_early_election_counts_from_the_conclusion_when_it_is_used(wh):
    """The conclusion's months (170, issued 2026-11) plus the months from then to the elected month
    2027-09 (10) make 180: allowed, though the latest screening (2027-02, 173) is later."""
    p = wh.person(S=mi(2027, 10), counted=173, screen_month=mi(2027, 2))
    with wh.raw() as con:  # contributing: projected to S
        con.execute("UPDATE screen_results SET projected_months = 181 WHERE id_no = ?", [p.id_no])
    rows = path_rows(p, "CONCLUSION_ISSUED", CONCLUSION_ISSUED={"counted_months": 170})
    rows += [row(p, "ELECTED_MONTH", date(2027, 2, 10), elected_month="2027-09")]
    rep = wh.apply(rows)
    assert rep.refused == 0, rep.lines()
    assert wh.one("SELECT elected_retirement_mi FROM ledger_entries WHERE entry_id = ?", [p.entry_id]) == mi(2027, 9)


def test_a_conclusion_never_told_is_told_at_receipt(wh):
    """A conclusion issued when RESULT still went out at receipt (an older version) has no RESULT
    notice: its receipt issues it, once."""
    p = wh.person()
    wh.apply(path_rows(p, "CONCLUSION_ISSUED"))
    with wh.raw() as con:
        con.execute("DELETE FROM notice_log WHERE id_no = ?", [p.id_no])  # as the older version left it
    wh.apply([row(p, "RESULT_RECEIVED", D0 + timedelta(days=6))])
    wh.apply([row(p, "RESULT_RECEIVED", D0 + timedelta(days=6))])  # again: already recorded
    assert wh.q("SELECT kind, reference_mi FROM notice_log WHERE id_no = ?", [p.id_no]) == [("RESULT", P)]


def test_feedback_during_a_month_run_goes_to_the_next_batch(wh):
    """While P's run is under way (an Airflow run writes office files outside the writers' pool), a
    RESULT goes to P+1's batch: P's files may be written already."""
    p = wh.person()
    with wh.raw() as con:
        con.execute("INSERT INTO month_runs VALUES (?, 'run', 1, false, now(), NULL, 'RUNNING')", [P])
    wh.apply(path_rows(p, "CONCLUSION_ISSUED"))
    assert wh.q("SELECT kind, reference_mi, issued_mi FROM notice_log WHERE id_no = ?", [p.id_no]) == [
        ("RESULT", P, P + 1)
    ]


def test_elected_month_window_bounds_and_source(wh):
    p = wh.person(S=P + 6, flex=(P + 2, P + 42))
    rep = wh.apply(
        [
            row(p, "ELECTED_MONTH", D0, elected_month="2027-01"),
            row(p, "ELECTED_MONTH", D0 + timedelta(days=1), elected_month="2030-05"),
        ]
    )
    assert rep.refused == 0
    assert wh.one("SELECT elected_retirement_mi FROM ledger_entries WHERE entry_id = ?", [p.entry_id]) == P + 42
    # the window of the latest screening is used
    with wh.raw() as con:
        con.execute("UPDATE screen_results SET flexible_latest_mi = ? WHERE id_no = ?", [P + 30, p.id_no])
    rep = wh.apply([row(p, "ELECTED_MONTH", D0 + timedelta(days=2), elected_month="2030-05")])
    assert rep.files[0].reasons == {"OUTSIDE_FLEXIBLE_WINDOW": 1}


def test_source_names_are_safe(wh):
    p = wh.person()
    f = wh.write([row(p, "ARCHIVE_REVIEWED", D0, result="PASS")], name="it's a file.csv")
    apply_feedback_files([f], wh.path, wh.settings)
    assert wh.one("SELECT source FROM ledger_transitions") == "feedback:it_s_a_file.csv#1"


def test_views_for_worklists_and_office_progress(wh):
    a = wh.person()
    b = wh.person()
    rows = path_rows(a, "RESULT_RECEIVED") + [row(a, "OBJECTION_FILED", D0 + timedelta(days=6), items="EVIDENCE")]
    rows += [row(b, "ARCHIVE_REVIEWED", D0, result="PASS")]
    assert wh.apply(rows).refused == 0
    assert wh.q("SELECT entry_id, office_code, status, missing_items FROM objections_open") == [
        (a.entry_id, "640104", "INCOMPLETE", "EVIDENCE")
    ]
    assert wh.q("SELECT entry_id, objection_open, objection_missing_items FROM entry_status ORDER BY entry_id") == [
        (a.entry_id, True, "EVIDENCE"),
        (b.entry_id, False, None),
    ]
    # due dates: CONCLUDED 20 days after 2026-11-05, ARCHIVE_REVIEWED 30 days after 2026-11-02
    assert wh.q("SELECT entry_id, stage, due_date FROM entries_overdue(DATE '2026-11-30')") == [
        (a.entry_id, "CONCLUDED", date(2026, 11, 25))
    ]
    assert len(wh.q("SELECT * FROM entries_overdue('2026-12-31')")) == 2
    assert wh.q("SELECT entry_id, objection_deadline FROM objection_windows_open(DATE '2026-11-27')") == [
        (a.entry_id, date(2026, 11, 27))
    ]
    assert wh.q("SELECT * FROM objection_windows_open(DATE '2026-11-28')") == []


# ------------------------------------------------------------------------------ reads once per file


def _x_person(wh: Wh):
    """A person whose ID number ends in X (written lower-case in the files)."""
    for _ in range(40):
        p = wh.person(S=P + 6)
        if p.id_no.endswith("X"):
            return p
    raise AssertionError("no X")


def test_feedback_facts_keyed_by_the_normalised_id_and_rows_buffered_as_before(wh):
    """Lower-case x in the file: the preloaded facts (confirmer, screening, last stage change) are
    found; a row repeated in the file is decided as a new row (docs/feedback-format.md "Applying
    twice": no identical row was applied before it), here refused; feedback_rows/feedback_events carry
    the same values, types and order as row-by-row inserts."""
    p = _x_person(wh)
    low = p.id_no.lower()
    rows = [dict(r, id_no=low) for r in path_rows(p, "RESULT_RECEIVED")]
    rows += [
        dict(rows[0]),  # repeated in the file: a new row, not possible in CONCLUDED
        row(p, "CONFIRMED", D0 + timedelta(days=6), confirmer="PERSON") | {"id_no": low},  # wrong party
        row(p, "ELECTED_MONTH", D0 + timedelta(days=6), elected_month="2027-06") | {"id_no": low},
        row(p, "RETIRED", D0 + timedelta(days=2)) | {"id_no": low},  # before last move
        row(p, "ELECTED_MONTH", D0 + timedelta(days=6), elected_month="2031-06") | {"id_no": low},
    ]
    rep = wh.apply(rows)
    assert rep.files[0].status == "APPLIED"
    st = wh.q(
        "SELECT row_no, status, reason_code, event, event_date, entry_id IS NOT NULL, person_key IS NOT NULL "
        "FROM feedback_rows ORDER BY row_no"
    )
    assert [s[:3] for s in st] == [
        (1, "APPLIED", None),
        (2, "APPLIED", None),
        (3, "APPLIED", None),
        (4, "APPLIED", None),
        (5, "APPLIED", None),
        (6, "REFUSED", "IMPOSSIBLE_TRANSITION"),
        (7, "REFUSED", "WRONG_CONFIRMER"),
        (8, "APPLIED", None),
        (9, "REFUSED", "DATE_OUT_OF_ORDER"),
        (10, "REFUSED", "OUTSIDE_FLEXIBLE_WINDOW"),
    ]
    assert st[6][3:5] == ("CONFIRMED", D0 + timedelta(days=6))
    assert all(s[6] for s in st) and all(s[5] for s in st)  # every row found its entry
    ev = wh.q(
        "SELECT event, event_date, months, items, counted_months, merge_status, elected_mi, source "
        "FROM feedback_events ORDER BY source"
    )
    assert [e[0] for e in ev] == [
        "ARCHIVE_REVIEWED",
        "YEARS_CONFIRMED",
        "RELATIONS_MERGED",
        "CONCLUSION_ISSUED",
        "RESULT_RECEIVED",
        "ELECTED_MONTH",
    ]
    assert ev[1][2] == 300 and ev[3][4] == 300 and ev[3][5] == "MERGED" and ev[5][6] == 2027 * 12 + 5
    assert ev[0][3] is None and ev[0][7].startswith("feedback:fb01.csv#1")
    assert wh.q("SELECT typeof(months), typeof(elected_mi) FROM feedback_events LIMIT 1") == [("INTEGER", "INTEGER")]
    assert wh.stage(p) == "CONCLUDED"


def test_two_files_in_one_command_see_each_other(wh):
    """The second file's preload reads what the first file (same command, same person) committed."""
    from pipelines.feedback import apply_feedback_files

    p = wh.person()
    d = D0 + timedelta(days=5)
    f1 = wh.write([row(p, "ARCHIVE_REVIEWED", d, result="PASS")])
    f2 = wh.write(
        [
            row(p, "YEARS_CONFIRMED", d - timedelta(days=1), months=300),
            row(p, "ARCHIVE_REVIEWED", d, result="PASS"),  # same row as file 1
            row(p, "YEARS_CONFIRMED", d, months=300),
        ]
    )
    rep = apply_feedback_files([f1, f2], wh.path, wh.settings)
    assert [f.reasons for f in rep.files] == [{}, {"DATE_OUT_OF_ORDER": 1}]
    assert rep.files[1].already_applied == 1
    assert wh.stage(p) == "YEARS_CONFIRMED"


def test_a_file_failing_midway_leaves_nothing(wh, monkeypatch):
    from pipelines import feedback

    p = wh.person()
    rows = path_rows(p, "RELATIONS_MERGED") + [row(p, "RETIRED", D0 + timedelta(days=4))]

    def boom(self, *a):
        raise RuntimeError("disk full")

    monkeypatch.setitem(feedback.HANDLERS, "RETIRED", boom)
    with pytest.raises(RuntimeError):
        wh.apply(rows)
    for t in ("ledger_transitions", "feedback_rows", "feedback_events", "feedback_files"):
        assert wh.one(f"SELECT count(*) FROM {t}") == 0, t
    assert wh.stage(p) == "NOTIFIED"
