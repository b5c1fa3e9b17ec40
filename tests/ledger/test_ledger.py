"""rules.md §3 ledger (一人一档): taken in, kept until closed, handovers, officers, transitions."""

from __future__ import annotations


import pytest

from pipelines import ledger, screen
from pipelines.monthly import month_context
from pipelines.warehouse import connect
from support.pushkit import person, segment
from support.screen import born
from support.ledger import Push, entry, run_push_month, feedback_to_conclusion, correction_push  # noqa: F401

P = "2026-11"


def test_kept_after_window_passes(tmp_path):
    push = Push(tmp_path)
    p = person(1, birth_date=born(0))
    push.month("2026-11", [p])
    assert entry(push, p["id_no"])[0] == "ENROLLED"
    # 14 months later the 12-month window has passed: still in the ledger
    push.month("2028-01", [p])
    e = entry(push, p["id_no"])
    assert e[2] is None and e[0] == "ENROLLED"


def test_closing_reasons_and_handover(tmp_path):
    push = Push(tmp_path)
    ps = [person(n, birth_date=born(3)) for n in range(1, 6)]
    push.month("2026-11", ps)
    later = [
        dict(ps[0], survival_status=2),
        dict(ps[1], retired=1),
        dict(ps[3], hukou_region="620102"),
        ps[4],
    ]  # ps[2] absent from the FULL
    segs = [segment(p["id_no"]) for p in later[:2] + [later[3]]]
    segs += [
        segment(ps[3]["id_no"], "620102", "199001", "200912", 1),
        segment(ps[3]["id_no"], "640104", "201001", "201512", 1),
    ]
    push.month("2026-12", later, segs)
    reasons = [entry(push, p["id_no"])[3] for p in ps]
    assert reasons == ["DECEASED", "RETIRED", "LEFT_PUSH", "MOVED_OUT", None]
    h = push.q("SELECT kind, from_code, to_code FROM handovers WHERE id_no = ?", [ps[3]["id_no"]])
    assert h == [("BENEFIT_PLACE_OUT", "640104", "620000")]
    # every transition kept with its source
    t = push.q(
        "SELECT from_stage, to_stage, source FROM ledger_transitions WHERE id_no = ? ORDER BY recorded_at",
        [ps[0]["id_no"]],
    )
    assert t == [(None, "ENROLLED", "run:2026-11"), ("ENROLLED", "DECEASED", "run:2026-12")]


def test_office_change_is_handed_over_and_reassigned(tmp_path):
    push = Push(tmp_path)
    p = person(1, birth_date=born(3))
    push.month("2026-11", [p])
    assert entry(push, p["id_no"])[4].startswith("640104-")
    push.month("2026-12", [dict(p, insured_region="640521")])
    e = entry(push, p["id_no"])
    assert e[1] == "640521" and e[4].startswith("640521-") and e[2] is None
    assert push.q("SELECT kind, from_code, to_code FROM handovers") == [("OFFICE_CHANGE", "640104", "640521")]


def test_benefit_place_moving_in_is_handed_over(tmp_path):
    push = Push(tmp_path)
    p = person(1, birth_date=born(3), hukou_region="620102")
    out_segs = [
        segment(p["id_no"], "620102", "199001", "200912", 1),
        segment(p["id_no"], "640104", "201001", "201512", 1),
    ]
    push.month("2026-11", [p], out_segs)
    assert entry(push, p["id_no"]) is None  # benefit place Gansu: not served here
    in_segs = out_segs[:1] + [segment(p["id_no"], "640104", "201001", "202012", 1)]  # 132 months in NX now
    push.month("2026-12", [p], in_segs)
    assert entry(push, p["id_no"])[0] == "ENROLLED"
    assert push.q("SELECT kind, from_code, to_code FROM handovers") == [("BENEFIT_PLACE_IN", "620000", "640104")]


