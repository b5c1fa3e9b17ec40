"""rules.md sections 1 and 2 in Python (pipelines.policy), against the spec's vectors."""

from __future__ import annotations

from datetime import date

import pytest

from pipelines import policy
from pipelines.identifiers import normalize_phone, parse_id_no, uscc_valid
from pipelines.months import parse_yyyymm
from pipelines.policy import (
    benefit_province,
    counted_months,
    delay_months,
    format_month,
    min_contribution_months,
    month_index,
    original_age_years,
    parse_month,
    policy_json,
    retirement_facts,
)
from pipelines.settings import Settings

from support.pushkit import read_vectors


def opt_int(s: str) -> int | None:
    return int(s) if s.strip() else None


def parse_segments(text: str) -> list[tuple[str, int, int, int]]:
    """``region:YYYYMM-YYYYMM:status`` joined by ``;`` (vectors/README.md)."""
    out = []
    for part in filter(None, text.split(";")):
        region, span, status = part.split(":")
        start, end = span.split("-")
        out.append((region, parse_yyyymm(start), parse_yyyymm(end), int(status)))
    return out


RULE_OF_VECTOR = {
    "(1)": policy.RULE_1,
    "(2)": policy.RULE_2,
    "(3)": policy.RULE_3,
    "(4)": policy.RULE_4,
    "no basic months": policy.RULE_NO_BASIC_MONTHS,
}


def vector_rule(text: str) -> str:
    for prefix, code in RULE_OF_VECTOR.items():
        if text.startswith(prefix):
            return code
    raise AssertionError(f"unknown rule text {text!r}")


# ---------------------------------------------------------------------------------------
# months
# ---------------------------------------------------------------------------------------


def test_month_arithmetic():
    assert month_index(1965, 1) == 1965 * 12
    assert parse_month("1965-01") == 23580
    assert parse_month(date(2026, 3, 31)) == month_index(2026, 3)
    assert parse_yyyymm("196512") == month_index(1965, 12)
    assert format_month(23580) == "1965-01"
    assert format_month(month_index(2039, 12)) == "2039-12"
    for bad in ("1965-13", "1965-1", "196501", ""):
        with pytest.raises(ValueError):
            parse_month(bad)
    for bad in ("196513", "1965-01", "19650"):
        with pytest.raises(ValueError):
            parse_yyyymm(bad)


# ---------------------------------------------------------------------------------------
# section 1 vectors
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", read_vectors("retirement_age.csv"), ids=lambda r: r["case"])
def test_retirement_age_vector(row):
    got = policy_json(int(row["gender"]), opt_int(row["person_type"]), int(row["insurance_type"]), row["birth_month"])
    expected = {
        "original_age_month": row["original_age_month"],
        "statutory_age_month": row["statutory_age_month"],
        "statutory_age": row["statutory_age"],
        "delay_months": int(row["delay_months"]),
        "benefit_start_month": row["benefit_start_month"],
        "flexible_earliest_month": row["flexible_earliest_month"] or None,
        "flexible_latest_month": row["flexible_latest_month"] or None,
        "min_contribution_months": int(row["min_contribution_months"]),
    }
    assert got == expected


def test_retirement_age_vectors_present():
    assert len(read_vectors("retirement_age.csv")) >= 30


def test_min_contribution_vector():
    for row in read_vectors("min_contribution.csv"):
        assert min_contribution_months(int(row["statutory_age_year"])) == int(row["min_contribution_months"])
        assert min_contribution_months(int(row["statutory_age_year"]), 170) == 180


def test_min_contribution_steps_2030_2039():
    assert [min_contribution_months(y) for y in range(2028, 2042)] == [
        180,
        180,
        186,
        192,
        198,
        204,
        210,
        216,
        222,
        228,
        234,
        240,
        240,
        240,
    ]
    assert min_contribution_months(1990) == 180 and min_contribution_months(2100) == 240


def test_sms_segments_vector():
    for row in read_vectors("sms_segments.csv"):
        assert policy.sms_segments(int(row["characters_including_signature"])) == int(row["segments"])


# identifiers.py is the lead's; the vectors are checked here too so that Python and SQL
# (tests/policy/test_policy_sql.py) are held to the same table.
def test_id_numbers_vector():
    for row in read_vectors("id_numbers.csv"):
        info = parse_id_no(row["id_no"])
        if row["expected"] == "valid":
            assert info is not None, row
            assert info.birth_date.isoformat() == row["birth_date"]
            assert info.gender == int(row["gender"])
            assert info.id_no == row["id_no"].upper()
        else:
            assert info is None, row


