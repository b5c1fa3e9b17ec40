"""Reruns of a month whose batch was published (docs/decisions.md, Notices, "A published batch is
frozen"): what a rerun of a DONE month P raises, or restores after reopening an entry, goes out with
P+1's batch (issued_mi = P+1), and everything that reads notices follows: the OVERDUE spacing
(rules.md §5), office_progress's notices sent (outputs.md), explain, the report, replays; a month
being run blocks reruns of the months before it."""

from __future__ import annotations

import pytest

from pipelines.errors import MonthRefused
from pipelines.ingest import ingest_batches, load_applications
from support.pushkit import person, segment, write_batch
from support.ledger import Push, correction_push, feedback_to_conclusion, run_push_month, entry
from support.screen import born

NOV, DEC, JAN, FEB, MAR, MAY = 24322, 24323, 24324, 24325, 24326, 24328


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()} if folder.exists() else {}


def _sms_text(tmp, month):
    return "".join(p.read_text(encoding="utf-8-sig") for p in (tmp / "out" / month / "notifications").rglob("*.csv"))


# ------------------------------------------------------------------------------ OVERDUE spacing


def test_deferred_overdue_keeps_three_months_between_sends(tmp_path):
    """a is past S and suspended (scope b): OVERDUE in November's batch. February's DONE run closes a
    (left out); the correction's rerun of February reopens a and its OVERDUE of February goes out with
    March's batch. The next OVERDUE keeps 3 months from March (the window reads the month a notice went
    out too), not from its reference month February: "at most once every 3 months"."""
    push = Push(tmp_path)
    a = person(1, birth_date=born(-12), contribution_status="2")
    b = person(2, birth_date=born(7))
    run_push_month(push, "2026-11", [a, b])
    s = push.q("SELECT statutory_age_mi FROM screen_results WHERE id_no = ? AND month_mi = ?", [a["id_no"], NOV])
    assert s[0][0] < NOV
    run_push_month(push, "2027-02", [b])
    assert entry(push, a["id_no"])[3] == "LEFT_PUSH"
    correction_push(push, "2027-02", [a, b])
    assert entry(push, a["id_no"])[2] is None
    run_push_month(push, "2027-03", [a, b])
    run_push_month(push, "2027-05", [a, b])
    sent = [
        r[0]
        for r in push.q(
            "SELECT issued_mi FROM notice_log WHERE id_no = ? AND kind = 'OVERDUE' ORDER BY issued_mi", [a["id_no"]]
        )
    ]
    assert sent[:2] == [NOV, MAR]
    gaps = [y - x for x, y in zip(sent, sent[1:])]
    assert all(g >= 3 for g in gaps), f"OVERDUE sent in months {sent} (gaps {gaps})"


# ------------------------------------------------------------------------------ withdrawn, then reopened


def test_deferred_pre_service_withdrawn_then_reopened_is_not_lost(tmp_path):
    """c's PRE_SERVICE of December (raised by December's rerun, waiting for January's batch) is withdrawn
    by January's run (push: c died) and c's entry closed; a correction of January (DONE) says c lives:
    the entry is reopened at NOTIFIED. c was never told: the PRE_SERVICE goes out with February's batch."""
    push = Push(tmp_path)
    b, c = person(2, birth_date=born(7)), person(3, birth_date=born(8))
    run_push_month(push, "2026-11", [b])
    run_push_month(push, "2026-12", [b])
    correction_push(push, "2026-12", [b, c])
    assert entry(push, c["id_no"])[0] == "NOTIFIED"
    run_push_month(push, "2027-01", [b, dict(c, survival_status=2)])
    assert push.q("SELECT kind FROM notice_withdrawals WHERE id_no = ?", [c["id_no"]]) == [("PRE_SERVICE",)]
    correction_push(push, "2027-01", [b, c])
    assert entry(push, c["id_no"])[2] is None and entry(push, c["id_no"])[0] == "NOTIFIED"  # reopened
    pending = push.q("SELECT kind, issued_mi FROM notice_log WHERE id_no = ?", [c["id_no"]])
    assert ("PRE_SERVICE", FEB) in pending, f"notice_log: {pending}"


