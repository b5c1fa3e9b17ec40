"""Objections dated before a later-dated stage change, and identical rows sent again (rules.md §7;
docs/feedback-format.md "Dates", "Applying twice"; docs/decisions.md). The two findings of the
thirteenth session's probes that were pinned as open (tests/flows/test_open_findings.py)."""

from __future__ import annotations

from datetime import date

import openpyxl
import pytest

from pipelines import labels
from pipelines.feedback import apply_feedback_files
from pipelines.feedback.receipts import SENT_AGAIN_HEADER, SENT_AGAIN_TITLE, receipt_path
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


# ------------------------------------------------------------------ 2. identical rows sent again

D = date(2026, 11, 9)
REJECTED = {"result": "REJECTED", "reason": "r", "basis": "b", "remedy": "m"}


def _until_rejected(p) -> list[dict]:
    """Received, confirmed, objected to and the objection rejected, all on 11-09 (a same-day counter)."""
    return path_rows(p, "RESULT_RECEIVED") + [
        row(p, "CONFIRMED", D, confirmer="EMPLOYER"),
        row(p, "OBJECTION_FILED", D),
        row(p, "OBJECTION_RESOLVED", D, **REJECTED),
    ]


def _sent_again_table(path) -> list[dict]:
    ws = openpyxl.load_workbook(path)["回执"]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    start = next(i for i, r in enumerate(rows) if r[0] == SENT_AGAIN_TITLE)
    assert tuple(rows[start + 1][: len(SENT_AGAIN_HEADER)]) == SENT_AGAIN_HEADER
    out = []
    for r in rows[start + 2 :]:
        if r[0] is None or not str(r[0]).isdigit():
            break
        out.append(dict(zip(SENT_AGAIN_HEADER, r)))
    return out


def _summary(path) -> dict:
    ws = openpyxl.load_workbook(path)["回执"]
    return {r[0].value: r[1].value for r in ws.iter_rows(min_row=3, max_row=12) if r[0].value and r[1].value}


def test_a_confirmation_again_in_another_file_is_taken_as_sent_again_and_the_receipt_says_so(wh):
    """docs/feedback-format.md "Applying twice" (a row identical to a row applied before is
    ALREADY_APPLIED; a genuine repeat needs a note) and rules.md §7 (after REJECTED the conclusion is
    confirmed again): the second CONFIRMED, same day and confirmer, sent in its own file, is not
    applied — a re-sent file must stay harmless — but as it would move the entry now, the row says so
    (SENT_AGAIN, in Chinese on the receipt) and the stage stays CONCLUDED. With a note it is applied."""
    p = wh.person()
    assert wh.apply(_until_rejected(p)).refused == 0
    assert wh.stage(p) == "CONCLUDED"
    first = wh.last_file()
    tables = ("ledger_entries", "ledger_transitions", "conclusions", "objections", "feedback_events", "notice_log")
    before = [wh.q(f"SELECT * FROM {t} ORDER BY ALL") for t in tables]
    path = wh.write([row(p, "CONFIRMED", D, confirmer="EMPLOYER")])
    rep = apply_feedback_files([path], wh.path, wh.settings, receipts=wh.tmp / "receipts")
    out = rep.files[0]
    assert (out.rows, out.accepted, out.already_applied, out.refused, out.sent_again) == (1, 1, 1, 0, 1)
    assert "SENT_AGAIN 1" in " ".join(rep.lines())
    assert [wh.q(f"SELECT * FROM {t} ORDER BY ALL") for t in tables] == before  # nothing applied
    assert wh.stage(p) == "CONCLUDED"
    applied_on = wh.one(
        "SELECT CAST(timezone('Asia/Shanghai', recorded_at) AS DATE) FROM feedback_rows "
        "WHERE file_name = ? AND row_no = 6",
        [first],
    )
    [(status, code, reason, zh)] = _rows(wh, path.name)
    assert (status, code) == ("ALREADY_APPLIED", "SENT_AGAIN")
    assert f"row 6 of {first} applied on {applied_on.isoformat()}" in reason and "note" in reason
    assert f"{applied_on.isoformat()}已处理的文件“{first}”序号为6的行完全相同" in zh
    assert "按重复报送处理，本次未处理" in zh and "“备注”栏注明" in zh and "确认" in zh
    assert all(p.id_no not in t and "测试" not in t and "139" not in t for t in (reason, zh))
    # the receipt: the count in its summary, the row in a table of its own (the office's person named)
    receipt = receipt_path(wh.tmp / "receipts", "640104", path.name)
    summary = _summary(receipt)
    assert summary["行数"] == (
        f"共1行：已处理0行，此前已处理、本次未重复处理1行（其中1行按当前环节本可办理，见下表“{SENT_AGAIN_TITLE}”），退回0行"
    )
    assert "备注" in summary["请核对"]
    [line] = _sent_again_table(receipt)
    assert (line["序号"], line["事件"], line["发生日期"], line["代码"], line["公民身份号码"], line["说明"]) == (
        "1",
        labels.label("event", "CONFIRMED"),
        D.isoformat(),
        "SENT_AGAIN",
        p.id_no,
        zh,
    )
    assert line["处理情况"] == labels.label("refusal", "SENT_AGAIN")
    # with a note, the repeat is a new row: applied, confirmed again
    rep = wh.apply([row(p, "CONFIRMED", D, confirmer="EMPLOYER", note="异议驳回后再次确认")])
    assert rep.refused == 0 and rep.files[0].already_applied == 0, rep.lines()
    assert wh.stage(p) == "CONFIRMED"
    assert wh.one("SELECT confirmed_on FROM conclusions WHERE entry_id = ?", [p.entry_id]) == D