def test_benefit_place_moves_outside_the_ledger_are_handed_over(tmp_path):
    """rules.md §2: any person whose place moves into or out of Ningxia between two months,
    not only ledger entries; a later entry does not repeat the move."""
    push = Push(tmp_path)
    far = person(1, birth_date=born(40))  # 40 months before O: not in scope
    late = person(2, birth_date=born(20), hukou_region="620102")
    gs = [
        segment(late["id_no"], "620102", "199001", "200912", 1),
        segment(late["id_no"], "640104", "201001", "201512", 1),
    ]
    push.month("2026-11", [far, late], [segment(far["id_no"])] + gs)
    assert push.q("SELECT count(*) FROM ledger_entries") == [(0,)]
    far_out = [
        segment(far["id_no"], "620102", "199001", "200912", 1),
        segment(far["id_no"], "640104", "201001", "201512", 1),
    ]
    late_in = gs[:1] + [segment(late["id_no"], "640104", "201001", "202012", 1)]
    push.month("2026-12", [dict(far, hukou_region="620102"), late], far_out + late_in)
    assert push.q("SELECT count(*) FROM ledger_entries") == [(0,)]  # neither is taken in
    h = push.q("SELECT id_no, kind, from_code, to_code FROM handovers WHERE month_mi = 24323 ORDER BY kind")
    assert h == [
        (late["id_no"], "BENEFIT_PLACE_IN", "620000", "640104"),
        (far["id_no"], "BENEFIT_PLACE_OUT", "640104", "620000"),
    ]
    # January: arrears take `late` in by screening; the move was December's, handed over once
    push.month("2027-01", [dict(far, hukou_region="620102"), dict(late, arrears_months=2)], far_out + late_in)
    assert entry(push, late["id_no"])[0] == "ENROLLED"
    assert push.q("SELECT count(*) FROM handovers WHERE month_mi = 24324") == [(0,)]


def test_rerun_of_a_month_changes_nothing(tmp_path):
    push = Push(tmp_path)
    ps = [person(n, birth_date=born(n)) for n in range(1, 8)]
    push.month("2026-11", ps)
    before = push.q("SELECT * FROM ledger_entries ORDER BY entry_id")
    with connect(push.wh, settings=push.settings) as con:
        ctx = month_context(con, "2026-11", push.settings)
        screen.screen_month(con, ctx, validate=False)
        counts = ledger.update_ledger(con, ctx, validate=False)
    assert counts == {"entries opened": 0, "entries closed": 0, "office changes": 0}
    assert push.q("SELECT * FROM ledger_entries ORDER BY entry_id") == before
    assert push.q("SELECT count(*) FROM ledger_transitions")[0][0] == len(ps)


def test_officers_balanced_by_open_load(tmp_path):
    push = Push(tmp_path)
    ps = [person(n, birth_date=born(n % 12)) for n in range(1, 41)]
    push.month("2026-11", ps)
    load = dict(push.q("SELECT officer_id, count(*) FROM ledger_entries GROUP BY 1"))
    assert set(load) == {"640104-01", "640104-02", "640104-03", "640104-04"}
    assert max(load.values()) - min(load.values()) <= 1


def test_taken_in_by_which_trigger(tmp_path):
    push = Push(tmp_path)
    ps = [person(1, birth_date=born(5)), person(2, birth_date=born(20), arrears_months=2)]
    push.month("2026-11", ps)
    assert entry(push, ps[0]["id_no"])[5] == "PUSH"
    assert entry(push, ps[1]["id_no"])[5] == "SCREENING"


def test_rerun_keeps_an_entry_closed_left_push_on_the_worklist(tmp_path):
    """A rerun of P (e.g. completing a killed run) screens the persons whose entry P closed:
    the closed entry stays on P's worklist, as in the first run."""
    from pipelines.monthly import run_month

    push = Push(tmp_path)
    a, b = person(1, birth_date=born(3)), person(2, birth_date=born(4))
    run_push_month(push, "2026-11", [a, b])
    run_push_month(push, "2026-12", [b])  # a left the push
    assert entry(push, a["id_no"])[3] == "LEFT_PUSH"
    wl = tmp_path / "out" / "2026-12" / "worklists" / "640104" / "worklist.csv"
    first = wl.read_bytes()
    assert first.count(b"\n") == 3  # header + a (closed in P) + b
    run_month("2026-12", push.wh, tmp_path / "out", validate=False)
    assert wl.read_bytes() == first
    assert push.q("SELECT count(*) FROM screen_results WHERE month_mi = 24323 AND id_no = ?", [a["id_no"]]) == [(1,)]


