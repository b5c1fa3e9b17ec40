"""Drawing what the ministry says of the benefit place, the employer, the name, the phone and
arrears. Called after :mod:`.careers` (same stream)."""

from __future__ import annotations

import numpy as np

from .arrays import uniform_ints
from .benefit_place import benefit_province_vec
from .codes import (
    AREA_CODES,
    GIVEN_NAME_CHARACTERS,
    MOBILE_PREFIXES,
    NINGXIA,
    SURNAME_WEIGHTS,
    SURNAMES,
)
from .context import DrawContext
from .persons import HUKOU_EMPTY, Drawn
from .rates import by_cuts, chance, cuts, shares, span, split

# employer modes, by position in the "employer_with_post" split
EMPLOYER_BOTH, EMPLOYER_NAME_ONLY, EMPLOYER_CODE_ONLY, EMPLOYER_NONE = 3, 2, 1, 0
# phone kinds, by position in the "phone" split
PHONE_PLAIN, PHONE_TO_NORMALISE, PHONE_LANDLINE, PHONE_INVALID, PHONE_EMPTY = range(5)
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def draw_ministry_place(rng: np.random.Generator, p: Drawn) -> None:
    """place (rules.md §2, province as 2 digits) and benefit_region_ministry (0 = empty)."""
    n = p.n
    place = benefit_province_vec(
        p.hukou_province,
        p.slots_code // 10000,
        p.slots_start,
        p.slots_end,
        p.slots_relation,
        p.slots_on,
        np.where(p.deemed_region > 0, p.deemed_region // 10000, 0),
        np.where(p.deemed_status == 1, p.deemed_months, 0),
    )
    p.place = place = np.where(p.is_110, place, NINGXIA)
    u = rng.random(n)
    office_city = np.where(p.office == 640900, 640100, (p.office // 100) * 100)  # Ningdong: Yinchuan
    office_city = np.where(p.office == 640000, 640000, office_city)
    ministry = np.where(
        place == NINGXIA,
        by_cuts(u, "ministry_place_ningxia", (640000, office_city, p.office)),
        by_cuts(
            u,
            "ministry_place_elsewhere",
            (place * 10000, np.where(p.hukou_province == place, p.hukou, place * 10000 + 100)),
        ),
    )
    u = rng.random(n)
    wrong_below, empty_below = cuts("ministry_place_wrong")
    mismatch = (p.hukou_kind != HUKOU_EMPTY) & (u < wrong_below)
    wrong = np.where(place == NINGXIA, np.where(rng.random(n) < chance("wrong_place_gansu"), 620000, 610000), 640000)
    ministry = np.where(mismatch, wrong, ministry)
    p.ministry = np.where((u >= wrong_below) & (u < empty_below), 0, ministry)


def draw_employer_and_name(ctx: DrawContext, rng: np.random.Generator, p: Drawn) -> None:
    """employer_uscc, employer_name (text arrays, '' for none) and name."""
    n = p.n
    with_post = p.is_110 & ((p.person_type == 1) | (p.person_type == 2))
    u = rng.random(n)
    mode = np.where(
        with_post,
        by_cuts(u, "employer_with_post", (EMPLOYER_BOTH, EMPLOYER_NAME_ONLY, EMPLOYER_CODE_ONLY, EMPLOYER_NONE)),
        np.where(p.is_110 & (u < chance("employer_without_post")), EMPLOYER_BOTH, EMPLOYER_NONE),
    )
    employer = rng.choice(len(ctx.employer_weight), size=n, p=ctx.employer_weight)
    p.employer_uscc = np.where((mode == EMPLOYER_BOTH) | (mode == EMPLOYER_CODE_ONLY), ctx.employer_uscc[employer], "")
    p.employer_name = np.where((mode == EMPLOYER_BOTH) | (mode == EMPLOYER_NAME_ONLY), ctx.employer_name[employer], "")

    surname = rng.choice(len(SURNAMES), size=n, p=SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum())
    given1 = rng.integers(0, len(GIVEN_NAME_CHARACTERS), n)
    given2 = rng.integers(0, len(GIVEN_NAME_CHARACTERS), n)
    two = rng.random(n) < chance("two_character_given_name")
    surnames, given = np.array(list(SURNAMES)), np.array(list(GIVEN_NAME_CHARACTERS))
    p.name = np.strings.add(np.strings.add(surnames[surname], given[given1]), np.where(two, given[given2], ""))


def draw_phone_and_arrears(rng: np.random.Generator, p: Drawn) -> None:
    """phone (object array of text) and arrears_months."""
    n = p.n
    prefix = np.array(MOBILE_PREFIXES)[rng.integers(0, len(MOBILE_PREFIXES), n)]
    body = rng.integers(0, 100_000_000, n)
    mobile = np.strings.add(prefix, np.strings.zfill(body.astype("U8"), 8))
    kind = rng.choice(len(split("phone")), size=n, p=shares("phone"))
    phone = np.where(kind == PHONE_PLAIN, mobile, "").astype(object)
    variant = rng.integers(0, 5, n)
    area = np.array(AREA_CODES)[rng.integers(0, len(AREA_CODES), n)]
    for i in np.flatnonzero(kind == PHONE_TO_NORMALISE):
        mb = mobile[i]
        phone[i] = (
            f"{mb[:3]} {mb[3:7]} {mb[7:]}",
            f"{mb[:3]}-{mb[3:7]}-{mb[7:]}",
            "+86" + mb,
            "0086" + mb,
            mb.translate(_FULLWIDTH),
        )[variant[i]]
    for i in np.flatnonzero(kind == PHONE_LANDLINE):
        phone[i] = f"{area[i]}-{6000000 + body[i] % 4000000}"
    for i in np.flatnonzero(kind == PHONE_INVALID):
        mb = mobile[i]
        phone[i] = ("12" + mb[2:], mb[:10], mb + "8", "10" + mb[2:], mb[:6] + "-" + mb[6:9])[variant[i]]
    p.phone = phone
    months = span("arrears_months")
    p.arrears = np.where(rng.random(n) < chance("arrears"), uniform_ints(rng, months.low, months.high, n), 0)