def test_a_cumulative_file_counts_its_identical_rows(wh):
    """docs/feedback-format.md "Applying twice" (docs/decisions.md): the n-th identical row of a file
    is sent again only when n identical rows were applied before. A county's cumulative file — the
    rows of its first report and the confirmation again after the rejection — applies that second
    CONFIRMED; the same file sent again (the same bytes, or with a row added) applies nothing more."""
    p = wh.person()
    assert wh.apply(_until_rejected(p)).refused == 0
    cumulative = _until_rejected(p) + [row(p, "CONFIRMED", D, confirmer="EMPLOYER")]
    path = wh.write(cumulative)
    rep = apply_feedback_files([path], wh.path, wh.settings)
    assert [g[:2] for g in _rows(wh, path.name)] == [("ALREADY_APPLIED", None)] * 8 + [("APPLIED", None)], rep.lines()
    assert wh.stage(p) == "CONFIRMED"
    moves = _transitions(wh, p)
    # the same bytes again: not applied again
    again = apply_feedback_files([path], wh.path, wh.settings).files[0]
    assert again.status == "ALREADY_APPLIED"
    # the same rows and one more: the old rows all taken as sent again, nothing of them applied
    more = wh.write(cumulative + [row(p, "ELECTED_MONTH", D, elected_month="2027-06")])
    rep = apply_feedback_files([more], wh.path, wh.settings)
    got = [g[:2] for g in _rows(wh, more.name)]
    # (the objection would be taken now, but the file sends again what came after it too: no SENT_AGAIN)
    assert got == [("ALREADY_APPLIED", None)] * 9 + [("APPLIED", None)], rep.lines()
    assert wh.stage(p) == "CONFIRMED" and _transitions(wh, p) == moves
    assert wh.one("SELECT count(*) FROM objections WHERE entry_id = ?", [p.entry_id]) == 1


def test_one_cumulative_file_from_the_start_applies_both_confirmations_once(wh):
    """docs/feedback-format.md "Applying twice": a file [CONFIRMED d, OBJECTION_FILED d,
    OBJECTION_RESOLVED d REJECTED, CONFIRMED d] applies the second CONFIRMED as new (no identical row
    was applied before it); sent again with a row added, none of its rows is applied again."""
    p = wh.person()
    rows = _until_rejected(p) + [row(p, "CONFIRMED", D, confirmer="EMPLOYER")]
    rep = wh.apply(rows)
    assert rep.refused == 0 and rep.files[0].already_applied == 0, rep.lines()
    assert wh.stage(p) == "CONFIRMED"
    moves = _transitions(wh, p)
    assert [m[1] for m in moves[-3:]] == ["CONFIRMED", "CONCLUDED", "CONFIRMED"]
    rep = wh.apply(rows + [row(p, "OFFICER_ASSIGNED", D, officer_id="640104-02")])
    o = rep.files[0]
    assert (o.rows, o.already_applied, o.refused) == (10, 9, 0), rep.lines()
    assert wh.stage(p) == "CONFIRMED" and _transitions(wh, p) == moves


def test_the_receipt_of_a_corrected_version_the_same_day_says_it_was_not_applied(wh):
    """docs/feedback-format.md "Applying twice" and its Events table (an upheld objection's new version
    needs its own RESULT_RECEIVED): received, objected to and upheld on 11-06, the new version's
    receipt that day is identical to the first one's. Sent in its own file, it is not applied and says
    so (SENT_AGAIN: it would record a receipt); with a note it records version 2's receipt."""
    p = wh.person()
    rows = path_rows(p, "RESULT_RECEIVED") + [
        row(p, "OBJECTION_FILED", RECEIVED),
        row(p, "OBJECTION_RESOLVED", RECEIVED, result="UPHELD", counted_months=310, reason="r"),
    ]
    assert wh.apply(rows).refused == 0
    again = [row(p, "RESULT_RECEIVED", RECEIVED)]
    assert [g[:2] for g in (wh.apply(again), _rows(wh, wh.last_file()))[1]] == [("ALREADY_APPLIED", "SENT_AGAIN")]
    current = "SELECT version, received_on FROM conclusions WHERE entry_id = ? AND superseded_on IS NULL"
    assert wh.q(current, [p.entry_id]) == [(2, None)]
    assert wh.apply([dict(again[0], note="更正后结论已送达")]).refused == 0
    assert wh.q(current, [p.entry_id]) == [(2, RECEIVED)]


