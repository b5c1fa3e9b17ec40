"""A month whose run was skipped (rules.md §5: "for each person in the ledger, in month P, every kind
that is due"): the next run catches up the AGE_MINUS_3 and AGE_REACHED due in the skipped months,
with the skipped month as reference month, and says so in its log and report (docs/decisions.md
"Skipped months: reminders caught up").

Men (110) born 1965-01 … 1965-06 reach S in 2025-02, -03, -04, -05, -07, -08; all are in the
ledger from 2025-01 (scope a: the original age, 60, is at most 12 months ahead)."""

from __future__ import annotations

import logging

import pytest

from pipelines.errors import MonthRefused
from pipelines.monthly import run_month
from support.ledger import Push, run_push_month
from support.pushkit import person

JAN, FEB, MAR, APR, MAY = 24300, 24301, 24302, 24303, 24304
S_FEB, S_MAR, S_APR, S_MAY, S_JUL, S_AUG = (person(n, birth_date=f"19650{n}10") for n in range(1, 7))
WARNING = "not run (the last month run before it"


def _log(push: Push, id_no: str) -> list[tuple[str, int, int]]:
    return push.q(
        "SELECT kind, reference_mi, issued_mi FROM notice_log WHERE id_no = ? ORDER BY kind, reference_mi", [id_no]
    )


def _all(push: Push) -> list[tuple]:
    return push.q("SELECT notice_id, kind, reference_mi, issued_mi, text FROM notice_log ORDER BY notice_id")


def _report(push: Push, month: str) -> str:
    return (push.tmp / "out" / month / "report" / "index.html").read_text(encoding="utf-8")


def _sms(push: Push, month: str) -> str:
    return (push.tmp / "out" / month / "notifications" / "640104" / "sms.csv").read_text(encoding="utf-8-sig")


def test_age_reached_of_a_skipped_month_is_caught_up(tmp_path, caplog):
    """2025-01 run, 2025-02 not, 2025-03 run: S 2025-02 gets AGE_REACHED of reference month 2025-02 in
    2025-03's batch, rendered for that batch (已于2025年2月, not 本月), beside the OVERDUE rules.md §5 gives
    March (as a rerun's deferred AGE_REACHED is: docs/decisions.md)."""
    push = Push(tmp_path)
    run_push_month(push, "2025-01", [S_FEB])
    with caplog.at_level(logging.WARNING, logger="pipelines.monthly"):
        run_push_month(push, "2025-03", [S_FEB])
    assert _log(push, S_FEB["id_no"]) == [("AGE_REACHED", FEB, MAR), ("OVERDUE", MAR, MAR), ("PRE_SERVICE", JAN, JAN)]
    (text,) = push.q("SELECT text FROM notice_log WHERE kind = 'AGE_REACHED'")[0]
    assert "您已于2025年2月达到法定退休年龄" in text and "本月" not in text
    assert "AGE_REACHED-2025-02-" in _sms(push, "2025-03")  # in March's file, nowhere else
    warned = [r.getMessage() for r in caplog.records if WARNING in r.getMessage()]
    assert warned == [
        "run 2025-03: 2025-02 not run (the last month run before it: 2025-01); the reminders due then are caught "
        "up in 2025-03's batch: AGE_MINUS_3 0, AGE_REACHED 1; 0 notice(s) waiting for their batch carried into it "
        '(docs/decisions.md "Skipped months")'
    ]
    assert S_FEB["id_no"] not in warned[0]


def test_age_minus_3_of_a_skipped_month_is_caught_up_while_s_is_ahead(tmp_path):
    """S 2025-05: AGE_MINUS_3 was due in 2025-02 (skipped); March's run sends it (S still ahead)."""
    push = Push(tmp_path)
    run_push_month(push, "2025-01", [S_MAY])
    run_push_month(push, "2025-03", [S_MAY])
    assert ("AGE_MINUS_3", FEB, MAR) in _log(push, S_MAY["id_no"])
    (text,) = push.q("SELECT text FROM notice_log WHERE kind = 'AGE_MINUS_3'")[0]
    assert "您将于2025年5月达到法定退休年龄" in text


