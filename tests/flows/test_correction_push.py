"""A correction push of an already-run month (push-format.md: a later seq, the same data month) and
the rerun of that month: what the first run closed on the wrong data is reopened with its stage's
clock (rules.md §3, §7), the county's work goes on, and the notices follow the batches (rules.md §5;
docs/decisions.md "A correction push of an already-run month reopens", "A published batch is frozen").
More cases in tests/ledger/test_ledger.py (test_correction_push_*)."""

from __future__ import annotations

from datetime import date

import pytest

from support.pushkit import person
from support.ledger import Push, correction_push, run_push_month, entry
from support.screen import born

NOV, DEC, JAN = 24322, 24323, 24324


def _clock(push, id_no):
    return push.q("SELECT stage, stage_since, due_date FROM ledger_entries WHERE id_no = ?", [id_no])[0]


# ------------------------------------------------------------------------------ reopening: the clock


def test_reopen_keeps_the_stage_clock_after_an_office_change(tmp_path):
    """An office change (transition NOTIFIED -> NOTIFIED, dated the 1st of its month) does not start the
    stage: the reopened entry must get the stage's own start back, not the office change's date."""
    push = Push(tmp_path)
    a, b = person(1, birth_date=born(6)), person(2, birth_date=born(7))
    run_push_month(push, "2026-11", [a, b])
    moved = dict(a, insured_region="640521")
    run_push_month(push, "2026-12", [moved, b])  # office 640104 -> 640521, still NOTIFIED
    before = _clock(push, a["id_no"])
    assert before == ("NOTIFIED", date(2026, 11, 1), date(2026, 11, 21))
    run_push_month(push, "2027-01", [b])  # a wrongly left out: LEFT_PUSH
    assert entry(push, a["id_no"])[3] == "LEFT_PUSH"
    correction_push(push, "2027-01", [moved, b])
    assert entry(push, a["id_no"])[2:4] == (None, None)
    assert _clock(push, a["id_no"]) == before


def test_a_second_reopen_in_the_month_keeps_the_stage_clock(tmp_path):
    """Two correction pushes of December: a closed, reopened, closed again, reopened again. The clock is
    the stage's (November) both times; the first reopening's transition (dated December 1st) is no
    start of the stage."""
    push = Push(tmp_path)
    a, b = person(1, birth_date=born(6)), person(2, birth_date=born(7))
    run_push_month(push, "2026-11", [a, b])
    before = _clock(push, a["id_no"])
    run_push_month(push, "2026-12", [b])
    correction_push(push, "2026-12", [a, b])
    assert _clock(push, a["id_no"]) == before  # first reopening: right
    correction_push(push, "2026-12", [b])
    assert entry(push, a["id_no"])[3] == "LEFT_PUSH"
    correction_push(push, "2026-12", [a, b])
    assert entry(push, a["id_no"])[2:4] == (None, None)
    assert _clock(push, a["id_no"]) == before


def test_county_work_dated_before_the_wrong_closing_is_accepted_after_the_reopening(tmp_path):
    """The entry goes back "with that stage's clock": county work done while it was really open (November
    28th, after NOTIFIED on November 1st) is not DATE_OUT_OF_ORDER because of the wrong closing and its
    reopening (both dated December 1st), as it would not have been without them."""
    from pipelines.feedback import apply_feedback_files

    push = Push(tmp_path)
    a, b = person(1, birth_date=born(6)), person(2, birth_date=born(7))
    run_push_month(push, "2026-11", [a, b])
    run_push_month(push, "2026-12", [b])
    correction_push(push, "2026-12", [a, b])
    f = tmp_path / "late.csv"
    f.write_text(
        f"office_code,event,id_no,event_date,result\n640104,ARCHIVE_REVIEWED,{a['id_no']},2026-11-28,PASS\n",
        encoding="utf-8",
    )
    rep = apply_feedback_files([f], push.wh)
    assert rep.files[0].refused == 0, rep.files[0].reasons


# ------------------------------------------------------------------------------ reopening: notices