def test_phones_vector():
    for row in read_vectors("phones.csv"):
        got = normalize_phone(row["phone"])
        assert (got is not None) == (row["expected_valid"] == "true"), row
        assert (got or "") == row["normalized"]


def test_uscc_vector():
    for row in read_vectors("uscc.csv"):
        assert uscc_valid(row["uscc"]) == (row["expected_valid"] == "true"), row


# ---------------------------------------------------------------------------------------
# section 1 edges
# ---------------------------------------------------------------------------------------

GROUPS = [  # (gender, person_type, first delayed birth, step, cap, original age)
    (1, 1, "1965-01", 4, 36, 60),
    (1, None, "1965-01", 4, 36, 60),
    (2, 2, "1970-01", 4, 36, 55),
    (2, 3, "1970-01", 4, 36, 55),
    (2, 1, "1975-01", 2, 60, 50),
    (2, None, "1975-01", 2, 60, 50),
]


@pytest.mark.parametrize("gender,pt,first,step,cap,age", GROUPS)
def test_delay_edges(gender, pt, first, step, cap, age):
    f = parse_month(first)
    assert delay_months(gender, pt, 110, f - 1) == 0  # born just before the reform
    assert delay_months(gender, pt, 110, f - 120) == 0
    assert delay_months(gender, pt, 110, f) == 1  # first delayed birth month
    assert delay_months(gender, pt, 110, f + step - 1) == 1
    assert delay_months(gender, pt, 110, f + step) == 2
    cap_birth = f + step * (cap - 1)  # first birth month at the cap
    assert delay_months(gender, pt, 110, cap_birth - 1) == cap - 1
    assert delay_months(gender, pt, 110, cap_birth) == cap
    assert delay_months(gender, pt, 110, cap_birth + 500) == cap
    assert original_age_years(gender, pt, 110) == age
    # the transition ends with retirements in 2039-12 (policy.md §1)
    last = retirement_facts(gender, pt, 110, cap_birth + step - 1)
    assert format_month(last.statutory_age_mi) == "2039-12"


def test_months_nobody_reaches_the_age():
    # policy.md §1: for men no one reaches the new age in 2025-01, 2025-06, 2025-11 …
    reached = {
        retirement_facts(1, 1, 110, b).statutory_age_mi
        for b in range(parse_month("1960-01"), parse_month("1980-12") + 1)
    }
    for m in ("2025-01", "2025-06", "2025-11"):
        assert parse_month(m) not in reached
    assert parse_month("2025-02") in reached and parse_month("2039-12") in reached


def test_cap_birth_months_match_policy_table():
    assert format_month(parse_month("1965-01") + 4 * 35) == "1976-09"
    assert format_month(parse_month("1970-01") + 4 * 35) == "1981-09"
    assert format_month(parse_month("1975-01") + 2 * 59) == "1984-11"


def test_original_ages():
    assert original_age_years(1, 2, 110) == 60
    assert original_age_years(2, 2, 110) == 55
    assert original_age_years(2, 1, 110) == 50
    assert original_age_years(2, 3, 110) == 55
    assert original_age_years(2, None, 110) == 50
    assert original_age_years(2, "", 110) == 50
    assert original_age_years(1, None, 170) == 60
    assert original_age_years(2, 1, 170) == 60
    fifty = Settings(flexible_women_original_age=50)
    assert original_age_years(2, 3, 110, fifty) == 50
    b = parse_month("1975-01")
    assert delay_months(2, 3, 110, b, fifty) == 1
    assert delay_months(2, 3, 110, parse_month("1974-12"), fifty) == 0
    assert delay_months(2, 3, 110, parse_month("1974-12")) == 15  # with 55: 1970-01 group
    with pytest.raises(ValueError):
        original_age_years(2, 3, 110, Settings(flexible_women_original_age=52))
    with pytest.raises(ValueError):
        original_age_years(3, 1, 110)
    with pytest.raises(ValueError):
        original_age_years(1, 1, 120)