def _history(push: Push, id_no: str):
    return push.q(
        "SELECT from_stage, to_stage, month_mi, source FROM ledger_transitions WHERE id_no = ? "
        "ORDER BY recorded_at, to_stage",
        [id_no],
    )


@pytest.mark.parametrize("wrong", ["absent", "deceased", "retired"])
def test_correction_push_reopens_what_the_run_of_the_month_closed(tmp_path, wrong):
    """December's FULL wrongly leaves a out (or says a died, or retired): the run closes a's entry. A
    correction FULL of December brings a back and December is run again: the same entry is open again
    in the stage it was closed from, with that stage's clock (both steps in its history), and January opens no second entry
    and sends no second PRE_SERVICE (rules.md §3, §5; docs/decisions.md)."""
    push = Push(tmp_path)
    a, b = person(1, birth_date=born(6)), person(2, birth_date=born(7))
    run_push_month(push, "2026-11", [a, b])
    entry_id, clock = push.q(
        "SELECT entry_id, (stage_since, due_date) FROM ledger_entries WHERE id_no = ?", [a["id_no"]]
    )[0]
    bad = {"absent": [b], "deceased": [dict(a, survival_status=2), b], "retired": [dict(a, retired=1), b]}[wrong]
    run_push_month(push, "2026-12", bad)
    closed = {"absent": "LEFT_PUSH", "deceased": "DECEASED", "retired": "RETIRED"}[wrong]
    assert entry(push, a["id_no"])[:4] == (closed, "640104", 24323, closed)
    correction_push(push, "2026-12", [a, b])
    assert push.q(
        "SELECT entry_id, stage, closed_mi, close_reason FROM ledger_entries WHERE id_no = ?", [a["id_no"]]
    ) == [(entry_id, "NOTIFIED", None, None)]
    # the stage's clock as before the closing (work overdue in November stays overdue)
    assert push.q("SELECT (stage_since, due_date) FROM ledger_entries WHERE id_no = ?", [a["id_no"]]) == [(clock,)]
    assert _history(push, a["id_no"])[-2:] == [
        ("NOTIFIED", closed, 24323, "run:2026-12"),
        (closed, "NOTIFIED", 24323, "run:2026-12"),
    ]
    import pyarrow.parquet as pq

    december = pq.read_table(tmp_path / "out" / "2026-12" / "worklists" / "640104" / "worklist.parquet").to_pylist()
    assert {r["id_no"]: r["stage"] for r in december} == {a["id_no"]: "NOTIFIED", b["id_no"]: "NOTIFIED"}
    run_push_month(push, "2027-01", [dict(a, op="U")], push_type="INCR")
    assert push.q("SELECT count(*) FROM ledger_entries WHERE id_no = ?", [a["id_no"]]) == [(1,)]
    assert push.q("SELECT kind FROM notice_log WHERE id_no = ? AND kind = 'PRE_SERVICE'", [a["id_no"]]) == [
        ("PRE_SERVICE",)
    ]