def test_a_published_batch_gets_no_reminder_for_a_reopened_entry(tmp_path):
    """docs/decisions.md: a published batch stays frozen; what a rerun raises goes out with the next
    batch. a's AGE_MINUS_3 falls in February 2027; February's DONE run closed a (left out); the
    correction's rerun of February reopens a: February's batch is unchanged, the AGE_MINUS_3 of
    February goes out with March's."""
    push = Push(tmp_path)
    a, b = person(1, birth_date=born(0)), person(2, birth_date=born(7))  # a: S = 2027-05
    run_push_month(push, "2026-11", [a, b])
    assert push.q("SELECT statutory_age_mi FROM screen_results WHERE id_no = ?", [a["id_no"]]) == [(NOV + 6,)]
    run_push_month(push, "2027-02", [b])
    assert entry(push, a["id_no"])[3] == "LEFT_PUSH"
    feb = "SELECT kind, id_no FROM notice_log WHERE issued_mi = 24325 ORDER BY ALL"
    published = push.q(feb)
    correction_push(push, "2027-02", [a, b])
    assert entry(push, a["id_no"])[2] is None  # reopened
    assert push.q(feb) == published
    assert push.q(
        "SELECT kind, reference_mi, issued_mi FROM notice_log WHERE id_no = ? AND kind <> 'PRE_SERVICE'", [a["id_no"]]
    ) == [("AGE_MINUS_3", 24325, 24326)]


def test_an_unfinished_run_s_withdrawal_is_restored_after_the_reopening(tmp_path, monkeypatch):
    """December's first run (unfinished) withdrew a's RESULT (raised by November's feedback for December's
    batch) when it closed a; the correction's rerun reopens a at CONCLUDED with its clock and the RESULT
    waits for December's batch again, exactly once."""
    from pipelines import outputs
    from support.ledger import feedback_to_conclusion

    push = Push(tmp_path)
    a, b = person(1, birth_date=born(6)), person(2, birth_date=born(7))
    run_push_month(push, "2026-11", [a, b])
    feedback_to_conclusion(push, a, first_day=20)
    before = _clock(push, a["id_no"])
    assert before[:2] == ("CONCLUDED", date(2026, 11, 23))
    result = push.q("SELECT * FROM notice_log WHERE kind = 'RESULT'")
    assert [r[5] for r in result] == [DEC]

    def boom(*a_, **k):
        raise RuntimeError("killed")

    monkeypatch.setattr(outputs, "publish_month", boom)
    with pytest.raises(RuntimeError):
        run_push_month(push, "2026-12", [b])
    monkeypatch.undo()
    assert push.q("SELECT kind, reason FROM notice_withdrawals") == [("RESULT", "LEFT_PUSH")]
    correction_push(push, "2026-12", [a, b])
    assert _clock(push, a["id_no"]) == before
    assert push.q("SELECT count(*) FROM notice_withdrawals") == [(0,)]
    assert push.q("SELECT notice_id, kind, issued_mi FROM notice_log WHERE kind = 'RESULT'") == [
        (result[0][0], "RESULT", DEC)
    ]
    sms = (tmp_path / "out" / "2026-12" / "notifications" / "640104" / "sms.csv").read_text(encoding="utf-8-sig")
    assert "RESULT" in sms
    # a further rerun changes nothing (idempotent)
    from pipelines.monthly import run_month

    run_month("2026-12", push.wh, tmp_path / "out", validate=False)
    assert push.q("SELECT count(*) FROM notice_log WHERE kind = 'RESULT'") == [(1,)]


def test_a_first_run_and_an_earlier_month_s_closing_are_not_reopened(tmp_path):
    """A closing of November (LEFT_PUSH) is not reopened by December's run, even if a is back:
    December takes a in again as a new entry (rules.md §3)."""
    push = Push(tmp_path)
    a, b = person(1, birth_date=born(6)), person(2, birth_date=born(7))
    run_push_month(push, "2026-11", [b, a])
    run_push_month(push, "2026-12", [b])
    run_push_month(push, "2027-01", [a, b])
    rows = push.q(
        "SELECT opened_mi, closed_mi, close_reason, stage FROM ledger_entries WHERE id_no = ? ORDER BY opened_mi",
        [a["id_no"]],
    )
    assert rows == [(NOV, DEC, "LEFT_PUSH", "LEFT_PUSH"), (JAN, None, None, "NOTIFIED")]