def test_residents_unchanged():
    for g in (1, 2):
        for b in range(parse_month("1950-01"), parse_month("2005-12") + 1, 7):
            f = retirement_facts(g, None, 170, b)
            assert f.delay_months == 0
            assert f.statutory_age_mi == f.original_age_mi == b + 720
            assert f.flexible_earliest_mi is None and f.flexible_latest_mi is None
            assert f.min_contribution_months == 180
            assert f.statutory_age_months == 720


def test_facts_and_offset_setting():
    b = parse_month("1981-01")
    f = retirement_facts(2, 1, 110, b)
    assert f.flexible_earliest_mi == f.statutory_age_mi - 36 > f.original_age_mi  # earliest above 50
    assert f.statutory_age_text == "53y1m"
    assert f.benefit_start_mi == f.statutory_age_mi + 1
    g = retirement_facts(2, 1, 110, b, Settings(benefit_start_offset=0))
    assert g.benefit_start_mi == g.statutory_age_mi


def test_policy_json_with_month():
    out = policy_json(1, 1, 110, "1965-05", "2025-06")
    assert out["statutory_age_month"] == "2025-07"
    assert out["months_to_original"] == -1
    assert out["months_to_statutory"] == 1
    out = policy_json(2, None, 170, "1966-06", "2026-06")
    assert out["months_to_original"] == 0 and out["months_to_statutory"] == 0
    assert out["flexible_earliest_month"] is None
    assert list(policy_json(1, None, None, "1970-01")) == [
        "original_age_month",
        "statutory_age_month",
        "statutory_age",
        "delay_months",
        "benefit_start_month",
        "flexible_earliest_month",
        "flexible_latest_month",
        "min_contribution_months",
    ]


def test_counted_months():
    assert counted_months(100, 50, 1) == 150
    assert counted_months(100, 50, 2) == 100
    assert counted_months(100, 50, 0) == 100
    assert counted_months(100, None, 1) == 100
    assert counted_months(None, None, None) == 0


def test_no_public_calculator_mistakes():
    # policy.md §1: not "55→58 for every woman", not off by one from 2025-01
    assert retirement_facts(2, 1, 110, parse_month("1975-01")).statutory_age_text == "50y1m"
    assert format_month(retirement_facts(1, 1, 110, parse_month("1965-01")).statutory_age_mi) == "2025-02"


# ---------------------------------------------------------------------------------------
# section 2
# ---------------------------------------------------------------------------------------


def _bp_rows():
    return read_vectors("benefit_place.csv")


@pytest.mark.parametrize("row", _bp_rows(), ids=lambda r: r["case"][:40])
def test_benefit_place_vector(row):
    place = benefit_province(
        hukou_region=row["hukou_region"] or None,
        benefit_region_ministry=None,
        insured_region=row["insured_region"] or None,
        deemed_region=row["deemed_region"] or None,
        deemed_months=int(row["deemed_months"] or 0),
        deemed_status=int(row["deemed_status"] or 0),
        segments=parse_segments(row["segments"]),
    )
    assert place.province == row["expected_benefit_province"]
    assert place.rule == vector_rule(row["rule"])


def test_benefit_place_vectors_present():
    assert len(read_vectors("benefit_place.csv")) >= 14


def bp(segments=(), hukou="620102", ministry=None, insured="640104", deemed_region=None, dm=0, ds=0):
    return benefit_province(
        hukou_region=hukou,
        benefit_region_ministry=ministry,
        insured_region=insured,
        deemed_region=deemed_region,
        deemed_months=dm,
        deemed_status=ds,
        segments=[(r, parse_yyyymm(a), parse_yyyymm(b), s) for r, a, b, s in segments],
    )


def test_distinct_months_overlap():
    place = bp(
        [("640104", "200001", "200912", 1), ("640105", "200501", "201012", 1), ("640106", "201012", "201012", 2)]
    )
    assert place.acc == {"640000": 132}
    assert place.rule == policy.RULE_2
    assert policy.union_months([(1, 5), (3, 4), (6, 6), (10, 9), (8, 9)]) == 8


def test_hukou_fallbacks():
    assert bp([], hukou=None, ministry="610102").province == "610000"
    assert bp([], hukou=None, ministry=None).province == "640000"
    assert bp([], hukou="", ministry="").province == "640000"
    p = bp([], hukou="620102", ministry="610102")
    assert (p.province, p.rule, p.current_province, p.acc) == ("620000", policy.RULE_NO_BASIC_MONTHS, None, {})