def test_a_closing_the_correction_confirms_or_a_county_retirement_is_not_reopened(tmp_path):
    """Reopening needs the closing reason gone: a correction that still leaves a out changes nothing
    (a rerun is idempotent); MOVED_OUT (its handover has gone out) and a county RETIRED stay closed."""
    from pipelines.feedback import apply_feedback_files

    push = Push(tmp_path)
    a, b, c = (person(n, birth_date=born(6)) for n in (1, 2, 3))
    run_push_month(push, "2026-11", [a, b, c])
    f = tmp_path / "fb.csv"
    f.write_text(f"office_code,event,id_no,event_date\n640104,RETIRED,{c['id_no']},2026-12-03\n", encoding="utf-8")
    assert apply_feedback_files([f], push.wh).files[0].refused == 0
    moved = dict(b, hukou_region="620102")
    segs = [
        segment(b["id_no"], "620102", "199001", "200912", 1),
        segment(b["id_no"], "640104", "201001", "201512", 1),
        segment(c["id_no"]),
    ]
    run_push_month(push, "2026-12", [moved, c], segs)  # a left out, b moved out
    before = push.q("SELECT entry_id, stage, closed_mi, close_reason FROM ledger_entries ORDER BY id_no")
    assert sorted(r[3] for r in before) == ["LEFT_PUSH", "MOVED_OUT", "RETIRED"]
    correction_push(push, "2026-12", [moved, c])  # still without a
    assert push.q("SELECT entry_id, stage, closed_mi, close_reason FROM ledger_entries ORDER BY id_no") == before
    correction_push(push, "2026-12", [a, b, c])  # a back; b's place back in Ningxia
    after = {r[0]: r[1:] for r in push.q("SELECT id_no, stage, close_reason FROM ledger_entries")}
    assert after == {
        a["id_no"]: ("NOTIFIED", None),
        b["id_no"]: ("MOVED_OUT", "MOVED_OUT"),
        c["id_no"]: ("RETIRED", "RETIRED"),
    }


@pytest.mark.parametrize(
    "retired_on, closed_mi, retired_in_december",
    [
        ("2026-11-20", 24322, True),  # closed in November: retired for December's screening
        ("2027-01-04", 24324, False),  # dated after December: closes then, in stage RETIRED now,
    ],
)  # and stays on December's worklist (open in December)
def test_county_reported_retirement_is_not_taken_in_again(tmp_path, retired_on, closed_mi, retired_in_december):
    """Feedback RETIRED closes the entry while the push still says retired=0 the next month (it lags):
    December's run opens no second entry, and no second PRE_SERVICE nor any reminder goes out."""
    from pipelines.feedback import apply_feedback_files

    push = Push(tmp_path)
    p = person(1, birth_date=born(4))
    run_push_month(push, "2026-11", [p])
    f = tmp_path / "fb.csv"
    f.write_text(f"office_code,event,id_no,event_date\n640104,RETIRED,{p['id_no']},{retired_on}\n", encoding="utf-8")
    apply_feedback_files([f], push.wh)
    run_push_month(push, "2026-12", [dict(p, op="U")], push_type="INCR")
    assert push.q("SELECT stage, closed_mi, close_reason FROM ledger_entries WHERE id_no = ?", [p["id_no"]]) == [
        ("RETIRED", closed_mi, "RETIRED")
    ]
    assert push.q("SELECT kind, issued_mi FROM notice_log WHERE id_no = ?", [p["id_no"]]) == [("PRE_SERVICE", 24322)]
    assert push.q("SELECT retired FROM screen_results WHERE month_mi = 24323 AND id_no = ?", [p["id_no"]]) == [
        (retired_in_december,)
    ]
    december = tmp_path / "out" / "2026-12" / "worklists" / "640104" / "worklist.csv"
    on_worklist = december.exists() and p["id_no"] in december.read_text(encoding="utf-8-sig")
    assert on_worklist == (not retired_in_december)


def test_a_retirement_the_push_withdraws_is_taken_in_again(tmp_path):
    """Only a county-reported retirement outlives the push: a push retired=1 the Ministry corrects
    to 0 the next month lets the person in again (the run's own RETIRED follows the push)."""
    push = Push(tmp_path)
    p = person(1, birth_date=born(4))
    run_push_month(push, "2026-11", [p])
    run_push_month(push, "2026-12", [dict(p, retired=1)])
    run_push_month(push, "2027-01", [p])
    rows = push.q("SELECT opened_mi, close_reason FROM ledger_entries WHERE id_no = ? ORDER BY opened_mi", [p["id_no"]])
    assert rows == [(24322, "RETIRED"), (24324, None)]