def test_a_gap_of_several_months(tmp_path, caplog):
    """2025-01, then 2025-05: AGE_REACHED of 02, 03, 04 each with its month; AGE_MINUS_3 of 04 (S 07);
    none of 02 for S 05 (reached in May: May's own AGE_REACHED says more); May's own AGE_MINUS_3 (S 08).
    The warning and the report count them by month, never naming a person."""
    push = Push(tmp_path)
    everyone = [S_FEB, S_MAR, S_APR, S_MAY, S_JUL, S_AUG]
    run_push_month(push, "2025-01", everyone)
    with caplog.at_level(logging.WARNING, logger="pipelines.monthly"):
        run_push_month(push, "2025-05", everyone)
    got = {p["id_no"]: [k for k in _log(push, p["id_no"]) if k[0] in ("AGE_MINUS_3", "AGE_REACHED")] for p in everyone}
    assert got == {
        S_FEB["id_no"]: [("AGE_REACHED", FEB, MAY)],
        S_MAR["id_no"]: [("AGE_REACHED", MAR, MAY)],
        S_APR["id_no"]: [("AGE_MINUS_3", JAN, JAN), ("AGE_REACHED", APR, MAY)],
        S_MAY["id_no"]: [("AGE_REACHED", MAY, MAY)],
        S_JUL["id_no"]: [("AGE_MINUS_3", APR, MAY)],
        S_AUG["id_no"]: [("AGE_MINUS_3", MAY, MAY)],
    }
    (warned,) = [r.getMessage() for r in caplog.records if WARNING in r.getMessage()]
    assert "2025-02, 2025-03, 2025-04 not run (the last month run before it: 2025-01)" in warned
    assert "AGE_MINUS_3 1, AGE_REACHED 3" in warned
    html = _report(push, "2025-05")
    assert 'data-warning="skipped-months"' in html and "注意：2025-02、2025-03、2025-04 未运行" in html
    assert "（上次运行为 2025-01）" in html and "共 4 条" in html
    for row in ('<td class="t">2025-02</td><td>0</td><td>1</td>', '<td class="t">2025-03</td><td>0</td><td>1</td>'):
        assert row in html
    assert '<td class="t">2025-04</td><td>1</td><td>1</td>' in html
    assert not any(p["id_no"] in html or p["name"] in html or p["phone"] in html for p in everyone)


def test_nothing_is_sent_twice_when_the_skipped_month_or_the_month_is_run_again(tmp_path):
    """After March caught up February: February can be neither run nor replayed (never run; before the
    last month run); March's rerun and replay raise nothing; April raises no February reminder again."""
    push = Push(tmp_path)
    run_push_month(push, "2025-01", [S_FEB, S_MAY])
    run_push_month(push, "2025-03", [S_FEB, S_MAY])
    before = _all(push)
    sms = _sms(push, "2025-03")
    with pytest.raises(MonthRefused, match="before the last month run"):
        run_month("2025-02", push.wh, push.tmp / "out", validate=False)
    with pytest.raises(MonthRefused, match="never run"):
        run_month("2025-02", push.wh, push.tmp / "out", replay=True, validate=False)
    run_month("2025-03", push.wh, push.tmp / "out", validate=False)  # a rerun: March's batch is published
    run_month("2025-03", push.wh, push.tmp / "out", replay=True, validate=False)
    assert _all(push) == before and _sms(push, "2025-03") == sms
    assert "2025-02" in _report(push, "2025-03")  # the replayed report still says February was skipped
    run_push_month(push, "2025-04", [S_FEB, S_MAY])
    twice = push.q("SELECT id_no, kind, reference_mi FROM notice_log GROUP BY ALL HAVING count(*) > 1")
    assert twice == []
    assert push.q("SELECT count(*) FROM notice_log WHERE issued_mi = ? AND reference_mi < ?", [APR, APR]) == [(0,)]
    assert 'data-warning="skipped-months"' not in _report(push, "2025-04")


