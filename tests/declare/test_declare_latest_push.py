"""The month-start declaration screening on the latest push (rules.md §6, §1, §3): a push applied after
the last screening — a corrected birth date or person type, a move to another office — is what the
declaration list and its notices say, and an elected month the latest data puts outside the flexible
window is never declared (docs/decisions.md "Declaration on the latest push").

Found by an adversarial probe (thirteenth session): `declare` took S from the screening of the month
before while re-checking alive and retired on the newer push, and so asked a person whose birth date
the push had corrected to declare in the wrong month; it listed a person the push had moved in the
old office's file; and it declared an elected month four years before a woman's original age after
her person type was corrected."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.declare import declare_month
from support.pushkit import make_id, person
from support.ledger import Push, feedback_to_conclusion, run_push_month

CONFIRM = (
    {"event": "RESULT_RECEIVED", "event_date": "2026-11-20"},
    {"event": "CONFIRMED", "event_date": "2026-11-21", "confirmer": "EMPLOYER"},
)


def _p(n: int, birth: str, **kw) -> dict:
    p = person(n, birth_date=birth, arrears_months=2, **kw)  # in scope by a flag (rules.md §3 trigger 3)
    p["id_no"] = make_id(prefix="640104", birth=birth, seq=n, gender=int(kw.get("gender", 1)))
    return p


def _decisions(push: Push, month_mi: int) -> dict:
    rows = push.q(
        "SELECT id_no, office_code, retirement_mi, decision, reason FROM declaration_decisions WHERE month_mi = ?",
        [month_mi],
    )
    return {r[0]: r[1:] for r in rows}


def _notices(push: Push, kind: str) -> dict:
    return {
        r[0]: r[1:]
        for r in push.q("SELECT id_no, reference_mi, office_code, text FROM notice_log WHERE kind = ?", [kind])
    }


def _listed(push: Push, month: str, office: str) -> set:
    f = push.tmp / "out" / month / "declarations" / office / "declarations.parquet"
    return {r[0] for r in duckdb.sql(f"SELECT id_no FROM '{f}'").fetchall()}


def mi(ym: str) -> int:
    y, m = ym.split("-")
    return int(y) * 12 + int(m) - 1


@pytest.fixture(scope="module")
def corrected(tmp_path_factory):
    """Five confirmed men and women of 640104 (S 2027-01 … 2027-03); then 2026-12's INCR corrects
    three of them before `declare 2026-12`, in the order the demo and a late push give."""
    push = Push(tmp_path_factory.mktemp("declare-latest"))
    ps = {
        "A": _p(1, "19660815"),  # S 2027-01; the INCR moves him to 640105
        "B": _p(2, "19660915"),  # S 2027-03; the INCR corrects his birth date to 1966-11-15: S 2027-05
        "C": _p(3, "19760615", gender=2, person_type=1),  # S 2027-03 (a worker: 50); cadre (2) → 55: S 2033-02
        "E": _p(5, "19660825"),  # S 2027-01; unchanged
    }
    run_push_month(push, "2026-11", list(ps.values()))
    for i, p in enumerate(ps.values()):
        feedback_to_conclusion(push, p, 2 + 4 * i % 12, then=CONFIRM)
    push.ingest_incr(
        "2026-12",
        [
            dict(ps["A"], op="U", insured_region="640105"),
            dict(ps["B"], op="U", birth_date="19661115"),
            dict(ps["C"], op="U", person_type="2"),
        ],
    )
    rep = declare_month("2026-12", push.wh, push.tmp / "out", push.settings)
    return push, {k: p["id_no"] for k, p in ps.items()}, rep


def test_a_corrected_birth_date_moves_the_retirement_month_before_the_screening_does(corrected):
    push, ids, _ = corrected
    d = _decisions(push, mi("2026-12"))
    # B: S is 2027-05 on the corrected push, 5 months ahead: not in the 1–3 window, not notified
    assert ids["B"] not in d
    assert ids["B"] not in _notices(push, "DECLARATION")
    # C: the cadre's S is 2033-02: not in the window either
    assert ids["C"] not in d
    assert ids["C"] not in _notices(push, "DECLARATION")
    # the control keeps its declaration for 2027-01
    assert d[ids["E"]][1:3] == (mi("2027-01"), "DECLARATION")


def test_stages_stay_for_persons_the_corrected_push_takes_out_of_the_window(corrected):
    push, ids, _ = corrected
    stages = dict(push.q("SELECT id_no, stage FROM ledger_entries WHERE closed_mi IS NULL"))
    assert stages[ids["B"]] == "CONFIRMED" and stages[ids["C"]] == "CONFIRMED"
    assert stages[ids["E"]] == "DECLARED"


def test_a_person_the_push_moved_is_listed_and_notified_by_the_new_office(corrected):
    push, ids, _ = corrected
    d = _decisions(push, mi("2026-12"))
    assert d[ids["A"]][:3] == ("640105", mi("2027-01"), "DECLARATION")
    assert ids["A"] in _listed(push, "2026-12", "640105")
    assert ids["A"] not in _listed(push, "2026-12", "640104")
    ref, office, _text = _notices(push, "DECLARATION")[ids["A"]]
    assert (ref, office) == (mi("2027-01"), "640105")


def test_the_run_after_it_files_the_moved_persons_notice_where_it_was_issued(corrected):
    push, ids, _ = corrected
    from pipelines.monthly import run_month

    run_month("2026-12", push.wh, push.tmp / "out", validate=False)
    [(office, file_office)] = push.q(
        "SELECT office_code, file_office FROM notice_log WHERE kind = 'DECLARATION' AND id_no = ?", [ids["A"]]
    )
    assert (office, file_office) == ("640105", None)
    assert push.q("SELECT office_code FROM ledger_entries WHERE id_no = ? AND closed_mi IS NULL", [ids["A"]]) == [
        ("640105",)
    ]


def test_without_a_newer_push_the_screening_is_used_as_before(tmp_path):
    push = Push(tmp_path)
    p = _p(1, "19660815")
    run_push_month(push, "2026-11", [p])
    feedback_to_conclusion(push, p, 2, then=CONFIRM)
    declare_month("2026-12", push.wh, push.tmp / "out", push.settings)
    [(s,)] = push.q("SELECT statutory_age_mi FROM screen_results WHERE month_mi = ?", [mi("2026-11")])
    assert _decisions(push, mi("2026-12"))[p["id_no"]][:3] == ("640104", s, "DECLARATION")


def test_an_elected_month_outside_the_window_of_the_latest_data_is_followed_up_not_declared(tmp_path):
    """A woman worker (born 1976-06, S 2027-03) elects 2027-02 inside her window; the next push
    corrects her person type to cadre (55: S 2033-02, the window from 2031-06); the month runs, then
    `declare 2027-01`: no DECLARATION for 2027-02, she stays CONFIRMED, the list says why."""
    push = Push(tmp_path)
    c = _p(1, "19760615", gender=2, person_type=1)
    run_push_month(push, "2026-11", [c])
    feedback_to_conclusion(
        push, c, 2, then=CONFIRM + ({"event": "ELECTED_MONTH", "event_date": "2026-11-22", "elected_month": "2027-02"},)
    )
    run_push_month(push, "2026-12", [dict(c, op="U", person_type="2")], push_type="INCR")
    rep = declare_month("2027-01", push.wh, push.tmp / "out", push.settings)
    office, r, decision, reason = _decisions(push, mi("2027-01"))[c["id_no"]]
    assert (office, r, decision) == ("640104", mi("2027-02"), "FOLLOW_UP"), rep.lines()
    assert "outside the flexible window" in reason and "2031-06" in reason
    assert c["id_no"] not in _notices(push, "DECLARATION") and c["id_no"] not in _notices(push, "CONSULTATION")
    assert push.q("SELECT stage FROM ledger_entries WHERE id_no = ?", [c["id_no"]]) == [("CONFIRMED",)]


def test_notices_raised_before_the_push_moved_the_person_name_the_office_that_sends_them(tmp_path):
    """The production order: `declare 2026-12` on the 1st (the person at 640104), then 2026-12's push
    moves him to 640105, then the run: his DECLARATION of the 1st and the RESULT of 640104's
    conclusion go out in 640105's batch and tell him to call, and to object at, 640105."""
    from pipelines.monthly import run_month
    from pipelines.notify import office_short_name, offices

    push = Push(tmp_path)
    a = _p(1, "19660815")
    run_push_month(push, "2026-11", [a])
    feedback_to_conclusion(push, a, 2, then=CONFIRM)
    declare_month("2026-12", push.wh, push.tmp / "out", push.settings)
    push.ingest_incr("2026-12", [dict(a, op="U", insured_region="640105")])
    run_month("2026-12", push.wh, push.tmp / "out", validate=False)
    old, new = offices()["640104"], offices()["640105"]
    rows = push.q(
        "SELECT kind, office_code, file_office, text FROM notice_log WHERE id_no = ? AND kind IN ('DECLARATION', 'RESULT')",
        [a["id_no"]],
    )
    assert sorted(r[0] for r in rows) == ["DECLARATION", "RESULT"]
    for kind, issued_by, filed_by, text in rows:
        assert (issued_by, filed_by) == ("640104", "640105"), kind
        assert new["phone"] in text and old["phone"] not in text, (kind, text)
    [(result,)] = [(t,) for k, _, _, t in rows if k == "RESULT"]
    assert f"向{office_short_name(new['office_name'])}提交" in result
    sms = push.tmp / "out" / "2026-12" / "notifications"
    assert (sms / "640105" / "sms.csv").read_text(encoding="utf-8").count(new["phone"]) >= 2
    assert old["phone"] not in (sms / "640105" / "sms.csv").read_text(encoding="utf-8")


