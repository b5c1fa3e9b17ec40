"""Objections dated before a later-dated stage change, and identical rows sent again (rules.md §7;
docs/feedback-format.md "Dates", "Applying twice"; docs/decisions.md). The two findings of the
thirteenth session's probes that were pinned as open (tests/flows/test_open_findings.py)."""

from __future__ import annotations

from datetime import date

import pytest

from support.declare import confirm, declare
from support.feedback import Wh, path_rows, row
from support.feedback import P as P_MI

RECEIVED = date(2026, 11, 6)  # path_rows: conclusion 11-05, received 11-06
DEADLINE = date(2026, 11, 27)  # 15 working days after 11-06, the day itself not counted


@pytest.fixture
def wh(tmp_path):
    return Wh(tmp_path)


def _rows(wh: Wh, file_name: str) -> list[tuple]:
    return wh.q(
        "SELECT status, reason_code, reason, reason_zh FROM feedback_rows WHERE file_name = ? ORDER BY row_no",
        [file_name],
    )


def _transitions(wh: Wh, p) -> list[tuple]:
    return wh.q(
        "SELECT from_stage, to_stage, event_date FROM ledger_transitions WHERE entry_id = ? ORDER BY recorded_at",
        [p.entry_id],
    )


def _received(wh: Wh) -> object:
    p = wh.person()
    assert wh.apply(path_rows(p, "RESULT_RECEIVED")).refused == 0
    assert wh.one("SELECT objection_deadline FROM conclusions WHERE entry_id = ?", [p.entry_id]) == DEADLINE
    return p


# ------------------------------------------------------------------ 1. an objection in time, reported late


def test_an_objection_in_time_dated_before_a_later_dated_confirmation_suspends_it(wh):
    """rules.md §7 (15 working days from receipt) and the format's Events table (filed in time after
    confirmation, the objection suspends it): the employer's confirmation dated 11-28 is applied first,
    then the objection filed at the counter on 11-27, the deadline day. It is judged against the
    conclusion and its receipt and by its own date, not against the later confirmation: accepted, on
    time, and the confirmation suspended (the stage goes back on 11-28: never before it was entered)."""
    p = _received(wh)
    assert wh.apply([row(p, "CONFIRMED", date(2026, 11, 28), confirmer="EMPLOYER")]).refused == 0
    rep = wh.apply([row(p, "OBJECTION_FILED", DEADLINE)])
    assert rep.refused == 0 and rep.files[0].already_applied == 0, rep.lines()
    assert wh.stage(p) == "CONCLUDED"
    assert wh.q("SELECT confirmed_on, confirmed_by FROM conclusions WHERE entry_id = ?", [p.entry_id]) == [(None, None)]
    assert wh.q(
        "SELECT objection_no, conclusion_version, filed_on, timeliness, status FROM objections WHERE entry_id = ?",
        [p.entry_id],
    ) == [(1, 1, DEADLINE, "ON_TIME", "ACCEPTED")]
    assert _transitions(wh, p)[-2:] == [
        ("CONCLUDED", "CONFIRMED", date(2026, 11, 28)),
        ("CONFIRMED", "CONCLUDED", date(2026, 11, 28)),
    ]
    detail = wh.one(
        "SELECT detail FROM ledger_transitions WHERE entry_id = ? AND to_stage = 'CONCLUDED' "
        "ORDER BY recorded_at DESC LIMIT 1",
        [p.entry_id],
    )
    assert detail == f"objection 1 filed {DEADLINE.isoformat()}: confirmation suspended"
    assert wh.one("SELECT stage_since FROM ledger_entries WHERE entry_id = ?", [p.entry_id]) == date(2026, 11, 28)