# ------------------------------------------------------------------ 3. probes (adversarial review, probe-a)


def test_a_cumulative_file_sent_again_while_its_objection_waits_for_material_says_nothing_of_it(wh):
    """docs/feedback-format.md "Applying twice": SENT_AGAIN only for a row that, applied now, would
    change the pre-service. The objection (material incomplete: ID_DOCUMENT, EVIDENCE) sent again in the
    county's cumulative file, with the supplement added after it: applied now it would be a supplement
    naming the very items still missing — no change. A plain re-send: ALREADY_APPLIED without
    SENT_AGAIN (with it, the receipt asks for a note, and the row sent again with one would put
    ID_DOCUMENT back among the missing items after the supplement)."""
    p = wh.person()
    assert wh.apply(path_rows(p, "RESULT_RECEIVED")).refused == 0
    first = [row(p, "OBJECTION_FILED", date(2026, 11, 10), items="ID_DOCUMENT;EVIDENCE")]
    assert wh.apply(first).refused == 0
    rep = wh.apply(first + [row(p, "OBJECTION_FILED", date(2026, 11, 12), items="EVIDENCE")])
    assert [g[:2] for g in _rows(wh, wh.last_file())] == [("ALREADY_APPLIED", None), ("APPLIED", None)]
    assert rep.files[0].sent_again == 0, rep.lines()
    missing = "SELECT status, missing_items FROM objections WHERE entry_id = ?"
    assert wh.q(missing, [p.entry_id]) == [("INCOMPLETE", "EVIDENCE")]


def test_an_objection_before_a_receipt_inferred_from_a_later_confirmation_is_taken(wh):
    """rules.md §7 (15 working days from the day the result was received) and docs/feedback-format.md
    "Dates" (a receipt day taken from a confirmation is a stand-in) and Events (CONFIRMED: without an
    earlier RESULT_RECEIVED the confirmation day is taken as the day of receipt): the conclusion issued
    11-05, never reported received; the employer's confirmation dated 11-20 is applied first (the
    receipt taken as 11-20), then the objection filed at the counter on 11-19. Accepted, ON_TIME (before
    the receipt day held, so before its deadline), the confirmation suspended; the receipt day and the
    deadline stay. In the other order it is accepted too: the order of reporting takes no right away."""
    p = wh.person()
    assert wh.apply(path_rows(p, "CONCLUSION_ISSUED")).refused == 0
    assert wh.apply([row(p, "CONFIRMED", date(2026, 11, 20), confirmer="EMPLOYER")]).refused == 0
    deadline = wh.one("SELECT objection_deadline FROM conclusions WHERE entry_id = ?", [p.entry_id])
    rep = wh.apply([row(p, "OBJECTION_FILED", date(2026, 11, 19))])
    assert rep.refused == 0, _rows(wh, wh.last_file())
    assert wh.stage(p) == "CONCLUDED"
    assert wh.q(
        "SELECT received_on, objection_deadline, confirmed_on FROM conclusions WHERE entry_id = ?", [p.entry_id]
    ) == [(date(2026, 11, 20), deadline, None)]
    assert wh.q("SELECT filed_on, deadline, timeliness, status FROM objections WHERE entry_id = ?", [p.entry_id]) == [
        (date(2026, 11, 19), deadline, "ON_TIME", "ACCEPTED")
    ]
    assert wh.one("SELECT stage_since FROM ledger_entries WHERE entry_id = ?", [p.entry_id]) == date(2026, 11, 20)
    # the other order: the objection first (not received yet), accepted
    q = wh.person()
    assert wh.apply(path_rows(q, "CONCLUSION_ISSUED") + [row(q, "OBJECTION_FILED", date(2026, 11, 19))]).refused == 0
    assert wh.one("SELECT status FROM objections WHERE entry_id = ?", [q.entry_id]) == "ACCEPTED"


