"""rules.md §3 (scope, triggers) and §4 (flags) on small hand-made pushes."""

from __future__ import annotations


from support.pushkit import person, segment
from support.screen import born, screen_rows  # noqa: F401

P = "2026-11"


def test_scope_a_window_boundaries(tmp_path):
    ps = [person(n, birth_date=born(k)) for n, k in ((1, 0), (2, 12), (3, 13), (4, -1))]
    r = screen_rows(tmp_path, ps)
    got = {p["id_no"]: r[p["id_no"]]["scope_rule"] for p in ps}
    assert [got[p["id_no"]] for p in ps] == ["a", "a", None, None]


def test_scope_b_suspended_past_original_age(tmp_path):
    # born 1966-01: O = P - 10, S = O + 4 < P
    ps = [
        person(1, birth_date=born(-10), contribution_status=2),
        person(2, birth_date=born(-10), contribution_status=1),
        person(3, birth_date=born(-10), contribution_status=3),
    ]
    r = screen_rows(tmp_path, ps)
    assert [r[p["id_no"]]["scope_rule"] for p in ps] == ["b", None, None]
    # not suspended, past the statutory age: flagged, so taken in by trigger 3
    assert r[ps[1]["id_no"]]["trigger_screening"]


def test_scope_c_residents_and_women(tmp_path):
    ps = [
        person(1, gender=2, insurance_type=170, person_type="", birth_date=born(6)),  # resident woman 60
        person(2, gender=2, person_type=1, birth_date=born(6, original_age=50)),  # worker woman 50
        person(3, gender=2, person_type=2, birth_date=born(6, original_age=55)),  # cadre woman 55
        person(4, gender=2, insurance_type=170, person_type="", birth_date=born(6, original_age=55)),
    ]
    r = screen_rows(tmp_path, ps)
    assert [r[p["id_no"]]["scope_rule"] for p in ps] == ["c", "a", "a", None]


def test_not_alive_retired_or_elsewhere_is_out_of_scope(tmp_path):
    ps = [
        person(1, birth_date=born(3), survival_status=2),
        person(2, birth_date=born(3), survival_status=9),  # unknown counts as alive
        person(3, birth_date=born(3), retired=1),
        person(4, birth_date=born(3), hukou_region="620102", benefit_region_ministry="610102"),
    ]
    segs = [
        segment(ps[0]["id_no"]),
        segment(ps[1]["id_no"]),
        segment(ps[2]["id_no"]),
        segment(ps[3]["id_no"], "610102", "199001", "200912", 1),
        segment(ps[3]["id_no"], "640104", "201501", "202012", 1),
    ]  # 72 months: rule 3 → SN
    r = screen_rows(tmp_path, ps, segs)
    assert [r[p["id_no"]]["scope_rule"] for p in ps] == [None, "a", None, None]
    assert r[ps[3]["id_no"]]["benefit_province"] == "610000"
    assert not r[ps[3]["id_no"]]["trigger_screening"]


def test_trigger_application_horizon(tmp_path):
    ps = [
        person(1, birth_date=born(20)),
        person(2, birth_date=born(24)),
        person(3, birth_date=born(25)),
        person(4, birth_date=born(20)),
    ]
    apps = [
        (ps[0]["id_no"], "20261020"),
        (ps[1]["id_no"], "20261130"),
        (ps[2]["id_no"], "20261020"),
        (ps[3]["id_no"], "20261201"),
    ]  # after P: not yet
    r = screen_rows(tmp_path, ps, applications=apps)
    assert [r[p["id_no"]]["trigger_application"] for p in ps] == [True, True, False, False]


def test_trigger_screening_horizon(tmp_path):
    ps = [
        person(1, birth_date=born(24), arrears_months=3),
        person(2, birth_date=born(25), arrears_months=3),
        person(3, birth_date=born(20)),
    ]
    r = screen_rows(tmp_path, ps)
    assert [r[p["id_no"]]["trigger_screening"] for p in ps] == [True, False, False]