def test_no_catch_up_without_a_gap(tmp_path, caplog):
    """A warehouse's first run is no gap: March first, S 2025-02 gets PRE_SERVICE and OVERDUE, no
    AGE_REACHED of February. Months run one after another catch nothing up either."""
    push = Push(tmp_path / "first")
    with caplog.at_level(logging.WARNING, logger="pipelines.monthly"):
        run_push_month(push, "2025-03", [S_FEB])
    assert [k for k, _, _ in _log(push, S_FEB["id_no"])] == ["OVERDUE", "PRE_SERVICE"]
    assert 'data-warning="skipped-months"' not in _report(push, "2025-03")

    push = Push(tmp_path / "each")
    for m in ("2025-01", "2025-02", "2025-03"):
        run_push_month(push, m, [S_FEB, S_MAY])
    assert ("AGE_REACHED", FEB, FEB) in _log(push, S_FEB["id_no"])
    assert ("AGE_MINUS_3", FEB, FEB) in _log(push, S_MAY["id_no"])
    assert push.q("SELECT count(*) FROM notice_log WHERE reference_mi <> issued_mi") == [(0,)]
    assert not [r for r in caplog.records if WARNING in r.getMessage()]


def test_a_person_taken_in_after_the_gap_gets_no_reminder_of_a_month_before_the_entry(tmp_path):
    """rules.md §5 is for persons in the ledger in M: b, first in the push in March (suspended, past
    the original age: scope b), S 2025-02, was in no ledger in February; March tells b of the
    pre-service (naming S) and OVERDUE, not AGE_REACHED of February."""
    push = Push(tmp_path)
    b = person(9, birth_date="19650110", contribution_status="2")
    run_push_month(push, "2025-01", [S_JUL])
    run_push_month(push, "2025-03", [S_JUL, b])
    assert [k for k, _, _ in _log(push, b["id_no"])] == ["OVERDUE", "PRE_SERVICE"]


def test_a_notice_waiting_for_a_skipped_months_batch_goes_out_with_the_next_run(tmp_path):
    """A county's conclusion of late November (after November's run) raises RESULT for December's
    batch; December is not run: January's run takes the RESULT into its own batch and file."""
    from support.ledger import feedback_to_conclusion

    push = Push(tmp_path)
    a = person(1, birth_date="19661210")  # original age 2026-12
    run_push_month(push, "2026-11", [a])
    feedback_to_conclusion(push, a, first_day=20)
    assert push.q("SELECT issued_mi FROM notice_log WHERE kind = 'RESULT'") == [(24323,)]  # December
    run_push_month(push, "2027-01", [a])
    assert push.q("SELECT issued_mi FROM notice_log WHERE kind = 'RESULT'") == [(24324,)]  # January
    assert "RESULT-2026-11-" in _sms(push, "2027-01")


def test_a_person_who_died_or_moved_office_in_the_gap(tmp_path):
    """rules.md §5 ("never to a deceased"), §3 (the responsible office is insured_region; outputs.md: an
    office never receives another office's persons): 2025-01, then 2025-04. April's push says S_FEB
    died: no AGE_REACHED of February. S_MAR moved from 640104 to 640105 in the gap: his AGE_REACHED of
    March, caught up, is in 640105's files and names 640105 (the office of P, the one the person now
    deals with), never in 640104's (probe-a)."""
    push = Push(tmp_path)
    run_push_month(push, "2025-01", [S_FEB, S_MAR])
    run_push_month(push, "2025-04", [{**S_FEB, "survival_status": "2"}, {**S_MAR, "insured_region": "640105"}])
    assert [k for k, _, _ in _log(push, S_FEB["id_no"])] == ["PRE_SERVICE"]
    assert ("AGE_REACHED", MAR, APR) in _log(push, S_MAR["id_no"])
    moved = (push.tmp / "out" / "2025-04" / "notifications" / "640105" / "sms.csv").read_text(encoding="utf-8-sig")
    assert "AGE_REACHED-2025-03-" in moved and "0951-0000105" in moved
    assert not (push.tmp / "out" / "2025-04" / "notifications" / "640104" / "sms.csv").exists()