def test_declaring_again_after_a_move_does_not_silently_drop_a_person_from_a_published_list(tmp_path):
    """A second `declare P` after P's push moved a listed person decides again on the latest push and
    replaces P's lists (the person is on the new office's list): the command says what changed in the
    lists the offices already have, by offices and counts, never naming the person
    (docs/decisions.md "Declaring a month again"; sql/declare/18_changes.sql)."""
    from pipelines.monthly import run_month

    push = Push(tmp_path)
    a, e = _p(1, "19660815"), _p(5, "19660825")
    run_push_month(push, "2026-11", [a, e])
    for i, p in enumerate((a, e)):
        feedback_to_conclusion(push, p, 2 + 4 * i, then=CONFIRM)
    declare_month("2026-12", push.wh, push.tmp / "out", push.settings)
    assert a["id_no"] in _listed(push, "2026-12", "640104")
    push.ingest_incr("2026-12", [dict(a, op="U", insured_region="640105")])
    run_month("2026-12", push.wh, push.tmp / "out", validate=False)
    rep = declare_month("2026-12", push.wh, push.tmp / "out", push.settings)
    f = push.tmp / "out" / "2026-12" / "declarations" / "640104" / "declarations.parquet"
    still = duckdb.sql(f"SELECT reason FROM '{f}' WHERE id_no = '{a['id_no']}'").fetchall()
    said = any("640105" in line for line in rep.lines()) or any("640105" in r[0] for r in still)
    assert still or said, "A left 640104's published list of the 1st without a word"
    assert "  declared again, moved to another office's list: 640104 -> 640105: 1" in rep.lines()
    assert not any(a["id_no"] in line or a["name"] in line for line in rep.lines())