def test_every_flag_with_evidence(tmp_path):
    ps = [
        person(1, birth_date=born(6), deemed_status=2, deemed_months=60, deemed_region="640104"),
        person(2, birth_date=born(6)),
        person(3, birth_date=born(6), hukou_region="", phone="0951-5012345"),
        person(4, birth_date="19661010"),  # id says 19660315: conflict
        person(5, birth_date=born(6), arrears_months=7),
        person(6, birth_date=born(6), actual_contribution_months=100, contribution_status=2),
        person(7, birth_date=born(6), benefit_region_ministry="610102"),
        person(8, birth_date=born(-30)),
        person(9, birth_date=born(6), gender=2, person_type=""),
        person(10, birth_date=born(6), person_type=1, employer_uscc="", employer_name=""),
        person(11, birth_date=born(6), deemed_status=1, deemed_months=24, deemed_region=""),
    ]
    ps[3]["id_no"] = ps[3]["id_no"]  # id built from the default birth 19660315
    from support.pushkit import make_id

    ps[3]["id_no"] = make_id(birth="19660315", seq=4)
    ps[8]["id_no"] = make_id(birth=ps[8]["birth_date"], seq=9, gender=1)  # ID says man, gender says woman
    segs = [segment(p["id_no"]) for p in ps]
    segs += [
        segment(ps[1]["id_no"], "610102", "202001", "202212", 2),  # unmerged + overlaps NX 1990..2020
        segment(ps[1]["id_no"], "640104", "202101", "202112", 3),
    ]  # temporary account in Ningxia
    r = screen_rows(tmp_path, ps, segs)
    ev = lambda n: r[ps[n - 1]["id_no"]].get("_evidence", {})
    assert "YEARS_UNCONFIRMED" in ev(1) and "deemed_months=60" in ev(1)["YEARS_UNCONFIRMED"]
    assert "REMOTE_UNMERGED" in ev(2) and "610102 2020-01..2022-12" in ev(2)["REMOTE_UNMERGED"]
    assert "640104 2021-01..2021-12 relation_status=3" in ev(2)["REMOTE_UNMERGED"]
    assert "DUPLICATE_CONTRIBUTION" in ev(2) and "(12 months)" in ev(2)["DUPLICATE_CONTRIBUTION"]
    assert "hukou_region missing" in ev(3)["KEY_INFO_MISSING"] and "not a valid mobile" in ev(3)["KEY_INFO_MISSING"]
    assert "1966-10-10 vs ID number 1966-03-15" in ev(4)["BIRTH_DATE_CONFLICT"]
    assert ev(5)["ARREARS"] == "arrears_months=7"
    assert "< minimum 180" in ev(6)["INSUFFICIENT_YEARS"]
    assert "computed 640000" in ev(7)["BENEFIT_PLACE_MISMATCH"]
    assert "PAST_AGE_NOT_RETIRED" in ev(8)
    assert "person_type missing" in ev(9)["KEY_INFO_MISSING"] and "GENDER_CONFLICT" in ev(9)
    assert "employer missing" in ev(10)["KEY_INFO_MISSING"]
    assert "deemed_region missing for 24" in ev(11)["KEY_INFO_MISSING"]
    # the worklist column: alphabetical, ';'-joined
    assert r[ps[1]["id_no"]]["flags"] == "DUPLICATE_CONTRIBUTION;REMOTE_UNMERGED"
    # evidence never carries the ID number or the phone
    for row in r.values():
        for e in row.get("_evidence", {}).values():
            assert row["id_no"] not in e and "0951-5012345" not in e


def test_insufficient_years_projects_contributing_months(tmp_path):
    # S = P + 10 (born with O = P + 6, delay 4 for a man born 1966-..): projected = counted + (S - P)
    ps = [
        person(1, birth_date=born(6), actual_contribution_months=170, contribution_status=1),
        person(2, birth_date=born(6), actual_contribution_months=170, contribution_status=2),
    ]
    r = screen_rows(tmp_path, ps)
    a, b = r[ps[0]["id_no"]], r[ps[1]["id_no"]]
    assert a["projected_months"] == 170 + (a["statutory_age_mi"] - a["month_mi"])
    assert "INSUFFICIENT_YEARS" not in a["flags"]
    assert b["projected_months"] == 170 and "INSUFFICIENT_YEARS" in b["flags"]


def test_birth_month_from_archive_not_id(tmp_path):
    from support.pushkit import make_id

    p = person(1, birth_date=born(3))
    p["id_no"] = make_id(birth="19700101", seq=1)
    r = screen_rows(tmp_path, [p])
    row = r[p["id_no"]]
    assert row["scope_rule"] == "a" and "BIRTH_DATE_CONFLICT" in row["flags"]
