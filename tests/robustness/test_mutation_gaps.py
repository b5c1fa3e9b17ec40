"""Tests that kill mutants no other test detected (mutation testing of the rule files).

Each test states the line of rules.md it checks; inputs are small and hand-made.
"""

from __future__ import annotations

from datetime import timedelta

from support.pushkit import person, segment
from support.declare import by_id, confirm, declare, listed
from support.feedback import D0, Wh, mi, row
from support.screen import born, screen_rows


def test_duplicate_contribution_overlap_of_exactly_one_month(tmp_path):
    """rules.md §4: `DUPLICATE_CONTRIBUTION` | two segments in different provinces overlap in at
    least one month. Kills 30_flags.sql `a.start_mi <= b.end_mi` -> `<` (and its mirror)."""
    a = person(1, birth_date=born(6))
    b = person(2, birth_date=born(6))
    c = person(3, birth_date=born(6))
    segs = [
        # the lower-code province (610000) starts in the month Ningxia ends: 2015-12 in both
        segment(a["id_no"], "640104", "199001", "201512", 1),
        segment(a["id_no"], "610102", "201512", "202012", 1),
        # the mirror: Ningxia starts in the month the lower-code province ends
        segment(b["id_no"], "610102", "199001", "201512", 1),
        segment(b["id_no"], "640104", "201512", "202012", 1),
        # adjacent, no common month: no flag
        segment(c["id_no"], "640104", "199001", "201511", 1),
        segment(c["id_no"], "610102", "201512", "202012", 1),
    ]
    r = screen_rows(tmp_path, [a, b, c], segs)
    for p in (a, b):
        ev = r[p["id_no"]].get("_evidence", {})
        assert "DUPLICATE_CONTRIBUTION" in ev, r[p["id_no"]]["flags"]
        assert "(1 months)" in ev["DUPLICATE_CONTRIBUTION"]
    assert "DUPLICATE_CONTRIBUTION" not in r[c["id_no"]]["flags"]


def test_declaration_minimum_is_inclusive_and_keyed_by_the_elected_year(tmp_path):
    """rules.md §6: "eligible when counted months ≥ the minimum for `R`'s year → `DECLARATION`,
    else → `CONSULTATION`", `R` being the elected retirement month if one was recorded, else `S`;
    §1: the minimum is 180 before 2030, 186 in 2030.
    Kills declare/10_screen.sql `counted_months >= min_months` -> `>` and the minimum taken
    for S's year instead of R's."""
    wh = Wh(tmp_path)
    month = "2029-11"
    exact = wh.person(S=mi(2029, 12), counted=180)  # R = S in 2029: minimum 180, counted exactly 180
    late = wh.person(S=mi(2029, 12), counted=183)  # S in 2029 but R elected in 2030: minimum 186
    confirm(wh, [exact], CONCLUSION_ISSUED={"counted_months": 180})
    confirm(wh, [late], CONCLUSION_ISSUED={"counted_months": 183})
    rep = wh.apply([row(late, "ELECTED_MONTH", D0 + timedelta(days=8), elected_month="2030-01")])
    assert rep.refused == 0, rep.lines()
    declare(wh, month, ahead_of_push=True)  # the fixture's only push is of 2026-11 (issue 14)
    got = by_id(listed(wh, month))
    assert (got[exact.id_no]["decision"], got[exact.id_no]["min_contribution_months"]) == ("DECLARATION", 180)
    assert (got[late.id_no]["retirement_month"], got[late.id_no]["retirement_source"]) == ("2030-01", "ELECTED")
    assert (got[late.id_no]["decision"], got[late.id_no]["min_contribution_months"]) == ("CONSULTATION", 186)


def test_early_election_one_month_before_s_needs_the_minimum(tmp_path):
    """rules.md §1: "Flexible retirement (弹性退休), 110 only: earliest `max(O, S − 36)` …; early
    retirement also needs the minimum contribution months below to be met by then."
    An elected month just one month before S is early. Kills feedback.py `mi < statutory` -> `mi < statutory - 1`."""
    wh = Wh(tmp_path)
    p = wh.person(S=mi(2027, 5), counted=100)  # not contributing: projected = counted = 100 < 180
    wh.apply([row(p, "ELECTED_MONTH", D0, elected_month="2027-04")])
    assert [c for _, c in wh.statuses(wh.last_file())] == ["EARLY_MONTHS_SHORT"]
    assert wh.one("SELECT elected_retirement_mi FROM ledger_entries WHERE entry_id = ?", [p.entry_id]) is None


def test_no_benefit_place_handover_for_a_retired_person(tmp_path):
    """rules.md §2: "Only persons whose computed place is Ningxia (64) are served here; a person whose
    place moves out of Ningxia (or into it) between two months produces a handover record", read with
    docs/decisions.md ("every screened person … alive, not retired and still in the push … gets a
    handover"): a retired person is not served, so a move of his place hands nothing over.
    Kills 35_place_moves.sql dropping `NOT r.retired`."""
    from support.ledger import Push

    push = Push(tmp_path)
    ret = person(1, birth_date=born(60), retired=1)  # retired, far from any window: never in the ledger
    act = person(2, birth_date=born(60))  # the same move, not retired: handed over
    push.month("2026-11", [ret, act])
    moved = [dict(p, hukou_region="620102") for p in (ret, act)]
    segs = []
    for p in moved:
        segs += [
            segment(p["id_no"], "620102", "199001", "200912", 1),
            segment(p["id_no"], "640104", "201001", "201512", 1),
        ]
    push.month("2026-12", moved, segs)
    assert push.q("SELECT benefit_province FROM screen_results WHERE month_mi = 24323 ORDER BY id_no") == [
        ("620000",),
        ("620000",),
    ]
    h = push.q("SELECT id_no, kind FROM handovers")
    assert h == [(act["id_no"], "BENEFIT_PLACE_OUT")]


def test_setting_defaults_are_the_rules_defaults():
    """rules.md preamble: "Where a number here is a setting, it is marked *(setting)* and its default
    is given" — and data/settings.toml says "Delete a line to use the default". The defaults: §1
    flexible-employment women 55, benefit start offset 1; §3 application and screening horizons 24
    (the 12-month window of (a)/(c)); §5 OVERDUE "at most once every 3 months"; §7 "within 15
    working days". Kills a changed default in pipelines/settings.py (masked by the shipped TOML)."""
    from pipelines.settings import Settings

    s = Settings()
    assert (s.flexible_women_original_age, s.benefit_start_offset) == (55, 1)
    assert (s.application_horizon, s.screening_horizon, s.scope_window) == (24, 24, 12)
    assert s.overdue_every_months == 3
    assert s.objection_working_days == 15
    assert s.ningdong_code == "640900"


def test_closing_a_deceased_who_is_also_marked_retired_is_deceased(tmp_path):
    """rules.md §3 closes an entry when "retired, deceased, left the push, benefit place left Ningxia";
    docs/decisions.md fixes the order when several hold: "deceased, retired, left the push, moved out".
    Kills 10_close.sql with the DECEASED and RETIRED branches swapped."""
    from support.ledger import Push, entry

    push = Push(tmp_path)
    p = person(1, birth_date=born(3))
    push.month("2026-11", [p])
    push.month("2026-12", [dict(p, survival_status=2, retired=1)])
    assert entry(push, p["id_no"])[3] == "DECEASED"
