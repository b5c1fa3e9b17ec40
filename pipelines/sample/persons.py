"""Drawing who a person is and where: insurance, gender, birth, ID number, regions, statuses.

Every function here takes the batch's :class:`~.context.DrawContext`, the chunk's random
generator and the :class:`Drawn` persons, and adds its attributes to them. The functions
are called in a fixed order by :func:`.draw.draw_chunk`: that order is the order of the random
stream, so changing it (or adding a draw in the middle) changes every person after it.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .arrays import days_in_month, id_checks, office_county, pick_weighted, uniform_ints
from .codes import NINGXIA, NX_CITIES, NX_COUNTIES, NX_FORMER, OFFICE_WEIGHTS, OTHER_CODES
from .context import DrawContext, assign_codes
from .rates import by_cuts, chance, codes, shares, split

# hukou kinds, by position in the "hukou" split
HUKOU_NINGXIA, HUKOU_ELSEWHERE, HUKOU_EMPTY = 0, 1, 2


class Drawn(SimpleNamespace):
    """The numeric columns of a chunk of persons, filled in step by step (``n`` persons)."""


def draw_insurance_and_age(ctx: DrawContext, rng: np.random.Generator, p: Drawn) -> None:
    """is_110, male, person_type (0 = empty), months_to_original_age, birth year/month/day."""
    n = p.n
    p.is_110 = rng.random(n) < chance("insurance_110")
    p.male = np.where(p.is_110, rng.random(n) < chance("man_110"), rng.random(n) < chance("man_170"))
    u = rng.random(n)
    person_type = np.where(
        p.male,
        by_cuts(u, "person_type_110_men", codes("person_type_110_men")),
        by_cuts(u, "person_type_110_women", codes("person_type_110_women")),
    )
    p.person_type = np.where(p.is_110, person_type, 0)
    # rules.md §1 original retirement ages: men and residents 60, women staff 55, women workers 50
    age = np.where(~p.is_110 | p.male, 60, np.where((p.person_type == 2) | (p.person_type == 3), 55, 50))
    bands = split("months_to_original_age")
    band = rng.choice(len(bands), size=n, p=shares("months_to_original_age"))
    low = np.array([b.low for b, _ in bands])[band]
    high = np.array([b.high for b, _ in bands])[band]
    p.months_to_original_age = uniform_ints(rng, low, high)
    p.birth_month_index = ctx.month + p.months_to_original_age - 12 * age
    p.birth_year, p.birth_month = p.birth_month_index // 12, p.birth_month_index % 12 + 1
    p.birth_day = uniform_ints(rng, 1, days_in_month(p.birth_year, p.birth_month))


def draw_id_birth_date_and_gender(rng: np.random.Generator, p: Drawn) -> None:
    """The birth date and gender digit the ID number carries (BIRTH_DATE_CONFLICT, GENDER_CONFLICT)."""
    n = p.n
    conflict = rng.random(n) < chance("birth_date_conflict")
    kind = rng.choice(len(split("birth_date_conflict_kind")), size=n, p=shares("birth_date_conflict_kind"))
    year, month, day = p.birth_year.copy(), p.birth_month.copy(), p.birth_day.copy()
    days = days_in_month(p.birth_year, p.birth_month)
    other_day = conflict & (kind == 0)
    day = np.where(other_day, (p.birth_day - 1 + uniform_ints(rng, 1, days - 1)) % days + 1, day)
    other_month = conflict & (kind == 1)
    month = np.where(other_month, (p.birth_month - 1 + uniform_ints(rng, 1, 11, n)) % 12 + 1, month)
    other_year = conflict & (kind == 2)
    year = np.where(other_year, p.birth_year + np.where(rng.random(n) < chance("birth_year_earlier"), -1, 1), year)
    day = np.where(other_month | other_year, np.minimum(day, days_in_month(year, month)), day)
    p.id_year, p.id_month, p.id_day = year, month, day

    p.gender = np.where(p.male, 1, 2)
    gender_conflict = rng.random(n) < chance("gender_conflict")
    p.id_parity = np.where(gender_conflict, ~p.male, p.male).astype(np.int64)  # odd = male


def draw_regions_and_id(ctx: DrawContext, rng: np.random.Generator, p: Drawn) -> None:
    """office, county, other_code (a weighted code of another province), hukou, the ID number."""
    n = p.n
    p.office = pick_weighted(rng, OFFICE_WEIGHTS, n).astype(np.int64)
    p.county = office_county(rng, p.office)
    p.other_code = pick_weighted(rng, OTHER_CODES, n).astype(np.int64)
    any_county = np.array(NX_COUNTIES)[rng.integers(0, len(NX_COUNTIES), n)]
    p.hukou_kind = rng.choice(len(split("hukou")), size=n, p=shares("hukou"))
    u = rng.random(n)
    city = np.array(NX_CITIES)[rng.integers(0, len(NX_CITIES), n)]
    hukou_in_ningxia = by_cuts(u, "hukou_in_ningxia", (p.county, any_county, city))
    p.hukou = np.where(
        p.hukou_kind == HUKOU_NINGXIA, hukou_in_ningxia, np.where(p.hukou_kind == HUKOU_ELSEWHERE, p.other_code, 0)
    )
    p.hukou_province = np.where(p.hukou > 0, p.hukou // 10000, NINGXIA)

    former = np.array(NX_FORMER)[rng.integers(0, len(NX_FORMER), n)]
    u = rng.random(n)
    current = np.where((p.hukou_kind == HUKOU_NINGXIA) & (hukou_in_ningxia % 100 != 0), hukou_in_ningxia, p.county)
    prefix = np.where(
        p.hukou_kind == HUKOU_ELSEWHERE,
        np.where(u < chance("id_prefix_other_hukou"), p.other_code, p.county),
        by_cuts(u, "id_prefix", (current, former, p.other_code)),
    )
    prefix, code = assign_codes(ctx, prefix, p.id_year, p.id_month, p.id_day, p.id_parity)
    id17 = prefix * 10**11 + (p.id_year * 10000 + p.id_month * 100 + p.id_day) * 1000 + code
    check = id_checks(id17)
    lower_x = (check == "X") & (rng.random(n) < chance("lower_case_x"))
    p.id_no = np.strings.add(id17.astype("U17"), np.where(lower_x, "x", check))


def draw_statuses(rng: np.random.Generator, p: Drawn) -> None:
    """contribution_status, retired, survival_status."""
    n = p.n
    past = p.months_to_original_age < 0
    u = rng.random(n)
    p.contribution_status = np.where(
        past,
        by_cuts(u, "contribution_status_past", codes("contribution_status_past")),
        by_cuts(u, "contribution_status_due", codes("contribution_status_due")),
    )
    p.retired = rng.random(n) < chance("retired")
    p.survival_status = by_cuts(rng.random(n), "survival_status", codes("survival_status"))