def test_a_person_the_correction_brings_in_is_told_with_the_next_batch(tmp_path):
    """December's FULL wrongly lacks c, who was never in the ledger; December is DONE and its batch
    sent. The correction of December takes c in (a December entry) and raises c's PRE_SERVICE of
    December, which goes out with January's batch: December's files stay as published, and
    January's run does not tell c again."""
    push = Push(tmp_path)
    b, c = person(2, birth_date=born(7)), person(3, birth_date=born(8))
    run_push_month(push, "2026-11", [b])
    run_push_month(push, "2026-12", [b])
    sms = tmp_path / "out" / "2026-12" / "notifications"
    published = {p.relative_to(sms): p.read_bytes() for p in sms.rglob("*") if p.is_file()}
    correction_push(push, "2026-12", [b, c])
    assert {p.relative_to(sms): p.read_bytes() for p in sms.rglob("*") if p.is_file()} == published
    assert push.q("SELECT kind, reference_mi, issued_mi FROM notice_log WHERE id_no = ?", [c["id_no"]]) == [
        ("PRE_SERVICE", DEC, JAN)
    ]
    assert entry(push, c["id_no"])[0] == "NOTIFIED"
    run_push_month(push, "2027-01", [b, c])
    assert push.q("SELECT count(*) FROM notice_log WHERE id_no = ?", [c["id_no"]]) == [(1,)]
    january = (tmp_path / "out" / "2027-01" / "notifications" / "640104" / "sms.csv").read_text(encoding="utf-8-sig")
    assert january.count(c["id_no"]) == 1 and '"PRE_SERVICE","' + c["id_no"] in january


def test_a_deferred_notice_is_withdrawn_when_the_next_push_closes_the_entry(tmp_path):
    """c's PRE_SERVICE of December waits for January's batch (raised by the rerun of December after
    its batch was sent); January's push says c died: January's run withdraws it, like a DECLARATION
    of the 1st (docs/decisions.md)."""
    push = Push(tmp_path)
    b, c = person(2, birth_date=born(7)), person(3, birth_date=born(8))
    run_push_month(push, "2026-11", [b])
    run_push_month(push, "2026-12", [b])
    correction_push(push, "2026-12", [b, c])
    run_push_month(push, "2027-01", [b, dict(c, survival_status=2)])
    assert push.q("SELECT count(*) FROM notice_log WHERE id_no = ?", [c["id_no"]]) == [(0,)]
    assert push.q(
        "SELECT kind, reference_mi, reason, withdrawn_mi FROM notice_withdrawals WHERE id_no = ?", [c["id_no"]]
    ) == [("PRE_SERVICE", DEC, "DECEASED", JAN)]
    from pipelines.explain import explain_person

    text = explain_person(c["id_no"], "2027-01", push.wh)
    assert (
        "Notices (rules.md §5):\n  PRE_SERVICE for 2026-12 withdrawn unsent by the run of 2027-01: "
        "entry closed DECEASED"
    ) in text


def test_a_deferred_notice_goes_by_the_channel_of_the_next_month(tmp_path):
    """c's PRE_SERVICE of December waits for January's batch; January's push gives c no valid mobile:
    it goes through the township in January, as every notice of January's batch (47_settle_batch.sql)."""
    push = Push(tmp_path)
    b, c = person(2, birth_date=born(7)), person(3, birth_date=born(8))
    run_push_month(push, "2026-11", [b])
    run_push_month(push, "2026-12", [b])
    correction_push(push, "2026-12", [b, c])
    assert push.q("SELECT channel FROM notice_log WHERE id_no = ?", [c["id_no"]]) == [("SMS",)]
    run_push_month(push, "2027-01", [b, dict(c, phone="", employer_uscc="", employer_name="")])
    assert push.q("SELECT channel, phone FROM notice_log WHERE id_no = ?", [c["id_no"]]) == [("TOWNSHIP", None)]
