"""Month-start declaration screening (rules.md §6, seed notice 二(六); outputs.md declarations)."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.errors import MonthRefused
from support.feedback import D0, Wh, mi, path_rows, row
from support.declare import confirm, declare, listed, by_id, D, DM  # noqa: F401


def text(m: int) -> str:
    return f"{m // 12:04d}-{m % 12 + 1:02d}"


@pytest.fixture
def wh(tmp_path):
    return Wh(tmp_path)


def test_window_boundaries_and_declaration(wh):
    ps = {k: wh.person(S=D + k) for k in (0, 1, 3, 4)}
    confirm(wh, ps.values())
    rep = declare(wh)
    assert rep.counts["DECLARATION"] == 2 and rep.counts["notices DECLARATION"] == 2, rep.lines()
    got = by_id(listed(wh))
    assert set(got) == {ps[1].id_no, ps[3].id_no}
    r = got[ps[1].id_no]
    assert (r["name"], r["office_code"], r["retirement_month"], r["decision"], r["retirement_source"], r["stage"]) == (
        "测试2",
        "640104",
        text(D + 1),
        "DECLARATION",
        "STATUTORY",
        "DECLARED",
    )
    assert "300 >= minimum 180" in r["reason"]
    assert wh.stage(ps[1]) == wh.stage(ps[3]) == "DECLARED"
    assert wh.stage(ps[0]) == wh.stage(ps[4]) == "CONFIRMED"
    n = wh.q(
        "SELECT id_no, kind, reference_mi, issued_mi FROM notice_log WHERE kind = 'DECLARATION' ORDER BY reference_mi"
    )
    assert n == [(ps[1].id_no, "DECLARATION", D + 1, D), (ps[3].id_no, "DECLARATION", D + 3, D)]
    t = wh.q(
        "SELECT from_stage, to_stage, event_date, source FROM ledger_transitions "
        "WHERE entry_id = ? AND to_stage = 'DECLARED'",
        [ps[1].entry_id],
    )
    assert t == [("CONFIRMED", "DECLARED", date(2026, 12, 1), "declare:2026-12")]
    assert wh.q("SELECT command, status, month_mi FROM month_runs") == [("declare", "DONE", D)]
    # the notices join P's SMS batch (issued_mi = P, above), which P's run writes: declare itself
    # writes no notifications/, so no notice is in two published files
    assert not (wh.tmp / "out" / DM / "notifications").exists()
    assert rep.counts["SMS batch month"] == DM


def test_declare_after_the_month_run_joins_the_next_batch(wh):
    """When P's run (and so P's SMS batch) is already done, the notices go to the next month's
    batch: never issued into a batch that has been written."""
    p = wh.person(S=D + 2)
    confirm(wh, [p])
    with wh.raw() as con:
        con.execute("INSERT INTO month_runs VALUES (?, 'run', 1, false, now(), now(), 'DONE')", [D])
    rep = declare(wh)
    assert rep.counts["SMS batch month"] == "2027-01"
    assert wh.q("SELECT kind, reference_mi, issued_mi FROM notice_log WHERE kind = 'DECLARATION'") == [
        ("DECLARATION", D + 2, D + 1)
    ]


def test_elected_month_overrides_statutory(wh):
    a = wh.person(S=D + 6)
    b = wh.person(S=D + 2)
    confirm(wh, [a, b])
    rep = wh.apply(
        [
            row(a, "ELECTED_MONTH", D0 + timedelta(days=8), elected_month=text(D + 2)),
            row(b, "ELECTED_MONTH", D0 + timedelta(days=8), elected_month=text(D + 8)),
        ]
    )
    assert rep.refused == 0
    declare(wh)
    got = by_id(listed(wh))
    assert set(got) == {a.id_no}
    assert (
        got[a.id_no]["retirement_month"],
        got[a.id_no]["retirement_source"],
        got[a.id_no]["statutory_age_month"],
    ) == (text(D + 2), "ELECTED", text(D + 6))
    assert wh.q("SELECT reference_mi FROM notice_log WHERE kind = 'DECLARATION'") == [(D + 2,)]


def test_consultation_by_minimum_of_the_retirement_year(wh):
    m = mi(2029, 11)
    a = wh.person(S=mi(2029, 12), counted=183)  # 2029: minimum 180
    b = wh.person(S=mi(2030, 1), counted=183)  # 2030: minimum 186
    confirm(wh, [a, b], CONCLUSION_ISSUED={"counted_months": 183})
    # the hand-made warehouse's only push is of 2026-11: a declaration three years on is forced (issue 14)
    rep = declare(wh, "2029-11", ahead_of_push=True)
    got = by_id(listed(wh, "2029-11"))
    assert (got[a.id_no]["decision"], got[a.id_no]["min_contribution_months"]) == ("DECLARATION", 180)
    assert (got[b.id_no]["decision"], got[b.id_no]["min_contribution_months"]) == ("CONSULTATION", 186)
    assert "183 < minimum 186 for 2030" in got[b.id_no]["reason"]
    assert rep.counts["notices CONSULTATION"] == 1
    assert wh.q(
        "SELECT kind, reference_mi, issued_mi FROM notice_log WHERE id_no = ? AND kind <> 'RESULT'", [b.id_no]
    ) == [("CONSULTATION", mi(2030, 1), m)]
    assert wh.stage(b) == "CONFIRMED"  # a consultation does not declare


def test_conclusion_months_win_over_screening(wh):
    a = wh.person(S=D + 2, counted=300)
    b = wh.person(S=D + 2, counted=150)
    rows = path_rows(a, "CONFIRMED", CONCLUSION_ISSUED={"counted_months": 170})
    rows += path_rows(b, "CONFIRMED", CONCLUSION_ISSUED={"counted_months": 200})
    assert wh.apply(rows).refused == 0
    declare(wh)
    got = by_id(listed(wh))
    assert (got[a.id_no]["decision"], got[a.id_no]["counted_contribution_months"]) == ("CONSULTATION", 170)
    assert (got[b.id_no]["decision"], got[b.id_no]["counted_contribution_months"]) == ("DECLARATION", 200)


def test_follow_up_listed_not_notified(wh):
    a = wh.person(S=D + 1)
    b = wh.person(S=D + 2)
    c = wh.person(S=D + 3)
    rows = [row(b, "ARCHIVE_REVIEWED", D0, result="PASS")]
    rows += path_rows(c, "RESULT_RECEIVED") + [row(c, "OBJECTION_FILED", D0 + timedelta(days=6))]
    assert wh.apply(rows).refused == 0
    rep = declare(wh)
    got = by_id(listed(wh))
    assert {k: v["decision"] for k, v in got.items()} == {
        a.id_no: "FOLLOW_UP",
        b.id_no: "FOLLOW_UP",
        c.id_no: "FOLLOW_UP",
    }
    assert got[a.id_no]["reason"].startswith("pre-service not complete: stage NOTIFIED since 2026-11-01")
    assert "stage ARCHIVE_REVIEWED since 2026-11-02" in got[b.id_no]["reason"]
    assert "objection open" in got[c.id_no]["reason"]
    assert wh.one("SELECT count(*) FROM notice_log WHERE kind IN ('DECLARATION', 'CONSULTATION')") == 0
    assert rep.counts["FOLLOW_UP"] == 3


def test_deceased_and_retired_left_out(wh):
    alive = wh.person(S=D + 2)
    dead = wh.person(S=D + 2, survival=2)  # the latest person data, though the screening said alive
    gone = wh.person(S=D + 2, retired=True)
    confirm(wh, [alive])
    rows = path_rows(dead, "CONCLUSION_ISSUED") + path_rows(gone, "CONCLUSION_ISSUED")
    assert wh.apply(rows).refused == 0
    rep = declare(wh)
    assert set(by_id(listed(wh))) == {alive.id_no}
    assert (rep.counts["left out: deceased"], rep.counts["left out: retired"]) == (1, 1)


def test_office_isolation_and_file_format(wh):
    a = wh.person(S=D + 2, office="640104")
    b = wh.person(S=D + 2, office="640202")
    c = wh.person(S=D + 3, office="640202")
    confirm(wh, [a, b])
    declare(wh)
    base = wh.tmp / "out" / DM / "declarations"
    offices = sorted(p.name for p in base.iterdir())
    assert len(offices) == 29 and "640900" in offices
    assert [r["id_no"] for r in listed(wh, office="640104")] == [a.id_no]
    assert {r["id_no"] for r in listed(wh, office="640202")} == {b.id_no, c.id_no}
    assert listed(wh, office="640100") == []
    for r in listed(wh, office="640202"):
        assert r["office_code"] == "640202"
    cols = list(listed(wh, office="640104")[0])
    assert cols[:6] == ["id_no", "name", "office_code", "retirement_month", "decision", "reason"]
    raw = (base / "640104" / "declarations.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with open(base / "640104" / "declarations.csv", encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh))
    assert header[:6] == ["公民身份号码", "姓名", "牵头经办机构代码", "退休年月", "筛查结论", "原因"]


def _files(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_idempotent_rerun_same_files_no_new_notices(wh):
    ps = [wh.person(S=D + k) for k in (1, 2, 3)]
    confirm(wh, ps[:2])
    declare(wh)
    root = wh.tmp / "out" / DM
    first = _files(root)
    notices = wh.q("SELECT * FROM notice_log ORDER BY notice_id")
    transitions = wh.one("SELECT count(*) FROM ledger_transitions")
    rep = declare(wh)
    assert rep.counts["notices DECLARATION"] == 0 and rep.counts["moved to DECLARED"] == 0
    assert _files(root) == first
    assert wh.q("SELECT * FROM notice_log ORDER BY notice_id") == notices
    assert wh.one("SELECT count(*) FROM ledger_transitions") == transitions
    assert wh.q("SELECT command, status FROM month_runs") == [("declare", "DONE")] * 2


def test_next_month_lists_again_without_a_second_notice(wh):
    p = wh.person(S=D + 3)
    confirm(wh, [p])
    declare(wh)
    rep = declare(wh, text(D + 1))
    assert [r["decision"] for r in listed(wh, text(D + 1))] == ["DECLARATION"]
    assert rep.counts["notices DECLARATION"] == 0
    assert wh.one("SELECT count(*) FROM notice_log WHERE kind = 'DECLARATION'") == 1


def test_earlier_month_needs_replay_and_replay_rewrites_from_stored_decisions(wh):
    p = wh.person(S=D + 2)
    confirm(wh, [p])
    declare(wh)
    declare(wh, text(D + 1))
    with pytest.raises(MonthRefused):
        declare(wh, DM)
    f = wh.tmp / "out" / DM / "declarations" / "640104" / "declarations.csv"
    before = f.read_bytes()
    f.unlink()
    rep = declare(wh, DM, replay=True)
    assert rep.replay and f.read_bytes() == before


def test_no_screening_refused(tmp_path):
    wh = Wh(tmp_path)
    with pytest.raises(MonthRefused):
        declare(wh)


def test_demo_feedback_walks_the_whole_path(wh):
    from pipelines.feedback import demo_feedback

    ps = [
        wh.person(S=D + 2),
        wh.person(S=D + 8),
        wh.person(S=D + 3),
        wh.person(S=D + 2, counted=150),
        wh.person(S=D + 1),
        wh.person(S=D + 20, itype=170),
    ]
    files = demo_feedback(wh.path, wh.tmp / "fb", "2026-11", settings=wh.settings)
    again = demo_feedback(wh.path, wh.tmp / "fb2", "2026-11", settings=wh.settings)
    assert [f.read_bytes() for f in files] == [f.read_bytes() for f in again]
    assert [f.name for f in files] == ["feedback-640104-2026-11.csv"]
    from pipelines.feedback import apply_feedback_files

    rep = apply_feedback_files(files, wh.path, wh.settings)
    assert rep.files[0].reasons == {"WRONG_CONFIRMER": 1, "OUTSIDE_FLEXIBLE_WINDOW": 1}, rep.lines()
    assert sorted(r[0] for r in wh.q("SELECT status FROM objections")) == ["REJECTED", "UPHELD"]
    rep = declare(wh)
    assert (rep.counts["DECLARATION"], rep.counts["CONSULTATION"], rep.counts["FOLLOW_UP"]) == (3, 1, 1), rep.lines()
    assert ps[5].id_no not in by_id(listed(wh))


def test_month_declared_before_the_file_columns_were_stored_replays_from_lookups(wh):
    # a warehouse whose declaration_decisions rows predate the stored file columns
    # (file_columns_stored NULL): the replay looks name, statutory month, officer and channel up
    ps = [wh.person(S=D + k) for k in (1, 2)]
    confirm(wh, ps[:1])
    declare(wh)
    declare(wh, text(D + 1))
    f = wh.tmp / "out" / DM / "declarations" / "640104" / "declarations.csv"
    before = f.read_bytes()
    con = duckdb.connect(str(wh.path))
    con.execute(
        "UPDATE declaration_decisions SET name = NULL, statutory_age_mi = NULL, officer_id = NULL, "
        "channel = NULL, file_columns_stored = NULL"
    )
    con.close()
    declare(wh, DM, replay=True)
    assert f.read_bytes() == before