def test_an_objection_reported_late_is_still_refused_when_late_early_superseded_or_closed(wh):
    """rules.md §7, the format's "Dates": refused as before when filed after the deadline (by its own
    date), before the conclusion's receipt, for a closed entry, and when a newer conclusion version was
    issued after its date: it concerned a version superseded since, and is not moved onto the new one."""
    late, early, closed, superseded = (_received(wh) for _ in range(4))
    confirmed = date(2026, 11, 28)
    rows = [row(x, "CONFIRMED", confirmed, confirmer="EMPLOYER") for x in (late, early, closed)]
    rows += [row(closed, "RETIRED", date(2026, 11, 29))]
    rows += [
        row(superseded, "CONFIRMED", date(2026, 11, 9), confirmer="EMPLOYER"),
        row(
            superseded,
            "CONCLUSION_ISSUED",
            date(2026, 11, 20),
            counted_months=310,
            merge_status="MERGED",
            archive_conclusion="PASS",
            base_data="base 6600",
        ),
    ]
    assert wh.apply(rows).refused == 0
    rep = wh.apply(
        [
            row(late, "OBJECTION_FILED", DEADLINE.replace(day=30)),
            row(early, "OBJECTION_FILED", date(2026, 11, 5)),  # the conclusion's day, before its receipt
            row(closed, "OBJECTION_FILED", DEADLINE),
            row(superseded, "OBJECTION_FILED", date(2026, 11, 18)),  # v1 in force then, v2 issued 11-20
            row(superseded, "OBJECTION_FILED", date(2026, 11, 20), note="v2"),  # against v2: taken
        ]
    )
    got = _rows(wh, wh.last_file())
    assert [g[:2] for g in got] == [
        ("REFUSED", "LATE_OBJECTION"),
        ("REFUSED", "DATE_OUT_OF_ORDER"),
        ("REFUSED", "ENTRY_CLOSED"),
        ("REFUSED", "DATE_OUT_OF_ORDER"),
        ("APPLIED", None),
    ], rep.lines()
    assert "2026-11-27" in got[0][3]
    assert "收到" in got[1][3]
    assert "superseded" in got[3][2] and "2026-11-20" in got[3][3] and "已被新的结论取代" in got[3][3]
    assert wh.stage(late) == wh.stage(early) == "CONFIRMED" and wh.stage(closed) == "RETIRED"
    assert wh.q("SELECT conclusion_version, timeliness FROM objections WHERE entry_id = ?", [superseded.entry_id]) == [
        (2, "NOT_RECEIVED_YET")
    ]


def test_a_supplement_dated_before_a_later_stage_change_is_taken(wh):
    """The format's Events table (OBJECTION_FILED): the supplement of an incomplete objection is dated
    against its objection, not against the stage change the objection itself made later (11-28)."""
    p = _received(wh)
    assert wh.apply([row(p, "CONFIRMED", date(2026, 11, 28), confirmer="EMPLOYER")]).refused == 0
    rows = [
        row(p, "OBJECTION_FILED", date(2026, 11, 20), items="EVIDENCE"),  # incomplete, suspends
        row(p, "OBJECTION_FILED", date(2026, 11, 24)),  # the material complete: accepted
        row(p, "OBJECTION_RESOLVED", date(2026, 11, 25), result="REJECTED", reason="r", basis="b", remedy="m"),
        row(p, "CONFIRMED", date(2026, 11, 30), confirmer="EMPLOYER"),  # confirmed again
    ]
    rep = wh.apply(rows)
    assert rep.refused == 0, rep.lines()
    assert wh.q("SELECT status, accepted_on, resolved_on FROM objections WHERE entry_id = ?", [p.entry_id]) == [
        ("REJECTED", date(2026, 11, 24), date(2026, 11, 25))
    ]
    assert wh.stage(p) == "CONFIRMED"


def test_an_objection_in_time_dated_before_the_declaration_suspends_it(wh):
    """rules.md §6, §7 and the format's Events table (OBJECTION_FILED allowed in DECLARED): ``declare``
    2026-12 moves the confirmed entry to DECLARED on 12-01; the objection filed in time on 11-27,
    reported after it, is accepted and suspends the confirmation (→ CONCLUDED on 12-01); one filed
    after the deadline is refused and the entry stays DECLARED."""
    s = P_MI + 2  # statutory month 2027-01: declared in 2026-12
    p, q = wh.person(S=s), wh.person(S=s)
    confirm(wh, [p, q])  # received 11-06, confirmed 11-07
    declare(wh)
    assert wh.stage(p) == wh.stage(q) == "DECLARED"
    rep = wh.apply([row(p, "OBJECTION_FILED", DEADLINE), row(q, "OBJECTION_FILED", date(2026, 11, 30))])
    assert [g[:2] for g in _rows(wh, wh.last_file())] == [("APPLIED", None), ("REFUSED", "LATE_OBJECTION")], rep.lines()
    assert (wh.stage(p), wh.stage(q)) == ("CONCLUDED", "DECLARED")
    assert _transitions(wh, p)[-1] == ("DECLARED", "CONCLUDED", date(2026, 12, 1))
    assert wh.one("SELECT confirmed_on FROM conclusions WHERE entry_id = ?", [p.entry_id]) is None
    assert wh.one("SELECT timeliness FROM objections WHERE entry_id = ?", [p.entry_id]) == "ON_TIME"
