"""The pure rules of rules.md sections 1 (retirement ages) and 2 (benefit place).

No I/O, no database: the SQL twins are the macros of ``sql/policy/retirement.sql``
and the set-based ``sql/screen/benefit_place.sql``; tests/policy/test_policy_sql.py keeps
the two in step.

Month arithmetic (rules.md preamble): a year-month ``Y-M`` is the integer index
``Y*12 + (M-1)``; every ``*_mi`` value below is such an index.

Sources (policy.md):

* 全国人民代表大会常务委员会关于实施渐进式延迟法定退休年龄的决定 (2024-09-13) and the
  国务院关于渐进式延迟法定退休年龄的办法 it approves (the 办法): 第一条 (new statutory ages),
  第二条 (minimum contribution years), 第三条 (flexible retirement) and annexes 1–3;
* 实施弹性退休制度暂行办法 (人社部发〔2024〕94号);
* 国发〔1978〕104号 (original ages 60 / 55 / 50); 国发〔2014〕8号 (resident pension at 60);
* 社会保险法 第十六条 (15 years);
* 国办发〔2009〕66号 城镇企业职工基本养老保险关系转移接续暂行办法 第六条 (benefit place), with
  人社部规〔2016〕5号 (the province is the unit; deemed years count where the work was done)
  and 人社部发〔2010〕70号 (temporary accounts never make a benefit place).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .settings import Settings

# --------------------------------------------------------------------------------------
# Month indexes
# --------------------------------------------------------------------------------------

# the month text and index helpers live in pipelines.months (one pattern for every month);
# imported here under their old home, where most stages take them from
from .months import format_month, month_index, parse_month


def month_year(mi: int) -> int:
    """The calendar year of a month index."""
    return mi // 12


def format_age(months: int) -> str:
    """An age in whole months as ``'63y0m'`` (outputs.md, ``statutory_age``)."""
    return f"{months // 12}y{months % 12}m"


# --------------------------------------------------------------------------------------
# Section 1: retirement ages
# --------------------------------------------------------------------------------------

EMPLOYEE = 110  # 企业职工基本养老保险
RESIDENT = 170  # 城乡居民基本养老保险


@dataclass(frozen=True)
class DelayGroup:
    """One row of the 办法's annexes: first delayed birth month, step and cap."""

    name: str
    original_age: int
    first_delayed_mi: int
    step: int
    max_delay: int


# 国务院关于渐进式延迟法定退休年龄的办法 第一条 and annexes 1–3 (policy.md §1).
MEN_60 = DelayGroup("men 60 -> 63", 60, month_index(1965, 1), 4, 36)
WOMEN_55 = DelayGroup("women originally 55 -> 58", 55, month_index(1970, 1), 4, 36)
WOMEN_50 = DelayGroup("women originally 50 -> 55", 50, month_index(1975, 1), 2, 60)
_GROUP_BY_AGE = {60: MEN_60, 55: WOMEN_55, 50: WOMEN_50}


def _int_or_none(v) -> int | None:
    if v is None:
        return None
    if isinstance(v, str):
        v = v.strip()
        if v == "":
            return None
    return int(v)


def _check_insurance_type(insurance_type) -> int:
    it = _int_or_none(insurance_type)
    if it not in (EMPLOYEE, RESIDENT):
        raise ValueError(f"insurance_type must be 110 or 170, not {insurance_type!r}")
    return it


def _check_gender(gender) -> int:
    g = _int_or_none(gender)
    if g not in (1, 2):
        raise ValueError(f"gender must be 1 or 2, not {gender!r}")
    return g


def _flexible_women_age(settings: Settings) -> int:
    age = settings.flexible_women_original_age
    if age not in (50, 55):
        # Only the two original ages of 国发〔1978〕104号 have a delay table in the 办法.
        raise ValueError(f"flexible_women_original_age must be 50 or 55, not {age!r}")
    return age


def original_age_years(gender, person_type, insurance_type, settings: Settings | None = None) -> int:
    """Original statutory age in years (原法定退休年龄), rules.md §1.

    国发〔1978〕104号: men 60; women cadres (``person_type`` 2) 55; women workers (1) 50.
    Women in flexible employment (3): ``settings.flexible_women_original_age`` (default 55,
    OPEN nationally, policy.md §4). A 110 woman with an empty ``person_type`` is taken at
    50, the earliest (she is flagged KEY_INFO_MISSING). Residents (170): 60 for both
    genders (国发〔2014〕8号).
    """
    settings = settings or Settings()
    it = _check_insurance_type(insurance_type)
    g = _check_gender(gender)
    if it == RESIDENT or g == 1:
        return 60
    pt = _int_or_none(person_type)
    if pt == 2:
        return 55
    if pt == 3:
        return _flexible_women_age(settings)
    return 50  # person_type 1, or empty (the earliest)