def test_declaring_again_with_nothing_changed_says_nothing_and_the_first_declaration_neither(tmp_path):
    """docs/decisions.md "Declaring a month again": only a change of the lists is reported."""
    push = Push(tmp_path)
    a = _p(1, "19660815")
    run_push_month(push, "2026-11", [a])
    feedback_to_conclusion(push, a, 2, then=CONFIRM)
    for _ in range(2):
        rep = declare_month("2026-12", push.wh, push.tmp / "out", push.settings)
        assert not any("declared again" in line for line in rep.lines()), rep.lines()


def test_a_person_the_latest_push_no_longer_carries_is_left_out_not_declared(tmp_path):
    """rules.md §3 closes the entry of a person who left the push as it closes a deceased one's; §6
    re-checks on the latest data. 2026-12's INCR deletes a confirmed man (op D) before `declare
    2026-12` (found by the seventeenth session's oracle, tests/oracles/test_oracle_declare.py): he was
    listed DECLARATION and moved to DECLARED on the 1st, and the run withdrew his notice a few days
    later. Now he is left out and counted, as a deceased person is; the control is declared."""
    push = Push(tmp_path)
    a, e = _p(1, "19660815"), _p(5, "19660825")
    run_push_month(push, "2026-11", [a, e])
    for i, p in enumerate((a, e)):
        feedback_to_conclusion(push, p, 2 + 4 * i, then=CONFIRM)
    from pipelines.ingest import ingest_batches
    from support.pushkit import write_batch

    push.seq += 1
    b = write_batch(
        tmp_path / "b-del",
        [dict(a, op="D")],
        [],
        seq=push.seq,
        month="2026-12",
        push_type="INCR",
        base_seq=push.seq - 1,
    )
    assert not ingest_batches([b], push.wh).refused
    rep = declare_month("2026-12", push.wh, push.tmp / "out", push.settings)
    d = _decisions(push, mi("2026-12"))
    assert a["id_no"] not in d and d[e["id_no"]][2] == "DECLARATION"
    assert a["id_no"] not in _notices(push, "DECLARATION")
    assert push.q("SELECT stage FROM ledger_entries WHERE id_no = ?", [a["id_no"]]) == [("CONFIRMED",)]
    assert rep.counts["left out: left the push"] == 1 and rep.counts["left out: deceased"] == 0, rep.lines()
