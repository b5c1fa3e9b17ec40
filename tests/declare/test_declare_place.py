"""The month-start declaration screening re-checks the benefit place on the latest push (rules.md §6,
§2, §3; docs/decisions.md "The benefit place on the 1st", seventeenth session).

Found by the seventeenth session's oracle (tests/oracles/test_oracle_declare.py, ``out_nx``): a push
applied before `declare` that moves a confirmed person's benefit place out of Ningxia (his latest
contributions in Gansu, his household registration there: rules.md §2 rule 1) left him on the
office's list of the 1st as DECLARATION, moved him to DECLARED and raised an SMS telling him to
declare in Ningxia; P's run then closed the entry MOVED_OUT, handed it over and withdrew the notice.
Now he is left out and counted (`left out: benefit place left Ningxia`), the place computed by the
screening's own SQL (sql/screen/benefit_place.sql) for the persons in the declaration window only.
"""

from __future__ import annotations

import duckdb
import pytest

from pipelines.declare import declare_month
from pipelines.ingest import ingest_batches
from pipelines.monthly import run_month
from support.ledger import Push, feedback_to_conclusion, run_push_month
from support.pushkit import make_id, person, segment, write_batch

CONFIRM = (
    {"event": "RESULT_RECEIVED", "event_date": "2026-11-20"},
    {"event": "CONFIRMED", "event_date": "2026-11-21", "confirmer": "EMPLOYER"},
)
OUT = "left out: benefit place left Ningxia"
NX = segment("", region="640104", start="199001", end="202012")  # 132 months in Ningxia
GANSU = segment("", region="620102", start="202101", end="202611")  # 71 months in Gansu, the latest


def mi(ym: str) -> int:
    y, m = ym.split("-")
    return int(y) * 12 + int(m) - 1


def _p(n: int, birth: str, **kw) -> dict:
    p = person(n, birth_date=birth, arrears_months=2, **kw)  # in scope by a flag (rules.md §3 trigger 3)
    p["id_no"] = make_id(prefix="640104", birth=birth, seq=n, gender=int(kw.get("gender", 1)))
    return p


def _segs(p: dict, *segs: dict) -> list[dict]:
    return [dict(s, id_no=p["id_no"]) for s in segs]


def _incr(push: Push, month: str, rows: list[dict], segs: list[dict]) -> None:
    """An INCR of ``rows`` and their whole segment sets ``segs``, ingested, no month run."""
    push.seq += 1
    b = write_batch(
        push.tmp / f"b{push.seq}", rows, segs, seq=push.seq, month=month, push_type="INCR", base_seq=push.seq - 1
    )
    assert not ingest_batches([b], push.wh).refused


def _decisions(push: Push, month: str) -> dict:
    rows = push.q("SELECT id_no, office_code, decision FROM declaration_decisions WHERE month_mi = ?", [mi(month)])
    return {r[0]: r[1:] for r in rows}


def _notices(push: Push, id_no: str) -> list:
    return push.q(
        "SELECT kind, reference_mi FROM notice_log WHERE id_no = ? AND kind IN ('DECLARATION', 'CONSULTATION')",
        [id_no],
    )


def _listed(push: Push, month: str) -> dict:
    out = {}
    for f in (push.tmp / "out" / month / "declarations").glob("*/declarations.parquet"):
        for (i,) in duckdb.sql(f"SELECT id_no FROM '{f}'").fetchall():
            out[i] = f.parent.name
    return out


@pytest.fixture(scope="module")
def moved(tmp_path_factory):
    """Four confirmed men of 640104, S 2027-01 (1–3 months after 2026-12), 132 months in Ningxia,
    household registration in Gansu (620102) for G, in Ningxia for the others; 2026-12's INCR, before
    `declare 2026-12`, adds Gansu contributions 2021-01 … 2026-11 to G (his place becomes Gansu:
    rule 1, C = H) and 2026-01 … 2026-11 to K (C Gansu with 11 months, H Ningxia: rule 3 keeps
    Ningxia, 132 ≥ 120), and moves M to 640105 (a move inside Ningxia); E is the control."""
    push = Push(tmp_path_factory.mktemp("declare-place"))
    ps = {
        "G": _p(1, "19660815", hukou_region="620102"),
        "K": _p(2, "19660816"),
        "M": _p(3, "19660817"),
        "E": _p(5, "19660825"),
    }
    run_push_month(push, "2026-11", list(ps.values()), segments=[s for p in ps.values() for s in _segs(p, NX)])
    for i, p in enumerate(ps.values()):
        feedback_to_conclusion(push, p, 2 + 4 * i % 12, then=CONFIRM)
    short_gansu = dict(GANSU, start="202601")
    _incr(
        push,
        "2026-12",
        [dict(ps["G"], op="U"), dict(ps["K"], op="U"), dict(ps["M"], op="U", insured_region="640105")],
        _segs(ps["G"], NX, GANSU) + _segs(ps["K"], NX, short_gansu) + _segs(ps["M"], NX),
    )
    rep = declare_month("2026-12", push.wh, push.tmp / "out", push.settings)
    return push, {k: p["id_no"] for k, p in ps.items()}, rep