def delay_group(gender, person_type, insurance_type, settings: Settings | None = None) -> DelayGroup | None:
    """The delay table that applies (办法 第一条, annexes 1–3); None for residents (170)."""
    if _check_insurance_type(insurance_type) == RESIDENT:
        return None
    return _GROUP_BY_AGE[original_age_years(gender, person_type, insurance_type, settings)]


def delay_months(gender, person_type, insurance_type, birth_mi: int, settings: Settings | None = None) -> int:
    """Months of delay of the statutory age, rules.md §1 (国务院关于渐进式延迟法定退休年龄的办法 第一条).

    ``k`` = months from the group's first delayed birth month to the birth month;
    0 when ``k < 0``, else ``min(cap, k div step + 1)``: men (60→63) from 1965-01, step 4,
    cap 36; women originally 55 (→58, flexible-employment women when their original age
    is 55) from 1970-01, step 4, cap 36; women originally 50 (→55) from 1975-01, step 2,
    cap 60. Residents (170): 0.
    """
    group = delay_group(gender, person_type, insurance_type, settings)
    if group is None:
        return 0
    k = birth_mi - group.first_delayed_mi
    if k < 0:
        return 0
    return min(group.max_delay, k // group.step + 1)


def min_contribution_months(year: int, insurance_type=EMPLOYEE) -> int:
    """Minimum contribution months for a monthly pension, rules.md §1.

    办法 第二条: 180 (15 years, 社会保险法 第十六条) up to 2029, then +6 a year from 2030
    (``180 + 6 × (Y − 2029)``: 186 in 2030 … 240 in 2039), 240 from 2039 on; keyed by the
    calendar year of retirement. Residents (170): 180 (国发〔2014〕8号).
    """
    if _check_insurance_type(insurance_type) == RESIDENT:
        return 180
    return max(180, min(240, 180 + 6 * (int(year) - 2029)))


@dataclass(frozen=True)
class RetirementFacts:
    """Every month of rules.md §1 for one person (month indexes)."""

    original_age_years: int
    original_age_mi: int  # O = B + 12 × original age
    delay_months: int
    statutory_age_mi: int  # S = O + delay
    statutory_age_months: int  # age at S in whole months, e.g. 63*12
    benefit_start_mi: int  # S + offset (待遇起领时点)
    flexible_earliest_mi: int | None  # max(O, S − 36); None for 170
    flexible_latest_mi: int | None  # S + 36; None for 170
    min_contribution_months: int  # for the calendar year of S

    @property
    def statutory_age_text(self) -> str:
        return format_age(self.statutory_age_months)


def retirement_facts(
    gender, person_type, insurance_type, birth_mi: int, settings: Settings | None = None
) -> RetirementFacts:
    """All of rules.md §1 at once.

    ``O = B + 12 × original age`` (国发〔1978〕104号); ``S = O + delay`` (国务院关于渐进式
    延迟法定退休年龄的办法 第一条); benefit start ``S + benefit_start_offset`` (setting, default
    1); flexible window ``max(O, S − 36)`` … ``S + 36`` for 110 only (办法 第三条, 人社部发
    〔2024〕94号); minimum contribution months by the calendar year of ``S`` (办法 第二条).
    Residents (170): ``S = O`` at 60, no flexible window, minimum 180.
    """
    settings = settings or Settings()
    it = _check_insurance_type(insurance_type)
    age = original_age_years(gender, person_type, it, settings)
    o = birth_mi + 12 * age
    d = delay_months(gender, person_type, it, birth_mi, settings)
    s = o + d
    if it == EMPLOYEE:
        earliest, latest = max(o, s - 36), s + 36
    else:
        earliest = latest = None
    return RetirementFacts(
        original_age_years=age,
        original_age_mi=o,
        delay_months=d,
        statutory_age_mi=s,
        statutory_age_months=12 * age + d,
        benefit_start_mi=s + settings.benefit_start_offset,
        flexible_earliest_mi=earliest,
        flexible_latest_mi=latest,
        min_contribution_months=min_contribution_months(month_year(s), it),
    )


def policy_json(
    gender, person_type, insurance_type, birth_month: str, month: str | None = None, settings: Settings | None = None
) -> dict:
    """The JSON object printed by ``retire-prep policy`` (outputs.md), rules.md §1.

    Keys: original_age_month, statutory_age_month, statutory_age ("63y0m"), delay_months,
    benefit_start_month, flexible_earliest_month, flexible_latest_month (null for 170),
    min_contribution_months; with ``month``: months_to_original and months_to_statutory
    (target − month, signed, negative when past). ``insurance_type`` None means 110.
    """
    it = EMPLOYEE if _int_or_none(insurance_type) is None else insurance_type
    f = retirement_facts(gender, person_type, it, parse_month(birth_month), settings)
    out = {
        "original_age_month": format_month(f.original_age_mi),
        "statutory_age_month": format_month(f.statutory_age_mi),
        "statutory_age": f.statutory_age_text,
        "delay_months": f.delay_months,
        "benefit_start_month": format_month(f.benefit_start_mi),
        "flexible_earliest_month": None if f.flexible_earliest_mi is None else format_month(f.flexible_earliest_mi),
        "flexible_latest_month": None if f.flexible_latest_mi is None else format_month(f.flexible_latest_mi),
        "min_contribution_months": f.min_contribution_months,
    }
    if month is not None:
        p = parse_month(month)
        out["months_to_original"] = f.original_age_mi - p
        out["months_to_statutory"] = f.statutory_age_mi - p
    return out


def counted_months(actual, deemed_months, deemed_status) -> int:
    """Counted contribution months, rules.md §1: actual + deemed months when ``deemed_status`` is 1.

    Deemed years (视同缴费年限, 国发〔1995〕6号) count toward the minimum of 社会保险法 第十六条 /
    办法 第二条 only once confirmed; pending ones (status 2) do not. Nulls count as 0.
    """
    total = _int_or_none(actual) or 0
    if _int_or_none(deemed_status) == 1:
        total += _int_or_none(deemed_months) or 0
    return total


def sms_segments(n_chars: int) -> int:
    """SMS segments for a text of ``n_chars`` characters, signature included (rules.md §5, policy.md §9).

    Up to 70 characters: one message; longer texts go in segments of 67: ⌈n / 67⌉.
    """
    n = int(n_chars)
    return 1 if n <= 70 else -(-n // 67)


# --------------------------------------------------------------------------------------
# Section 2: benefit-claiming place
# --------------------------------------------------------------------------------------

NINGXIA = "640000"
TEN_YEARS = 120

# place_rule codes (also produced by sql/screen/benefit_place.sql)
RULE_NO_BASIC_MONTHS = "HUKOU_NO_BASIC_MONTHS"  # no province has months: H (人社部发〔2010〕70号)
RULE_1 = "R1_HUKOU"  # 国办发〔2009〕66号 第六条(一): relationship in the household place
RULE_2 = "R2_CURRENT_120"  # 第六条(二): ≥ 10 years at the relationship's place
RULE_3 = "R3_PREVIOUS_120"  # 第六条(三): back to the last place with ≥ 10 years
RULE_4 = "R4_HUKOU"  # 第六条(四): gathered to the household place
PLACE_RULES = (RULE_NO_BASIC_MONTHS, RULE_1, RULE_2, RULE_3, RULE_4)


def province_of(code: str | None) -> str | None:
    """Province of a GB/T 2260 code: its first two digits + ``'0000'`` (rules.md §2, 人社部规〔2016〕5号).

    None for an empty or malformed (not 6 characters) code — the twin of the SQL macro
    ``province_of`` of ``sql/policy/regions.sql``.
    """
    if code is None or len(code) != 6:
        return None
    return code[:2] + "0000"


@dataclass(frozen=True)
class BenefitPlace:
    """Outcome of rules.md §2: the province, the rule that decided it, and its evidence."""

    province: str
    rule: str
    hukou_province: str  # H
    current_province: str | None  # C, None when no non-temporary segment exists
    acc: Mapping[str, int] = field(default_factory=dict)  # months per province (> 0 only)

    @property
    def acc_current(self) -> int | None:
        """``acc[C]``, None when there is no C."""
        return None if self.current_province is None else self.acc.get(self.current_province, 0)

    @property
    def acc_text(self) -> str:
        """Evidence as ``'620000:96;640000:36'`` (provinces in code order); '' when none."""
        return acc_text(self.acc)


def acc_text(acc: Mapping[str, int]) -> str:
    """Months per province as compact text, ``prov:months`` joined by ``;`` in code order."""
    return ";".join(f"{p}:{m}" for p, m in sorted(acc.items()))


def union_months(intervals: Iterable[tuple[int, int]]) -> int:
    """Distinct months covered by inclusive ``(start_mi, end_mi)`` intervals (interval union).

    rules.md §2: a month is counted once however many segments cover it (国办发〔2009〕66号
    第六条 counts accumulated contribution years, 累计缴费年限).
    """
    total = 0
    covered_to = None  # last month already counted
    for start, end in sorted(intervals):
        if end < start:
            continue
        if covered_to is not None and start <= covered_to:
            start = covered_to + 1
        if end >= start:
            total += end - start + 1
        covered_to = end if covered_to is None else max(covered_to, end)
    return total


def hukou_province(hukou_region: str | None, benefit_region_ministry: str | None) -> str:
    """``H`` of rules.md §2 (户籍所在地, 国办发〔2009〕66号 第六条): province of ``hukou_region``,
    else of ``benefit_region_ministry``, else Ningxia (never drop a person for a missing field)."""
    return province_of(hukou_region) or province_of(benefit_region_ministry) or NINGXIA


def benefit_province(
    *,
    hukou_region: str | None,
    benefit_region_ministry: str | None = None,
    insured_region: str | None,
    deemed_region: str | None = None,
    deemed_months=0,
    deemed_status=0,
    segments: Iterable[tuple[str, int, int, int]] = (),
) -> BenefitPlace:
    """Benefit-claiming place (待遇领取地) of a 110 person, rules.md §2.

    国办发〔2009〕66号 第六条 with 人社部规〔2016〕5号 and 人社部发〔2010〕70号:

    * ``acc[p]`` = distinct months of the segments in province ``p`` with ``relation_status``
      1 or 2 (interval union), plus confirmed deemed months (``deemed_status`` 1) at the
      province of ``deemed_region`` (none when it is empty); temporary accounts (3) never count.
    * No months anywhere → ``H`` (HUKOU_NO_BASIC_MONTHS).
    * ``C`` = province of the non-temporary segment ending latest (ties: province of
      ``insured_region`` first, then the lower code); none when only deemed months exist.
    * (一) ``C = H`` → C; (二) ``acc[C] ≥ 120`` → C; (三) among the other provinces with
      ``acc ≥ 120`` the one whose latest non-temporary segment ends latest (deemed-only
      provinces count as ending earliest; ties by lower code); (四) → H.

    ``segments``: ``(region_code, start_mi, end_mi, relation_status)``; segments whose
    region has no province (malformed code) or whose end precedes the start are ignored.
    """
    h = hukou_province(hukou_region, benefit_region_ministry)
    ins_p = province_of(insured_region)

    intervals: dict[str, list[tuple[int, int]]] = {}
    last_end: dict[str, int] = {}
    for region_code, start_mi, end_mi, status in segments:
        p = province_of(region_code)
        if p is None or _int_or_none(status) not in (1, 2) or end_mi < start_mi:
            continue
        intervals.setdefault(p, []).append((start_mi, end_mi))
        last_end[p] = max(last_end.get(p, end_mi), end_mi)

    acc: dict[str, int] = {p: union_months(iv) for p, iv in intervals.items()}
    dm = _int_or_none(deemed_months) or 0
    dp = province_of(deemed_region)
    if _int_or_none(deemed_status) == 1 and dm > 0 and dp is not None:
        acc[dp] = acc.get(dp, 0) + dm
    acc = {p: m for p, m in acc.items() if m > 0}

    if not acc:
        return BenefitPlace(h, RULE_NO_BASIC_MONTHS, h, None, {})

    c = None
    if last_end:
        # latest end; then the insured region's province; then the lower code
        c = min(last_end, key=lambda p: (-last_end[p], p != ins_p, p))
        if c == h:
            return BenefitPlace(c, RULE_1, h, c, acc)
        if acc.get(c, 0) >= TEN_YEARS:
            return BenefitPlace(c, RULE_2, h, c, acc)
    others = [p for p, m in acc.items() if p != c and m >= TEN_YEARS]
    if others:
        best = min(others, key=lambda p: (-last_end.get(p, -1), p))
        return BenefitPlace(best, RULE_3, h, c, acc)
    return BenefitPlace(h, RULE_4, h, c, acc)