def test_notices_follow_a_person_who_changed_office_in_p(tmp_path):
    """A RESULT issued for December by November's feedback (office 640104), then December's push moves
    the person to 640521: December's files put the notice with the rest of the person's month, in
    640521's folder (outputs.md: an office never receives another office's persons)."""
    push = Push(tmp_path)
    p = person(1, birth_date=born(4))
    run_push_month(push, "2026-11", [p])
    feedback_to_conclusion(push, p, first_day=20)
    assert push.q("SELECT office_code, issued_mi FROM notice_log WHERE kind = 'RESULT'") == [("640104", 24323)]
    run_push_month(push, "2026-12", [dict(p, insured_region="640521")])
    dec = tmp_path / "out" / "2026-12"
    assert (dec / "worklists" / "640521" / "worklist.csv").exists()
    assert not (dec / "worklists" / "640104").exists()
    assert not (dec / "notifications" / "640104").exists()
    sms = (dec / "notifications" / "640521" / "sms.csv").read_text(encoding="utf-8-sig")
    assert "RESULT" in sms and p["id_no"] in sms
    # the report and office_progress count it where it was filed; a replay files it the same way
    assert push.q("SELECT office_code, notices_sent FROM office_progress WHERE notices_sent > 0 ORDER BY 1") == [
        ("640104", 1),
        ("640521", 1),
    ]  # November's PRE_SERVICE, December's RESULT
    run_push_month(push, "2027-01", [dict(p, insured_region="640521")])
    from pipelines.monthly import run_month

    run_month("2026-12", push.wh, tmp_path / "replay", replay=True, validate=False)
    assert (tmp_path / "replay" / "2026-12" / "notifications" / "640521" / "sms.csv").read_bytes() == (
        dec / "notifications" / "640521" / "sms.csv"
    ).read_bytes()


def test_a_notice_raised_before_the_push_goes_by_the_push_s_channel(tmp_path):
    """A RESULT raised in November for December's batch, when December's push has no mobile any more:
    it goes through the employer with December's files, as the worklist says (rules.md §5)."""
    push = Push(tmp_path)
    p = person(1, birth_date=born(4))
    run_push_month(push, "2026-11", [p])
    feedback_to_conclusion(push, p, first_day=20)
    assert push.q("SELECT channel FROM notice_log WHERE kind = 'RESULT'") == [("SMS",)]
    run_push_month(push, "2026-12", [dict(p, phone="0951-5012345")])
    assert push.q("SELECT channel, phone, segments, offline_reason FROM notice_log WHERE kind = 'RESULT'") == [
        ("EMPLOYER", None, None, "phone is not a valid mobile")
    ]
    dec = tmp_path / "out" / "2026-12"
    assert "RESULT" in (dec / "notifications" / "640104" / "offline.csv").read_text(encoding="utf-8-sig")
    assert "RESULT" not in (dec / "notifications" / "640104" / "sms.csv").read_text(encoding="utf-8-sig")
    assert push.q("SELECT channel FROM worklist_rows WHERE month_mi = 24323") == [("EMPLOYER",)]


def test_the_one_time_missing_material_notice_reaches_the_worklist(tmp_path):
    """rules.md §7 "incomplete → one notice listing all missing items": while the objection waits
    for material, the office's worklist carries that notice (the office hands it to the applicant)."""
    import csv as _csv

    from pipelines.monthly import run_month

    push = Push(tmp_path)
    p = person(1, birth_date=born(4))
    run_push_month(push, "2026-11", [p])
    feedback_to_conclusion(
        push,
        p,
        first_day=2,
        then=[
            {"event": "RESULT_RECEIVED", "event_date": "2026-11-06"},
            {"event": "OBJECTION_FILED", "event_date": "2026-11-09", "items": "EVIDENCE;WORK_HISTORY"},
        ],
    )
    run_month("2026-11", push.wh, tmp_path / "out", validate=False)  # the month again, with the feedback
    rows = list(
        _csv.DictReader(
            (tmp_path / "out" / "2026-11" / "worklists" / "640104" / "worklist.csv")
            .read_text(encoding="utf-8-sig")
            .splitlines()
        )
    )
    assert rows[0]["异议状态"] == "INCOMPLETE"
    assert "请一次性补充以下全部材料：相关佐证材料、工作经历材料" in rows[0]["异议补正告知"]