def test_a_person_whose_place_left_ningxia_is_left_out_counted_and_not_notified(moved):
    push, ids, rep = moved
    d = _decisions(push, "2026-12")
    assert ids["G"] not in d, d.get(ids["G"])
    assert ids["G"] not in _listed(push, "2026-12")
    assert _notices(push, ids["G"]) == []
    assert push.q("SELECT stage FROM ledger_entries WHERE id_no = ?", [ids["G"]]) == [("CONFIRMED",)]
    assert rep.counts[OUT] == 1, rep.lines()
    assert f"  {OUT}: 1" in rep.lines()
    assert not any(ids["G"] in line for line in rep.lines())


def test_a_place_that_stays_in_ningxia_and_a_move_inside_it_are_declared(moved):
    """K's latest contributions are in Gansu, but Ningxia holds 132 months (rule 3): still Ningxia, declared.
    M moved to 640105 before the 1st: listed and notified by 640105, not by 640104 (rules.md §3; the
    run of the month hands his entry over; docs/decisions.md "Declaration on the latest push")."""
    push, ids, _ = moved
    d = _decisions(push, "2026-12")
    assert d[ids["K"]] == ("640104", "DECLARATION")
    assert d[ids["E"]] == ("640104", "DECLARATION")
    assert d[ids["M"]] == ("640105", "DECLARATION")
    assert _listed(push, "2026-12")[ids["M"]] == "640105"
    assert push.q("SELECT office_code FROM notice_log WHERE id_no = ? AND kind = 'DECLARATION'", [ids["M"]]) == [
        ("640105",)
    ]


def test_declaring_again_decides_the_same_and_the_run_closes_the_entry_moved_out(moved):
    push, ids, _ = moved
    rep = declare_month("2026-12", push.wh, push.tmp / "out", push.settings)
    assert rep.counts[OUT] == 1 and ids["G"] not in _decisions(push, "2026-12")
    assert not any("declared again" in line for line in rep.lines()), rep.lines()
    run_month("2026-12", push.wh, push.tmp / "out", validate=False)
    [(stage, closed, reason)] = push.q(
        "SELECT stage, closed_mi, close_reason FROM ledger_entries WHERE id_no = ?", [ids["G"]]
    )
    assert (closed, reason) == (mi("2026-12"), "MOVED_OUT"), (stage, closed, reason)
    # after the run the entry is closed: not a candidate any more, nothing listed, counted or notified
    rep = declare_month("2026-12", push.wh, push.tmp / "out", push.settings)
    assert ids["G"] not in _decisions(push, "2026-12") and _notices(push, ids["G"]) == []
    assert rep.counts[OUT] == 0, rep.lines()
    assert not any("declared again" in line for line in rep.lines()), rep.lines()
    assert _decisions(push, "2026-12")[ids["M"]] == ("640105", "DECLARATION")


def test_a_person_declared_on_the_1st_before_the_push_moved_his_place_leaves_the_list_said(tmp_path):
    """The production order: `declare 2026-12` on the 1st (place Ningxia: declared and notified), then
    2026-12's push moves the place to Gansu, then `declare 2026-12` again: he leaves the list, the
    command says so by offices and counts; P's run closes the entry MOVED_OUT and withdraws the notice
    (docs/decisions.md "A notice raised before P's push …")."""
    push = Push(tmp_path)
    g = _p(1, "19660815", hukou_region="620102")
    run_push_month(push, "2026-11", [g], segments=_segs(g, NX))
    feedback_to_conclusion(push, g, 2, then=CONFIRM)
    declare_month("2026-12", push.wh, push.tmp / "out", push.settings)
    assert _decisions(push, "2026-12")[g["id_no"]] == ("640104", "DECLARATION")
    _incr(push, "2026-12", [dict(g, op="U")], _segs(g, NX, GANSU))
    rep = declare_month("2026-12", push.wh, push.tmp / "out", push.settings)
    assert g["id_no"] not in _decisions(push, "2026-12")
    assert rep.counts[OUT] == 1
    assert "  declared again, left the lists: 640104 -> -: 1" in rep.lines(), rep.lines()
    run_month("2026-12", push.wh, push.tmp / "out", validate=False)
    assert push.q("SELECT close_reason FROM ledger_entries WHERE id_no = ?", [g["id_no"]]) == [("MOVED_OUT",)]
    sms = (push.tmp / "out" / "2026-12" / "notifications").glob("*/sms.csv")
    assert not any(g["phone"] in f.read_text(encoding="utf-8") for f in sms)