def test_a_supplement_before_an_inferred_receipt_is_taken_and_a_reported_receipt_still_refuses(wh):
    """The format's "Dates": an incomplete objection dated before a receipt taken from a later
    confirmation, and its supplement, are taken (a supplement is dated against its objection); an
    objection before a *reported* receipt (RESULT_RECEIVED, here in the same file as the confirmation)
    is still refused DATE_OUT_OF_ORDER (rules.md §7: the deadline runs from the receipt reported)."""
    p, q = wh.person(), wh.person()
    rows = path_rows(p, "CONCLUSION_ISSUED") + [row(p, "CONFIRMED", date(2026, 11, 20), confirmer="EMPLOYER")]
    rows += path_rows(q, "CONCLUSION_ISSUED") + [
        row(q, "RESULT_RECEIVED", date(2026, 11, 10)),
        row(q, "CONFIRMED", date(2026, 11, 20), confirmer="EMPLOYER"),
        row(q, "OBJECTION_FILED", date(2026, 11, 9)),
    ]
    rows += [
        row(p, "OBJECTION_FILED", date(2026, 11, 17), items="EVIDENCE;ID_DOCUMENT"),
        row(p, "OBJECTION_FILED", date(2026, 11, 18), items="ID_DOCUMENT"),
        row(p, "OBJECTION_FILED", date(2026, 11, 19)),
    ]
    wh.apply(rows)
    got = _rows(wh, wh.last_file())
    assert got[11][:2] == ("REFUSED", "DATE_OUT_OF_ORDER") and "收到" in got[11][3]
    assert [g[:2] for g in got[:11] + got[12:]] == [("APPLIED", None)] * 14, got
    assert wh.q(
        "SELECT filed_on, timeliness, status, accepted_on FROM objections WHERE entry_id = ?", [p.entry_id]
    ) == [(date(2026, 11, 17), "ON_TIME", "ACCEPTED", date(2026, 11, 19))]
    assert wh.stage(p) == "CONCLUDED" and wh.stage(q) == "CONFIRMED"


def test_a_cumulative_file_sent_again_with_the_receipt_added_says_nothing_of_its_conclusion(wh):
    """docs/feedback-format.md "Applying twice" ("a county may re-send a file with rows added") and the
    Events table (CONCLUSION_ISSUED restating the conclusion in force is already recorded): the
    conclusion row restates version 1 (its day, its values), so it is a plain re-send — no SENT_AGAIN,
    no note asked for."""
    p = wh.person()
    assert wh.apply(path_rows(p, "CONCLUSION_ISSUED")).refused == 0
    rep = wh.apply(path_rows(p, "RESULT_RECEIVED"))
    assert [g[:2] for g in _rows(wh, wh.last_file())] == [("ALREADY_APPLIED", None)] * 4 + [("APPLIED", None)]
    assert rep.files[0].sent_again == 0, rep.lines()
    c = wh.q("SELECT version, received_on, objection_deadline FROM conclusions WHERE entry_id = ?", [p.entry_id])
    assert c == [(1, RECEIVED, DEADLINE)]


def test_a_conclusion_restated_with_another_note_keeps_version_1_its_receipt_and_deadline(wh):
    """rules.md §7 (the objection deadline runs from the day the result was received) and
    docs/feedback-format.md Events (CONCLUSION_ISSUED: one restating the conclusion in force — the
    day of its issue, the same values — is already recorded, whatever its note): sent with a note,
    as the office would after a SENT_AGAIN, it is ALREADY_APPLIED and changes nothing — no version 2,
    no RESULT notice, the receipt and the deadline kept, the confirmation too. Another value or
    another day is still a re-issue."""
    p = wh.person()
    assert wh.apply(path_rows(p, "CONFIRMED")).refused == 0
    issued = path_rows(p, "CONCLUSION_ISSUED")[-1]
    rep = wh.apply([dict(issued, note="补报")])
    assert rep.refused == 0
    assert [g[:2] for g in _rows(wh, wh.last_file())] == [("ALREADY_APPLIED", None)]
    assert rep.files[0].sent_again == 0, rep.lines()
    assert wh.q(
        "SELECT version, superseded_on, received_on, objection_deadline, confirmed_by FROM conclusions "
        "WHERE entry_id = ?",
        [p.entry_id],
    ) == [(1, None, RECEIVED, DEADLINE, "EMPLOYER")]
    assert wh.stage(p) == "CONFIRMED"
    assert wh.one("SELECT count(*) FROM feedback_events WHERE entry_id = ? AND note = '补报'", [p.entry_id]) == 0
    # another value is a re-issue (dated on or after the last stage change, the confirmation)
    later = path_rows(p, "CONFIRMED")[-1]["event_date"]
    rep = wh.apply([dict(issued, counted_months=301, event_date=later)])
    assert rep.refused == 0, _rows(wh, wh.last_file())
    assert wh.q("SELECT version, received_on FROM conclusions WHERE entry_id = ? ORDER BY version", [p.entry_id]) == [
        (1, RECEIVED),
        (2, None),
    ]
    assert wh.stage(p) == "CONCLUDED"