def test_result_withdrawn_by_a_published_run_then_reopened_is_not_lost(tmp_path):
    """a's RESULT (November's feedback, for December's batch) is withdrawn by December's DONE run (a left
    out); the correction of December reopens a at CONCLUDED. After a published run the RESULT is
    restored into the next batch, January's (an unfinished run's withdrawal is restored into P)."""
    push = Push(tmp_path)
    a, b = person(1, birth_date=born(6)), person(2, birth_date=born(7))
    run_push_month(push, "2026-11", [a, b])
    feedback_to_conclusion(push, a, first_day=20)
    run_push_month(push, "2026-12", [b])
    assert push.q("SELECT kind, reason FROM notice_withdrawals") == [("RESULT", "LEFT_PUSH")]
    correction_push(push, "2026-12", [a, b])
    assert entry(push, a["id_no"])[:3] == ("CONCLUDED", "640104", None)
    got = push.q(
        "SELECT kind, reference_mi, issued_mi FROM notice_log WHERE id_no = ? AND kind = 'RESULT'", [a["id_no"]]
    )
    assert got and got[0][2] == JAN, f"RESULT after the reopening: {got}"


# ------------------------------------------------------------------------------ counts, explain, replay


def test_office_progress_counts_sent_notices_only(tmp_path):
    """After December's rerun defers c's PRE_SERVICE to January (not run yet), office_progress's
    notices_sent does not count it yet: sent means in a published batch."""
    push = Push(tmp_path)
    b, c = person(2, birth_date=born(7)), person(3, birth_date=born(8))
    run_push_month(push, "2026-11", [b])
    run_push_month(push, "2026-12", [b])
    correction_push(push, "2026-12", [b, c])
    sent = push.q("SELECT notices_sent FROM office_progress WHERE office_code = '640104'")[0][0]
    published = push.q("SELECT count(*) FROM notice_log WHERE issued_mi <= ?", [DEC])[0][0]
    assert sent == published, f"notices_sent {sent}, in published batches {published}"


def test_explain_report_and_replays_around_a_deferred_notice(tmp_path):
    from pipelines.explain import explain_person
    from pipelines.monthly import run_month

    push = Push(tmp_path)
    b, c = person(2, birth_date=born(7)), person(3, birth_date=born(8))
    run_push_month(push, "2026-11", [b])
    run_push_month(push, "2026-12", [b])
    dec = tmp_path / "out" / "2026-12" / "notifications"
    dec_pub = _files(dec)
    correction_push(push, "2026-12", [b, c])
    text = explain_person(c["id_no"], "2026-12", push.wh)
    assert "PRE_SERVICE for 2026-12 (issued 2027-01)" in text
    run_push_month(push, "2027-01", [b, c])
    jan = tmp_path / "out" / "2027-01" / "notifications"
    jan_pub = _files(jan)
    assert _sms_text(tmp_path, "2027-01").count(c["id_no"]) == 1
    assert c["id_no"] not in _sms_text(tmp_path, "2026-12")
    report = (tmp_path / "out" / "2027-01" / "report" / "index.html").read_text(encoding="utf-8")
    assert "PRE_SERVICE" in report
    run_month("2026-12", push.wh, tmp_path / "out", replay=True, validate=False)
    assert _files(dec) == dec_pub
    run_month("2027-01", push.wh, tmp_path / "out", replay=True, validate=False)
    assert _files(jan) == jan_pub


# ------------------------------------------------------------------------------ staged (DAG) runs


def _stage(push, month, work, *, state=True):
    from pipelines import screen
    from pipelines.monthly import _running_context
    from pipelines.warehouse import connect

    with connect(push.wh, settings=push.settings) as con:
        ctx = _running_context(con, month, push.settings, push.tmp / "out")
        if state:
            screen.state_views(con, ctx)
        return work(con, ctx)