def test_current_province_ties():
    segs = [("610102", "200001", "201012", 1), ("150102", "200001", "201012", 1)]
    assert bp(segs, insured="640104").current_province == "150000"  # lower code
    assert bp(segs, insured="610102").current_province == "610000"  # insured first


def test_rule3_ties_and_deemed_only():
    # C = NM (short); GD and SN both >= 120 ending in the same month: lower code
    segs = [("440100", "199001", "200312", 1), ("610102", "199001", "200312", 1), ("150102", "200401", "200512", 1)]
    p = bp(segs)
    assert (p.province, p.rule) == ("440000", policy.RULE_3)
    # a deemed-only province counts as ending earliest
    p = bp([("610102", "199001", "200312", 1), ("150102", "200401", "200512", 1)], deemed_region="110105", dm=150, ds=1)
    assert (p.province, p.rule) == ("610000", policy.RULE_3)
    # deemed months only: no C, straight to rule 3 …
    p = bp([], deemed_region="610102", dm=130, ds=1)
    assert (p.province, p.rule, p.current_province) == ("610000", policy.RULE_3, None)
    # … then rule 4
    p = bp([], deemed_region="610102", dm=100, ds=1)
    assert (p.province, p.rule) == ("620000", policy.RULE_4)
    # deemed months without a region count nowhere
    p = bp([], deemed_region=None, dm=130, ds=1)
    assert (p.province, p.rule) == ("620000", policy.RULE_NO_BASIC_MONTHS)


def test_temporary_only_and_status_2():
    p = bp([("610102", "199001", "201012", 3)])
    assert (p.province, p.rule) == ("620000", policy.RULE_NO_BASIC_MONTHS)
    p = bp([("610102", "199001", "201012", 2)])
    assert (p.province, p.rule, p.current_province) == ("610000", policy.RULE_2, "610000")
    # a temporary account that ends latest never makes C
    p = bp([("610102", "199001", "199912", 1), ("640104", "200001", "202012", 3)])
    assert p.current_province == "610000"


def _cli_policy(capsys, *args):
    from pipelines.cli import main

    try:
        code = main(["policy", *args])
    except SystemExit as exc:  # an argument refused by the parser (one line, exit 2)
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_policy_gives_every_vector(capsys):
    """`retire-prep policy` itself (outputs.md) on every row of retirement_age.csv."""
    import json

    rows = read_vectors("retirement_age.csv")
    for row in rows:
        args = ["--gender", row["gender"], "--insurance-type", row["insurance_type"], "--birth", row["birth_month"]]
        if row["person_type"].strip():
            args += ["--person-type", row["person_type"]]
        code, out, err = _cli_policy(capsys, *args)
        assert code == 0 and err == "", row["case"]
        got = json.loads(out)
        for col in (
            "original_age_month",
            "statutory_age",
            "statutory_age_month",
            "benefit_start_month",
            "flexible_earliest_month",
            "flexible_latest_month",
        ):
            assert (got[col] or "") == row[col], (row["case"], col)
        for col in ("delay_months", "min_contribution_months"):
            assert got[col] == int(row[col]), (row["case"], col)


def test_cli_policy_reads_the_settings_file(tmp_path, monkeypatch, capsys):
    """The CLI uses the configured settings, as run and declare do (rules.md: settings)."""
    import json

    f = tmp_path / "settings.toml"
    f.write_text(
        'flexible_women_original_age = 50\nbenefit_start_offset = 0\nperson_key_secret = "t"\n', encoding="utf-8"
    )
    monkeypatch.setenv("RETIRE_PREP_SETTINGS", str(f))
    code, out, _ = _cli_policy(capsys, "--gender", "2", "--person-type", "3", "--birth", "1975-03")
    got = json.loads(out)
    assert code == 0
    assert (got["original_age_month"], got["statutory_age_month"], got["benefit_start_month"]) == (
        "2025-03",
        "2025-05",
        "2025-05",
    )


@pytest.mark.parametrize("birth, month", [("1965-13", None), ("196505", None), ("1965-05", "2026-00")])
def test_cli_policy_bad_month_is_one_line(capsys, birth, month):
    args = ["--gender", "1", "--birth", birth] + (["--month", month] if month else [])
    code, out, err = _cli_policy(capsys, *args)
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and err.startswith("retire-prep: ") and "month" in err
