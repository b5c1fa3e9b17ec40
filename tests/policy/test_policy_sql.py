"""The SQL twins (sql/policy/*.sql macros, sql/screen/benefit_place.sql) against the vectors
and against the Python of pipelines.policy / pipelines.identifiers."""

from __future__ import annotations

import random
import time
from datetime import date

import duckdb
import pyarrow as pa
import pytest

from pipelines import policy
from pipelines.identifiers import (
    SPACE_SEPARATORS,
    id_check_char,
    normalize_phone,
    parse_id_no,
    uscc_check_char,
    uscc_valid,
)
from pipelines.months import parse_yyyymm
from pipelines.policy import benefit_province, format_month, parse_month, retirement_facts
from pipelines.settings import Settings
from pipelines.screen import STEPS as SCREEN_STEPS
from pipelines.steps import run_step
from pipelines.warehouse import register_id_checks, register_policy

from support.pushkit import read_vectors


def connect(settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with the nfkc UDF and every sql/policy macro, as warehouse.connect does
    (and the ID checks, as ingest's connection adds them)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    register_policy(con, settings or Settings())
    register_id_checks(con)
    return con


@pytest.fixture(scope="module")
def con():
    c = connect()
    yield c
    c.close()


def one(con, sql: str, params=None):
    # fetchall: DuckDB 2.0's Python API refuses new work while a result is unfinished
    return con.execute(sql, params or []).fetchall()[0][0]


# ---------------------------------------------------------------------------------------
# month helpers
# ---------------------------------------------------------------------------------------


def test_month_macros(con):
    assert one(con, "SELECT mi_of_date(DATE '1965-01-31')") == parse_month("1965-01")
    assert one(con, "SELECT mi_of_yyyymm('196512')") == parse_yyyymm("196512")
    assert one(con, "SELECT mi_of_yyyymm('196513')") is None
    assert one(con, "SELECT mi_of_yyyymm('1965-1')") is None
    assert one(con, "SELECT mi_of_yyyymm(NULL)") is None
    assert one(con, "SELECT mi_text(23580)") == "1965-01"
    assert one(con, "SELECT mi_text(?)", [parse_month("2039-12")]) == "2039-12"
    assert one(con, "SELECT mi_of_text('2039-12')") == parse_month("2039-12")
    assert one(con, "SELECT mi_first_day(23580)") == date(1965, 1, 1)
    assert one(con, "SELECT age_text(756)") == "63y0m"
    rows = con.execute("""
        SELECT i, mi_text(i), mi_of_yyyymm(replace(mi_text(i), '-', '')) FROM range(0, 120000, 7) t(i)
    """).fetchall()
    for i, text, back in rows:
        assert text == format_month(i) and back == i


# ---------------------------------------------------------------------------------------
# section 1
# ---------------------------------------------------------------------------------------

FACTS_SQL = """
SELECT original_age_years(g, pt, it)             AS age,
       original_age_mi(g, pt, it, b)             AS o,
       delay_months(g, pt, it, b)                AS d,
       statutory_age_mi(g, pt, it, b)            AS s,
       statutory_age_months(g, pt, it, b)        AS sm,
       benefit_start_mi(g, pt, it, b)            AS bs,
       flexible_earliest_mi(g, pt, it, b)        AS fe,
       flexible_latest_mi(g, pt, it, b)          AS fl,
       statutory_min_contribution_months(g, pt, it, b) AS mc,
       min_contribution_months(statutory_age_mi(g, pt, it, b) // 12, it) AS mc2
FROM {src}
"""


def facts_from_sql(con, rows):
    """rows: (gender, person_type, insurance_type, birth_mi); typed as the warehouse types them."""
    cols = list(zip(*rows))
    con.register(
        "facts_arrow",
        pa.table(
            {
                "k": pa.array(range(len(rows)), pa.int32()),
                "g": pa.array(cols[0], pa.int8()),
                "pt": pa.array(cols[1], pa.int8()),
                "it": pa.array(cols[2], pa.int16()),
                "b": pa.array(cols[3], pa.int32()),
            }
        ),
    )
    con.execute("CREATE OR REPLACE TEMP TABLE facts_in AS SELECT * FROM facts_arrow")
    con.unregister("facts_arrow")
    out = con.execute(FACTS_SQL.format(src="facts_in ORDER BY k")).fetchall()
    return out


def python_facts_tuple(g, pt, it, b, settings=None):
    f = retirement_facts(g, pt, it, b, settings)
    return (
        f.original_age_years,
        f.original_age_mi,
        f.delay_months,
        f.statutory_age_mi,
        f.statutory_age_months,
        f.benefit_start_mi,
        f.flexible_earliest_mi,
        f.flexible_latest_mi,
        f.min_contribution_months,
        f.min_contribution_months,
    )


def test_retirement_age_vectors(con):
    rows = read_vectors("retirement_age.csv")
    inputs = [
        (
            int(r["gender"]),
            int(r["person_type"]) if r["person_type"] else None,
            int(r["insurance_type"]),
            parse_month(r["birth_month"]),
        )
        for r in rows
    ]
    got = facts_from_sql(con, inputs)
    for r, (age, o, d, s, sm, bs, fe, fl, mc, mc2) in zip(rows, got):
        assert format_month(o) == r["original_age_month"], r["case"]
        assert format_month(s) == r["statutory_age_month"], r["case"]
        assert f"{sm // 12}y{sm % 12}m" == r["statutory_age"], r["case"]
        assert d == int(r["delay_months"]), r["case"]
        assert format_month(bs) == r["benefit_start_month"], r["case"]
        assert (format_month(fe) if fe is not None else "") == r["flexible_earliest_month"], r["case"]
        assert (format_month(fl) if fl is not None else "") == r["flexible_latest_month"], r["case"]
        assert mc == mc2 == int(r["min_contribution_months"]), r["case"]
    texts = con.execute("SELECT age_text(statutory_age_months(g, pt, it, b)) FROM facts_in ORDER BY k").fetchall()
    assert [t for (t,) in texts] == [r["statutory_age"] for r in rows]


def test_min_contribution_vector(con):
    for r in read_vectors("min_contribution.csv"):
        y = int(r["statutory_age_year"])
        assert one(con, "SELECT min_contribution_months(?, 110::SMALLINT)", [y]) == int(r["min_contribution_months"])
        assert one(con, "SELECT min_contribution_months(?, 170::SMALLINT)", [y]) == 180
    got = [one(con, "SELECT min_contribution_months(?, 110)", [y]) for y in range(2028, 2042)]
    assert got == [policy.min_contribution_months(y) for y in range(2028, 2042)]


GROUPS = [  # gender, person_type, insurance_type: men; women 50; women 55; flexible women; empty type; residents
    (1, 1, 110),
    (1, 2, 110),
    (1, None, 110),
    (2, 1, 110),
    (2, None, 110),
    (2, 2, 110),
    (2, 3, 110),
    (1, None, 170),
    (2, None, 170),
    (2, 1, 170),
]
ALL_BIRTHS = range(parse_month("1950-01"), parse_month("2005-12") + 1)


@pytest.mark.parametrize("flex_age", [55, 50])
def test_parity_every_birth_month(flex_age):
    settings = Settings(flexible_women_original_age=flex_age)
    c = connect(settings)
    inputs = [(g, pt, it, b) for g, pt, it in GROUPS for b in ALL_BIRTHS]
    got = facts_from_sql(c, inputs)
    expected = [python_facts_tuple(*r, settings) for r in inputs]
    mismatches = [(r, g, e) for r, g, e in zip(inputs, got, expected) if tuple(g) != e]
    assert not mismatches, mismatches[:5]
    # and the result is INTEGER, not TINYINT (TINYINT arithmetic would overflow)
    types = c.execute(
        f"SELECT typeof(o), typeof(s), typeof(d) FROM ({FACTS_SQL.format(src='facts_in')}) LIMIT 1"
    ).fetchall()[0]
    assert types == ("INTEGER", "INTEGER", "INTEGER")
    c.close()


def test_benefit_start_offset_setting():
    c = connect(Settings(benefit_start_offset=0))
    assert one(c, "SELECT benefit_start_mi(1, 1, 110, 23580) - statutory_age_mi(1, 1, 110, 23580)") == 0
    c.close()


def test_bad_flexible_setting_refused():
    with pytest.raises(Exception, match="must_be_50_or_55"):
        connect(Settings(flexible_women_original_age=52))


def test_nulls_and_unknown_codes(con):
    assert one(con, "SELECT original_age_years(NULL, 1, 110)") is None
    assert one(con, "SELECT original_age_years(1, 1, NULL)") is None
    assert one(con, "SELECT delay_months(2, NULL, 110, NULL)") is None
    assert one(con, "SELECT original_age_years(2::TINYINT, NULL::TINYINT, 110::SMALLINT)") == 50
    assert one(con, "SELECT flexible_earliest_mi(1, NULL, 170, 23580)") is None
    assert one(con, "SELECT flexible_latest_mi(1, NULL, 170, 23580)") is None


def test_counted_months(con):
    cases = [(100, 50, 1), (100, 50, 2), (100, 50, 0), (100, None, 1), (None, None, None), (0, 12, 1)]
    for a, dm, ds in cases:
        assert one(
            con, "SELECT counted_months(?::INTEGER, ?::INTEGER, ?::TINYINT)", [a, dm, ds]
        ) == policy.counted_months(a, dm, ds)


def test_sms_segments_vector(con):
    for r in read_vectors("sms_segments.csv"):
        n = int(r["characters_including_signature"])
        assert one(con, "SELECT sms_segments(?)", [n]) == int(r["segments"]) == policy.sms_segments(n)
    for n in range(0, 600):
        assert one(con, "SELECT sms_segments(?)", [n]) == policy.sms_segments(n)


# ---------------------------------------------------------------------------------------
# identifiers
# ---------------------------------------------------------------------------------------


def test_id_numbers_vector(con):
    for r in read_vectors("id_numbers.csv"):
        valid, born, gender = con.execute(
            "SELECT id_no_valid(?), id_birth_date(?), id_gender(?)", [r["id_no"]] * 3
        ).fetchall()[0]
        assert valid == (r["expected"] == "valid"), r
        assert (born.isoformat() if born else "") == r["birth_date"], r
        assert (str(gender) if gender else "") == r["gender"], r
    assert one(con, "SELECT id_no_normalized('11010519491231002x')") == "11010519491231002X"
    assert one(con, "SELECT id_no_valid(NULL)") is False
    assert one(con, "SELECT id_gender(NULL)") is None
    assert one(con, "SELECT typeof(id_gender('11010519491231002X'))") == "TINYINT"


def _random_ids(n: int, rnd: random.Random) -> list[str]:
    out = []
    for _ in range(n):
        y = rnd.randint(1880, 2030)
        m = rnd.randint(0, 13)
        d = rnd.randint(0, 32)
        body = f"{rnd.randint(110000, 659999):06d}{y:04d}{m:02d}{d:02d}{rnd.randint(0, 999):03d}"
        s = body + id_check_char(body)
        kind = rnd.random()
        if kind < 0.15:
            s = s[:17] + rnd.choice("0123456789X")  # maybe wrong check
        elif kind < 0.2:
            s = s.lower()
        elif kind < 0.25:
            s = s[: rnd.randint(0, 17)]
        elif kind < 0.3:
            i = rnd.randrange(17)
            s = s[:i] + rnd.choice("A x") + s[i + 1 :]
        elif kind < 0.33:
            s = " " + s + " "
        elif kind < 0.35:
            body = "123456" + "0000" + "0229" + "123"  # year 0000 is no date
            s = body + id_check_char(body)
        out.append(s)
    return out


def test_space_separators_are_what_duckdb_trims(con):
    """identifiers.SPACE_SEPARATORS is exactly the set of characters up to U+3000 that trim() removes."""
    import unicodedata

    trimmed = [
        chr(cp)
        for cp in range(1, 0x3001)
        if (chr(cp).isspace() or unicodedata.category(chr(cp)) in ("Zs", "Cc", "Cf"))
        and con.execute("SELECT length(trim(?))", [chr(cp) + "a" + chr(cp)]).fetchall()[0][0] == 1
    ]
    assert "".join(trimmed) == SPACE_SEPARATORS


def test_id_parity_random(con):
    rnd = random.Random(11643)
    ids = _random_ids(20000, rnd) + [
        "",
        "X" * 18,
        "12345619000229123" + id_check_char("12345619000229123"),
        "12345620000229123" + id_check_char("12345620000229123"),
    ]
    # padded with every space separator DuckDB's trim() removes, and with characters it keeps
    ok = "640104196501150013"
    ids += [c + ok + c for c in SPACE_SEPARATORS] + ["\t" + ok, ok + "\n", "\u200b" + ok]
    tbl = pa.table({"k": list(range(len(ids))), "s": ids})
    con.register("ids_arrow", tbl)
    got = con.execute(
        "SELECT id_no_valid(s), id_birth_date(s), id_gender(s), id_no_normalized(s) FROM ids_arrow ORDER BY k"
    ).fetchall()
    con.unregister("ids_arrow")
    n_valid = 0
    for s, (valid, born, gender, norm) in zip(ids, got):
        info = parse_id_no(s)
        assert valid == (info is not None), s
        if info:
            n_valid += 1
            assert (born, gender, norm) == (info.birth_date, info.gender, info.id_no), s
        else:
            assert (born, gender, norm) == (None, None, None), s
    assert 2000 < n_valid < 19000  # both kinds well represented


def test_uscc_vector_and_parity(con):
    for r in read_vectors("uscc.csv"):
        assert one(con, "SELECT uscc_valid(?)", [r["uscc"]]) == (r["expected_valid"] == "true"), r
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    rnd = random.Random(32100)
    codes = []
    for _ in range(5000):
        body = "".join(rnd.choice(alphabet) for _ in range(17))
        s = body + uscc_check_char(body)
        k = rnd.random()
        if k < 0.3:
            s = s[:17] + rnd.choice(alphabet)
        elif k < 0.35:
            s = s.lower()
        elif k < 0.4:
            s = s[:9] + rnd.choice("IOSVZ") + s[10:]
        elif k < 0.45:
            s = s[: rnd.randint(0, 19)]
        codes.append(s)
    codes += [None, ""]
    got = con.execute(
        "SELECT uscc_valid(s) FROM (SELECT unnest(?) AS s, generate_subscripts(?, 1) AS k) ORDER BY k", [codes, codes]
    ).fetchall()
    for s, (v,) in zip(codes, got):
        assert v == uscc_valid(s), s


PHONE_EXTRAS = [
    "139\u20101234\u20105678",  # U+2010 HYPHEN: a hyphen, removed
    "139\u20111234\u20115678",  # U+2011 NON-BREAKING HYPHEN: NFKC makes it U+2010
    "139\u22121234\u22125678",  # U+2212 MINUS SIGN: not a hyphen, stays (invalid)
    "139\u20131234\u20135678",  # U+2013 EN DASH: not a hyphen, stays (invalid)
    "１３９１２３４５６７８",  # full-width digits: NFKC makes them ASCII
    "139\u30001234\u30005678",  # ideographic spaces
    "＋８６ 139 1234 5678",
    "+86-139-1234-5678",
    "0086 139 1234 5678",
    "+860086 13912345678",
    "86 13912345678",
    "1391234567８",
    "13912345678 ",
    "\t13912345678",
    "10912345678",
    "١٣٩١٢٣٤٥٦٧٨",  # Arabic-Indic digits: not ASCII
    "+8613912345678x",
    "",
    None,
]


def test_phone_hyphens_are_removed_dashes_are_not():
    assert normalize_phone("139\u20101234\u20105678") == normalize_phone("139\u20111234\u20115678") == "13912345678"
    assert normalize_phone("139\u22121234\u22125678") is None and normalize_phone("139\u20131234\u20135678") is None


def test_phones_vector_and_parity(con):
    for r in read_vectors("phones.csv"):
        got = one(con, "SELECT phone_normalized(?)", [r["phone"]])
        assert (got is not None) == (r["expected_valid"] == "true"), r
        assert (got or "") == r["normalized"], r
    for s in PHONE_EXTRAS:
        assert one(con, "SELECT phone_normalized(?)", [s]) == normalize_phone(s), repr(s)
        assert one(con, "SELECT phone_valid(?)", [s]) == (normalize_phone(s) is not None), repr(s)


# ---------------------------------------------------------------------------------------
# section 2: benefit place, set-based
# ---------------------------------------------------------------------------------------

PERSONS_DDL = """
CREATE OR REPLACE TEMP TABLE bp_persons (id_no VARCHAR, hukou_region VARCHAR, benefit_region_ministry VARCHAR,
    insured_region VARCHAR, deemed_region VARCHAR, deemed_months INTEGER, deemed_status TINYINT);
CREATE OR REPLACE TEMP TABLE bp_segments (id_no VARCHAR, region_code VARCHAR, start_mi INTEGER, end_mi INTEGER,
    relation_status TINYINT);
"""


def run_benefit_place(con, persons: list[tuple], segments: list[tuple]) -> dict:
    con.execute(PERSONS_DDL)
    p_cols = list(zip(*persons)) if persons else [[]] * 7
    s_cols = list(zip(*segments)) if segments else [[]] * 5
    con.register(
        "p_in",
        pa.table(
            {
                "id_no": pa.array(p_cols[0], pa.string()),
                "hukou_region": pa.array(p_cols[1], pa.string()),
                "benefit_region_ministry": pa.array(p_cols[2], pa.string()),
                "insured_region": pa.array(p_cols[3], pa.string()),
                "deemed_region": pa.array(p_cols[4], pa.string()),
                "deemed_months": pa.array(p_cols[5], pa.int32()),
                "deemed_status": pa.array(p_cols[6], pa.int8()),
            }
        ),
    )
    con.register(
        "s_in",
        pa.table(
            {
                "id_no": pa.array(s_cols[0], pa.string()),
                "region_code": pa.array(s_cols[1], pa.string()),
                "start_mi": pa.array(s_cols[2], pa.int32()),
                "end_mi": pa.array(s_cols[3], pa.int32()),
                "relation_status": pa.array(s_cols[4], pa.int8()),
            }
        ),
    )
    con.execute("INSERT INTO bp_persons SELECT * FROM p_in; INSERT INTO bp_segments SELECT * FROM s_in")
    con.unregister("p_in")
    con.unregister("s_in")
    run_step(con, SCREEN_STEPS["benefit_place"], settings=Settings())
    rows = con.execute(
        "SELECT id_no, benefit_province, place_rule, hukou_province, current_province, acc_current, "
        "acc_months FROM benefit_place"
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def python_place(person: tuple, segs: list[tuple]) -> tuple:
    id_no, hukou, ministry, insured, dr, dm, ds = person
    place = benefit_province(
        hukou_region=hukou,
        benefit_region_ministry=ministry,
        insured_region=insured,
        deemed_region=dr,
        deemed_months=dm,
        deemed_status=ds,
        segments=[(r, a, b, st) for _, r, a, b, st in segs],
    )
    return (place.province, place.rule, place.hukou_province, place.current_province, place.acc_current, place.acc_text)


def test_benefit_place_vectors(con):
    rows = read_vectors("benefit_place.csv")
    persons, segments = [], []
    for i, r in enumerate(rows):
        pid = f"P{i}"
        persons.append(
            (
                pid,
                r["hukou_region"] or None,
                None,
                r["insured_region"] or None,
                r["deemed_region"] or None,
                int(r["deemed_months"] or 0),
                int(r["deemed_status"] or 0),
            )
        )
        segments += [(pid, *s) for s in parse_segments(r["segments"])]
    got = run_benefit_place(con, persons, segments)
    assert len(got) == len(rows)
    for i, r in enumerate(rows):
        prov, rule, *_ = got[f"P{i}"]
        assert (prov, rule) == (r["expected_benefit_province"], vector_rule(r["rule"])), r["case"]


def parse_segments(text: str) -> list[tuple[str, int, int, int]]:
    """``region:YYYYMM-YYYYMM:status`` joined by ``;`` (vectors/README.md)."""
    out = []
    for part in filter(None, text.split(";")):
        region, span, status = part.split(":")
        start, end = span.split("-")
        out.append((region, parse_yyyymm(start), parse_yyyymm(end), int(status)))
    return out


def vector_rule(text: str) -> str:
    for prefix, code in {
        "(1)": policy.RULE_1,
        "(2)": policy.RULE_2,
        "(3)": policy.RULE_3,
        "(4)": policy.RULE_4,
        "no basic months": policy.RULE_NO_BASIC_MONTHS,
    }.items():
        if text.startswith(prefix):
            return code
    raise AssertionError(f"unknown rule text {text!r}")


REGIONS = ["640104", "640105", "640302", "620102", "610102", "150102", "110105", "440100", "650102", "120101"]


def random_histories(n: int, seed: int):
    rnd = random.Random(seed)
    persons, segments = [], []
    ends = [parse_month("2005-12"), parse_month("2010-06"), parse_month("2015-12"), parse_month("2024-12")]
    for i in range(n):
        pid = f"{i:08d}"
        hukou = rnd.choice(REGIONS + [None, None, ""])
        ministry = rnd.choice(REGIONS + [None] * 5)
        insured = rnd.choice(REGIONS[:3] * 3 + REGIONS)
        ds = rnd.choice([0, 0, 1, 1, 2])
        dm = rnd.choice([0, 0, 24, 60, 96, 119, 120, 150]) if ds else 0
        dr = rnd.choice(REGIONS + [None]) if dm else None
        persons.append((pid, hukou, ministry, insured, dr, dm, ds))
        k = rnd.choice([0, 1, 2, 3, 4, 4, 5, 6, 8])
        cursor = parse_month("1985-01") + rnd.randint(0, 120)
        for _ in range(k):
            region = rnd.choice(REGIONS)
            status = rnd.choices([1, 2, 3], [6, 2, 2])[0]
            mode = rnd.random()
            if mode < 0.2:
                start = cursor - rnd.randint(0, 60)  # overlapping the previous ones
            else:
                start = cursor + rnd.randint(0, 12)
            length = rnd.choice([1, 12, 36, 60, 119, 120, 121, 144])
            end = start + length - 1
            if rnd.random() < 0.3:
                end = rnd.choice(ends) if rnd.random() < 0.4 else ends[-1]  # ties on the latest end
                start = min(start, end)
            segments.append((pid, region, start, end, status))
            cursor = max(cursor, end + 1)
    return persons, segments


def test_benefit_place_parity_random(con):
    persons, segments = random_histories(12000, seed=20240913)
    got = run_benefit_place(con, persons, segments)
    by_person: dict[str, list] = {}
    for s in segments:
        by_person.setdefault(s[0], []).append(s)
    rules = {}
    mismatches = []
    ties = 0
    for p in persons:
        latest: dict[str, int] = {}
        for _, r, a, b, st in by_person.get(p[0], []):
            if st != 3:
                latest[r[:2]] = max(latest.get(r[:2], b), b)
        if len(latest) > 1 and list(latest.values()).count(max(latest.values())) > 1:
            ties += 1
        exp = python_place(p, by_person.get(p[0], []))
        rules[exp[1]] = rules.get(exp[1], 0) + 1
        if got[p[0]] != exp:
            mismatches.append((p, by_person.get(p[0]), got[p[0]], exp))
    assert not mismatches, mismatches[:3]
    assert len(got) == len(persons)
    # every rule is exercised many times
    assert set(rules) == set(policy.PLACE_RULES) and min(rules.values()) > 200, rules
    assert ties > 250  # ties on the latest end (insured region first, then lower code) are exercised


def test_benefit_place_edge_persons(con):
    nx, gs = "640104", "620102"
    persons = [
        ("none", gs, None, nx, None, 0, 0),  # no segments
        ("empty_hukou", None, None, nx, None, 0, 0),
        ("ministry", "", "610102", nx, None, 0, 0),
        ("deemed_only", gs, None, nx, "610102", 130, 1),
        ("deemed_no_region", gs, None, nx, None, 130, 1),
        ("temp_only", gs, None, nx, None, 0, 0),
        ("tie_insured", gs, None, "610102", None, 0, 0),
        ("tie_lower", gs, None, nx, None, 0, 0),
    ]
    segs = [
        ("temp_only", nx, 24000, 24143, 3),
        ("tie_insured", "610102", 23000, 23100, 1),
        ("tie_insured", "150102", 23050, 23100, 1),
        ("tie_lower", "610102", 23000, 23100, 1),
        ("tie_lower", "150102", 23050, 23100, 1),
    ]
    got = run_benefit_place(con, persons, segs)
    for p in persons:
        assert got[p[0]] == python_place(p, [s for s in segs if s[0] == p[0]]), p
    assert got["none"] == ("620000", "HUKOU_NO_BASIC_MONTHS", "620000", None, None, "")
    assert got["empty_hukou"][0] == "640000"
    assert got["ministry"][0] == "610000"
    assert got["deemed_only"][:2] == ("610000", "R3_PREVIOUS_120")
    assert got["tie_insured"][3] == "610000" and got["tie_lower"][3] == "150000"


def test_benefit_place_large_population_parity():
    """200,000 persons × 4 segments through the set-based SQL; a sample checked against Python.

    Speed is measured by bench/run.py, not here."""
    c = connect()
    # deterministic pseudo-random data: most persons only in Ningxia, some in 2-4 provinces,
    # overlaps, temporary accounts, deemed months, empty hukou
    c.execute("""
        CREATE TEMP TABLE bp_persons AS
        SELECT lpad(CAST(i AS VARCHAR), 18, '0') AS id_no,
               CASE WHEN i % 11 = 0 THEN NULL ELSE ['640104','640104','620102','610102'][CAST(1 + hash(i, 'h') % 4 AS INTEGER)] END AS hukou_region,
               NULL::VARCHAR AS benefit_region_ministry, '640104' AS insured_region,
               CASE WHEN i % 5 = 0 THEN ['640104','620102'][1 + i % 2] END AS deemed_region,
               CASE WHEN i % 5 = 0 THEN CAST(12 * (1 + hash(i, 'd') % 12) AS INTEGER) ELSE 0 END AS deemed_months,
               CAST(CASE WHEN i % 5 = 0 THEN 1 + (i // 5) % 2 ELSE 0 END AS TINYINT) AS deemed_status
        FROM range(200000) t(i);
        CREATE TEMP TABLE bp_segments AS
        SELECT id_no, region_code, start_mi, CAST(start_mi + len AS INTEGER) AS end_mi, relation_status
        FROM (
            SELECT lpad(CAST(i AS VARCHAR), 18, '0') AS id_no,
                   CASE WHEN hash(i, 'mobile') % 10 < 6 THEN '640104'
                        ELSE ['640104','640105','620102','610102','150102','440100'][CAST(1 + hash(i, j, 'r') % 6 AS INTEGER)] END AS region_code,
                   CAST(23300 + j * 60 + hash(i, j, 's') % 70 AS INTEGER) AS start_mi,
                   CAST(hash(i, j, 'l') % 130 AS INTEGER) AS len,
                   CAST(CASE WHEN hash(i, j, 't') % 10 = 0 THEN 3 WHEN hash(i, j, 't') % 10 = 1 THEN 2 ELSE 1 END AS TINYINT)
                       AS relation_status
            FROM range(200000) t(i), range(4) s(j)
        );
    """)
    t0 = time.perf_counter()
    run_step(c, SCREEN_STEPS["benefit_place"], settings=Settings())
    elapsed = time.perf_counter() - t0
    n, rules = c.execute("SELECT count(*), count(DISTINCT place_rule) FROM benefit_place").fetchall()[0]
    assert n == 200_000 and rules >= 4
    # spot-check parity on a sample
    sample = c.execute("SELECT * FROM bp_persons WHERE hash(id_no) % 400 = 0").fetchall()
    ids = [p[0] for p in sample]
    segs = c.execute("SELECT * FROM bp_segments WHERE id_no IN (SELECT unnest(?))", [ids]).fetchall()
    got = dict(
        (r[0], r[1:])
        for r in c.execute(
            "SELECT id_no, benefit_province, place_rule, hukou_province, current_province, acc_current, acc_months "
            "FROM benefit_place "
            "WHERE id_no IN (SELECT unnest(?))",
            [ids],
        ).fetchall()
    )
    for p in sample:
        assert got[p[0]] == python_place(p, [s for s in segs if s[0] == p[0]])
    c.close()
    print(f"benefit_place.sql: {elapsed:.2f}s for 200,000 persons / {len(segs)} sampled segments checked")


def test_id_digits_of_valid_numbers_equal_the_checked_macros(con):
    """The screening reads birth date and gender digits of stored (valid) numbers without
    checking again: on every valid number they equal id_birth_date / id_gender."""
    rnd = random.Random(32100)
    ids = [s for s in _random_ids(20000, rnd) if parse_id_no(s) is not None]
    ids = [parse_id_no(s).id_no for s in ids]  # stored form: trimmed, upper-case X
    assert len(ids) > 5000
    con.register("ids_arrow", pa.table({"s": ids}))
    bad = con.execute(
        "SELECT count(*) FROM ids_arrow WHERE id_birth_ymd_of_valid(s) "
        "<> CAST(strftime(id_birth_date(s), '%Y%m%d') AS INTEGER) "
        "OR id_gender_of_valid(s) IS DISTINCT FROM id_gender(s)"
    ).fetchall()[0][0]
    con.unregister("ids_arrow")
    assert bad == 0