def test_no_rerun_of_p_while_the_dag_run_of_p1_is_under_way(tmp_path):
    """November is DONE; December's DAG run has written its office files and is not finished
    (RUNNING). A late application dated in November arrives: November may not be run again now (what
    its rerun raises would go to December's batch, whose files are written); the next month takes d
    in and tells d (monthly.month_context)."""
    from pipelines import ledger, outputs, screen
    from pipelines.monthly import (
        notify_month,
        run_month,
        stage_begin,
        stage_finish,
        stage_run,
    )

    push = Push(tmp_path)
    b, d = person(2, birth_date=born(7)), person(4, birth_date=born(20))
    run_push_month(push, "2026-11", [b, d])
    assert entry(push, d["id_no"]) is None  # O - P = 20: not in scope, no trigger
    push.seq += 1
    batch = write_batch(
        tmp_path / f"b{push.seq}", [b, d], [segment(p["id_no"]) for p in (b, d)], seq=push.seq, month="2026-12"
    )
    assert not ingest_batches([batch], push.wh).refused
    wh, out = str(push.wh), str(tmp_path / "out")
    stage_begin("2026-12", wh, out)
    _stage(push, "2026-12", lambda con, ctx: screen.screen_month(con, ctx, validate=False), state=False)
    _stage(push, "2026-12", lambda con, ctx: ledger.update_ledger(con, ctx, validate=False))
    _stage(push, "2026-12", lambda con, ctx: notify_month(con, ctx, validate=False))

    def worklists(con, ctx):
        outputs.prepare_worklists(con, ctx, validate=False)
        return outputs.offices_of_month(con, ctx)

    for office in _stage(push, "2026-12", worklists):
        stage_run("office_files", "2026-12", wh, out, offices=[office])
    stage_run("month_files", "2026-12", wh, out)
    # meanwhile: a late application of November, and November run again
    apps = tmp_path / "apps.csv"
    apps.write_text(
        f"id_no,applicant_type,applied_on,channel,county_code\n{d['id_no']},2,20261120,online,640104\n",
        encoding="utf-8",
    )
    assert load_applications([apps], push.wh)["accepted"] == 1
    # November may not be run again while December is being run (its batch would be written already)
    with pytest.raises(MonthRefused, match="being run"):
        run_month("2026-11", push.wh, tmp_path / "out", validate=False)
    stage_finish("2026-12", wh, out)
    assert entry(push, d["id_no"]) is None
    # January takes d in (the application counts from November on) and tells d in January's batch
    run_push_month(push, "2027-01", [b, d])
    assert push.q(
        "SELECT reference_mi, issued_mi FROM notice_log WHERE id_no = ? AND kind = 'PRE_SERVICE'", [d["id_no"]]
    ) == [(24324, 24324)]
    assert d["id_no"] in _sms_text(tmp_path, "2027-01")


# ------------------------------------------------------------------------------ held at P's run


@pytest.mark.parametrize("then", ["refused", "applied", "superseded"])
def test_a_replay_lists_the_batches_held_at_the_run_whatever_became_of_them(tmp_path, then):
    """push-format.md: an INCR whose base has not arrived is held. Seq 3 (base 2) is held at
    December's run: the published report counts 暂存待补批次 1 and lists it, waiting for seq 2. Seq 2
    then arrives and seq 3 is applied, or its folder was damaged meanwhile and the retry refuses it,
    or a FULL supersedes it. The replay of December (docs/operations.md §3) re-emits the published
    report byte for byte: the table read the batch's present status (a refused batch was no longer
    held, and an applied one's reception time was its apply's), not its history."""
    from pipelines.monthly import run_month

    push = Push(tmp_path)
    b = person(2, birth_date=born(7))
    run_push_month(push, "2026-11", [b])
    u = dict(b, op="U")
    held = write_batch(
        tmp_path / "h3", [u], [segment(b["id_no"])], seq=3, push_type="INCR", base_seq=2, month="2026-12"
    )
    rep = ingest_batches([held], push.wh, validate=False)
    assert [h["batch_id"] for h in rep.held] == ["NX-2026-12-0003"], rep.lines()
    run_month("2026-12", push.wh, tmp_path / "out", validate=False, ahead_of_push=True)
    page = tmp_path / "out" / "2026-12" / "report" / "index.html"
    published = page.read_bytes()
    section = published.decode().split("暂存待补批次（本月运行时）")[1].split("</table>")[0]
    assert "NX-2026-12-0003" in section and "<td>2</td>" in section, section  # waiting for seq 2
    assert '<div class="figure" data-figure="暂存待补批次">' in published.decode()
    if then == "superseded":
        full = write_batch(tmp_path / "f4", [b], [segment(b["id_no"])], seq=4, month="2026-12")
        rep = ingest_batches([full], push.wh, validate=False)
        assert rep.superseded == ["NX-2026-12-0003"], rep.lines()
    else:
        if then == "refused":
            (held / "segments.csv").write_bytes(b"damaged")
        base = write_batch(
            tmp_path / "b2", [u], [segment(b["id_no"])], seq=2, push_type="INCR", base_seq=1, month="2026-12"
        )
        rep = ingest_batches([base], push.wh, validate=False)
        done = [r["batch_id"] for r in rep.applied]
        assert done == (["NX-2026-12-0002"] if then == "refused" else ["NX-2026-12-0002", "NX-2026-12-0003"]), done
        assert bool(rep.refused) == (then == "refused"), rep.lines()
    run_month("2026-12", push.wh, tmp_path / "out", replay=True, validate=False)
    assert page.read_bytes() == published
    held_then = push.q("SELECT ended_as FROM batch_holds WHERE batch_id = 'NX-2026-12-0003'")
    assert held_then == [(then.upper(),)]