def test_place_moves_in_buckets_equal_one_pass(tmp_path, monkeypatch):
    """issue 19: the handovers of benefit places moved out of (or into) Ningxia between two months
    (rules.md §2, sql/ledger/35_place_moves.sql) found bucket by bucket of persons are those of one
    pass: a person's two months are in one bucket."""

    def handovers(name, per_pass):
        monkeypatch.setattr(ledger, "PLACE_MOVES_PERSONS", per_pass)
        push = Push(tmp_path / name)
        people = [person(i, birth_date=born(60 + i)) for i in range(1, 9)]  # far from any window
        push.month("2026-11", people)
        moved = [dict(p, hukou_region="620102") for p in people[:6]] + people[6:]
        segs = []
        for p in moved[:6]:
            segs += [
                segment(p["id_no"], "620102", "199001", "200912", 1),
                segment(p["id_no"], "640104", "201001", "201512", 1),
            ]
        push.month("2026-12", moved, segs)
        return push.q("SELECT * FROM handovers ORDER BY ALL")

    one = handovers("one", 5_000_000)
    many = handovers("many", 2)  # 8 persons in 4 buckets
    assert len(one) == 6 and all(r[2] == "BENEFIT_PLACE_OUT" for r in one)
    assert many == one


def test_office_moves_in_buckets_equal_one_pass(tmp_path, monkeypatch):
    """issue 19, twenty-second session: the open entries whose office changed (rules.md §3,
    sql/ledger/15_moved_office.sql) found bucket by bucket of entries are those of one pass: an entry
    and its person's screening are in one bucket; the handovers, transitions and entries that follow
    are the same."""

    def ledger_after(name, per_pass):
        monkeypatch.setattr(ledger, "MOVED_OFFICE_ENTRIES", per_pass)
        push = Push(tmp_path / name)
        people = [person(i, birth_date=born(3 + i % 4)) for i in range(1, 9)]  # all in the ledger
        push.month("2026-11", people)
        push.month("2026-12", [dict(p, insured_region="640521") for p in people[:5]] + people[5:])
        return [
            push.q("SELECT kind, id_no, from_code, to_code, reason FROM handovers ORDER BY ALL"),
            push.q("SELECT entry_id, from_stage, to_stage, detail FROM ledger_transitions ORDER BY ALL"),
            push.q("SELECT entry_id, office_code, officer_id IS NULL, stage FROM ledger_entries ORDER BY ALL"),
        ]

    one = ledger_after("one", 4_000_000)
    many = ledger_after("many", 2)  # 8 open entries in 4 buckets
    assert [r[0] for r in one[0]] == ["OFFICE_CHANGE"] * 5
    assert many == one


def test_opening_in_buckets_equals_one_pass(tmp_path, monkeypatch):
    """issue 19, twenty-second session: the persons taken in (rules.md §3, sql/ledger/25_opening.sql)
    found bucket by bucket of screened persons are those of one pass, the new ones, those with an
    entry open and one taken in again alike; the entries, transitions and handovers that follow are
    the same."""

    def ledger_after(name, per_pass):
        monkeypatch.setattr(ledger, "OPENING_PERSONS", per_pass)
        push = Push(tmp_path / name)
        people = [person(i, birth_date=born(3 + i % 4)) for i in range(1, 9)]
        push.month("2026-11", people[:5])
        # 6–8 new in the push, 1 dies, 2 leaves it
        push.month("2026-12", [dict(people[0], survival_status="2")] + people[2:])
        push.month("2027-01", people)  # 1 (alive again in the push) and 2 return: both taken in again
        return [
            push.q(
                "SELECT entry_id, office_code, opened_mi, opened_by, stage, closed_mi FROM ledger_entries ORDER BY ALL"
            ),
            push.q("SELECT entry_id, from_stage, to_stage, month_mi, detail FROM ledger_transitions ORDER BY ALL"),
            push.q("SELECT * FROM handovers ORDER BY ALL"),
        ]

    one = ledger_after("one", 5_000_000)
    many = ledger_after("many", 2)  # up to 8 screened persons in 4 buckets
    assert len(one[0]) == 10 and sum(r[2] == 24324 for r in one[0]) == 2  # two taken in again in 2027-01
    assert many == one
