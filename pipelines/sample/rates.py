"""The one table of the generator's rates: it drives the drawing code and its documentation.

Each row is ``Rate(name, value, meaning)``. ``value`` is one of

* a float — a chance (``chance(name)``: a uniform draw below it means "yes");
* a :class:`Split` — an ordered list of ``(outcome, share)``; the drawing code reads one
  uniform draw ``u`` against the running totals of the shares in this order
  (``by_cuts(u, name, outcomes)``), or draws an index with these shares
  (``shares(name)`` for ``rng.choice``), or counts rows by share;
* a :class:`Span` — an inclusive range of whole numbers (months mostly).

The drawing code names a row by its ``name`` only; the package docstring and
``docs/sample.md`` are generated from this table (``python -m pipelines.sample.document
--write docs/sample.md``; tests/sample/test_sample.py checks the page is up to date).

Changing a value changes the generated data (and data/sample/: ``make sample``).
The order of a Split's outcomes is part of the value: it is the order of the cut points.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np


class Span(NamedTuple):
    """Inclusive range of whole numbers."""

    low: int
    high: int

    def __str__(self) -> str:
        return f"{self.low}…{self.high}".replace("-", "−")


class Split(tuple):
    """Ordered ``(outcome, share)`` pairs whose shares add up to 1."""

    def __new__(cls, *pairs: tuple[object, float]):
        total = round(sum(s for _, s in pairs), 12)
        if total != 1:
            raise ValueError(f"shares add up to {total}, not 1: {pairs}")
        return super().__new__(cls, pairs)

    def __str__(self) -> str:
        return "; ".join(f"{outcome}: {_percent(share)}" for outcome, share in self)


class Rate(NamedTuple):
    name: str
    value: float | Split | Span
    meaning: str


def _percent(share: float) -> str:
    return f"{round(share * 100, 6):g} %"


# fmt: off
RATES: tuple[Rate, ...] = (
    # ---- who the person is
    Rate("insurance_110", 0.85, "insurance_type 110 (employees' basic pension); else 170 (residents)"),
    Rate("man_110", 0.55, "gender field 1 (man) among 110 persons"),
    Rate("man_170", 0.50, "gender field 1 (man) among 170 persons"),
    Rate("person_type_110_men", Split(("1", .50), ("2", .30), ("3", .20)),
         "person_type of 110 men (by the gender field); 170 persons: always empty"),
    Rate("person_type_110_women", Split(("1", .45), ("2", .25), ("3", .22), ("empty", .08)),
         "person_type of 110 women"),
    Rate("months_to_original_age", Split((Span(-36, -1), .10), (Span(0, 12), .50), (Span(13, 24), .28),
                                         (Span(25, 60), .12)),
         "months from the data month to the original retirement age (O − P), uniform within each band"),
    Rate("birth_date_conflict", 0.04, "birth_date ≠ the ID number's birth date (BIRTH_DATE_CONFLICT)"),
    Rate("birth_date_conflict_kind", Split(("another day", .4), ("another month", .3), ("year ±1", .3)),
         "how the ID number's birth date differs, when it does"),
    Rate("birth_year_earlier", 0.5, "year ±1: the ID's year is one earlier (else one later)"),
    Rate("gender_conflict", 0.02, "gender ≠ the ID number's gender digit (GENDER_CONFLICT)"),
    # ---- where the person is
    Rate("hukou", Split(("Ningxia", .85), ("another province", .12), ("empty", .03)),
         "hukou_region (other provinces weighted: Gansu, Shaanxi, Inner Mongolia first)"),
    Rate("hukou_in_ningxia", Split(("the office's county", .60), ("another Ningxia county", .35),
                                   ("a city code", .05)),
         "a Ningxia hukou_region"),
    Rate("id_prefix", Split(("a current Ningxia code", .78), ("an abolished Ningxia code", .15),
                            ("another province", .07)),
         "ID number's address code, hukou in Ningxia or empty (current: the hukou's county, else the office's)"),
    Rate("id_prefix_other_hukou", 0.70,
         "hukou in another province: the ID number carries that hukou code (else the office's county)"),
    Rate("lower_case_x", 0.5, "lower-case x written for an ID number whose check character is X (valid)"),
    Rate("ningdong_in_lingwu", 0.7, "a Ningdong (640900) person's county is Lingwu 640181 (else Xingqing 640104)"),
    # ---- statuses
    Rate("contribution_status_due", Split(("1", .82), ("2", .13), ("3", .05)),
         "contribution_status when the original age is not past (O ≥ P)"),
    Rate("contribution_status_past", Split(("2", .70), ("1", .25), ("3", .05)),
         "contribution_status past the original age (O < P)"),
    Rate("retired", 0.02, "retired 1"),
    Rate("survival_status", Split(("2", .01), ("9", .01), ("1", .98)), "survival_status"),
    Rate("arrears", 0.05, "arrears_months > 0 (ARREARS)"),
    Rate("arrears_months", Span(1, 36), "arrears_months when in arrears"),
    # ---- contribution history
    Rate("months_since_suspended", Span(2, 48),
         "contribution_status 2: months from the last contribution to the data month"),
    Rate("months_since_stopped", Span(12, 120),
         "contribution_status 3: months from the last contribution to the data month"),
    Rate("short_contribution_110", 0.11, "110: actual_contribution_months under 180"),
    Rate("short_contribution_170", 0.30, "170: actual_contribution_months under 180"),
    Rate("short_months_110", Span(24, 179), "110: months when short (never before age 16)"),
    Rate("short_months_170", Span(15, 179), "170: months when short"),
    Rate("full_months_110", Span(180, 480), "110: months otherwise (at most the months since age 16)"),
    Rate("full_months_170", Span(180, 300), "170: months otherwise"),
    Rate("main_segments_110", Split(("0", .05), ("1", .42), ("2", .30), ("3", .16), ("4", .07)),
         "110: segments in the main chain (the latest in Ningxia)"),
    Rate("main_segments_170", Split(("0", .30), ("1", .55), ("2", .15)),
         "170: segments (Ningxia, relation 1)"),
    Rate("segment_gap", 0.4, "a gap before each earlier segment of the chain"),
    Rate("segment_gap_months", Span(1, 36), "the gap's length"),
    Rate("earlier_segment_elsewhere", 0.28, "110: an earlier segment in another province"),
    Rate("earlier_segment_in_hukou_province", 0.6,
         "hukou in another province: a segment elsewhere is in the hukou's code (else a weighted other code)"),
    Rate("segment_in_office_county", 0.7, "a Ningxia segment in the office's county (else a random county)"),
    Rate("earlier_segment_not_transferred", 0.12, "110: an earlier segment with relation_status 2"),
    Rate("temporary_account", Split(("relationship elsewhere + a Ningxia temporary account", .06),
                                    ("Ningxia relationship + a temporary account elsewhere", .03),
                                    ("none", .91)),
         "110 with segments: temporary accounts (relation_status 3)"),
    Rate("temporary_account_months", Span(6, 48), "the temporary account's length, ending last"),
    Rate("duplicate_contribution", 0.035,
         "110 with segments: an overlapping segment in another province (DUPLICATE_CONTRIBUTION)"),
    Rate("duplicate_months", Span(1, 24), "the overlap's length (within one main segment)"),
    Rate("duplicate_merged", 0.5, "the overlapping segment's relation_status 1 (else 2)"),
    # ---- deemed years
    Rate("deemed", 0.30, "110 born before 1975: deemed months (视同缴费)"),
    Rate("deemed_confirmed", 0.55, "deemed_status 1 (else 2, pending: YEARS_UNCONFIRMED)"),
    Rate("deemed_months", Span(12, 180), "deemed_months when deemed"),
    Rate("deemed_region", Split(("the office's county", .82), ("another province", .10), ("empty", .08)),
         "deemed_region when deemed (empty: KEY_INFO_MISSING)"),
    Rate("deemed_months_zero", 0.10, "without deemed months: deemed_months written 0 (else empty)"),
    # ---- the ministry's benefit place (rules.md §2 computed here)
    Rate("ministry_place_ningxia", Split(("640000", .3), ("the office's city", .3), ("the office", .4)),
         "benefit_region_ministry written for a Ningxia place"),
    Rate("ministry_place_elsewhere", Split(("the province code", .6), ("a city code (the hukou's when there)", .4)),
         "benefit_region_ministry written for a place in another province"),
    Rate("ministry_place_wrong", Split(("another province (BENEFIT_PLACE_MISMATCH)", .03), ("empty", .03),
                                       ("as computed", .94)),
         "benefit_region_ministry against rules.md §2 (never a mismatch when hukou is empty)"),
    Rate("wrong_place_gansu", 0.5, "a mismatch for a Ningxia place says Gansu 620000 (else Shaanxi 610000)"),
    # ---- contacts
    Rate("employer_with_post", Split(("code + name", .90), ("name only", .03), ("code only", .02), ("none", .05)),
         "employer of 110 person_type 1/2 (none: KEY_INFO_MISSING)"),
    Rate("employer_without_post", 0.10, "code + name for 110 person_type 3 or empty (else none); 170: none"),
    Rate("two_character_given_name", 0.7, "a given name of two characters (else one)"),
    Rate("phone", Split(("plain valid mobile", .80), ("valid after normalising (spaces, hyphens, +86, 0086, "
                                                     "full-width)", .08),
                        ("landline", .04), ("invalid mobile", .03), ("empty", .05)),
         "phone"),
    # ---- INCR
    Rate("incr_ops", Split(("U", .75), ("I", .15), ("D", .10)),
         "INCR rows by op (I: new persons, ID sequence codes 900–989; D: op and id_no only)"),
    Rate("incr_update", Split(("contribution months", .25), ("phone", .15), ("deemed years confirmed", .15),
                              ("suspension", .10), ("office", .08), ("hukou", .07), ("death", .05),
                              ("retirement", .05), ("benefit place", .10)),
         "the one field a U row changes (with all the person's segments again)"),
    Rate("incr_more_months", Span(1, 3), "a U row of contribution months: that many more months"),
    Rate("incr_extra_segment", 0.25,
         "a U row with one more segment: from the last one to the data month when it ended over 2 months "
         "before (contribution_status then 1), else an earlier one in another province (relation 2)"),
    Rate("incr_earlier_segment_months", Span(12, 60), "the earlier segment's length"),
    Rate("incr_earlier_segment_gap", Span(0, 12), "months between the earlier segment and the first one"),
    # ---- applications
    Rate("application_kind", Split(("13–24 months before the original age", .55), ("0–12 months before", .25),
                                   ("past the original age, not suspended", .10),
                                   ("25–36 months before (beyond the horizon)", .05),
                                   ("an ID number not in the push", .05)),
         "applications: whom they are for (the last: the rest of the rows)"),
    Rate("applicant_type", Split(("1 employer (when the person has one)", .5), ("2 self", .35), ("3 agent", .15)),
         "applications: applicant_type"),
    Rate("application_online", 0.6, "applications: channel online (else counter)"),
    Rate("counter_other_office", 0.15, "applications at a counter: county_code another office"),
)
# fmt: on

_BY_NAME = {r.name: r for r in RATES}
if len(_BY_NAME) != len(RATES):  # pragma: no cover - a typo in the table
    raise RuntimeError("two rates share a name")


def value(name: str) -> float | Split | Span:
    return _BY_NAME[name].value


def chance(name: str) -> float:
    v = value(name)
    if not isinstance(v, float):
        raise TypeError(f"rate {name} is not a chance")
    return v


def span(name: str) -> Span:
    v = value(name)
    if not isinstance(v, Span):
        raise TypeError(f"rate {name} is not a span")
    return v


def split(name: str) -> Split:
    v = value(name)
    if not isinstance(v, Split):
        raise TypeError(f"rate {name} is not a split")
    return v


def shares(name: str) -> list[float]:
    return [share for _, share in split(name)]


def cuts(name: str) -> list[float]:
    """Running totals of the shares but the last: the cut points of one uniform draw.

    Rounded to 12 places so that 0.45 + 0.25 is the float 0.7 the decimal means."""
    out, total = [], 0.0
    for share in shares(name)[:-1]:
        total = round(total + share, 12)
        out.append(total)
    return out


def by_cuts(u: np.ndarray, name: str, outcomes: Sequence) -> np.ndarray:
    """The outcome of each uniform draw ``u`` by the split ``name``: ``outcomes[k]`` (a value or an
    array) where ``u`` falls in the k-th share."""
    points = cuts(name)
    if len(outcomes) != len(points) + 1:
        raise ValueError(f"rate {name}: {len(points) + 1} outcomes, {len(outcomes)} given")
    result = outcomes[-1]
    for point, outcome in zip(reversed(points), reversed(outcomes[:-1])):
        result = np.where(u < point, outcome, result)
    return result


def codes(name: str) -> list[int]:
    """The outcomes of a split of codes as integers, ``empty`` as 0."""
    return [0 if o == "empty" else int(o) for o, _ in split(name)]


# ---------------------------------------------------------------- documentation


def markdown() -> str:
    """The table as Markdown rows (docs/sample.md and the package docstring)."""
    lines = ["| name | value | meaning |", "|---|---|---|"]
    for r in RATES:
        v = _percent(r.value) if isinstance(r.value, float) else str(r.value)
        lines.append(f"| `{r.name}` | {v} | {r.meaning} |")
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- rates:begin (generated by python -m pipelines.sample.document) -->", "<!-- rates:end -->"


def page_with_table(text: str) -> str:
    """``text`` with the part between the BEGIN and END markers replaced by :func:`markdown`."""
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"the page has no {BEGIN} … {END} markers")
    return f"{head}{BEGIN}\n{markdown()}{END}{tail}"
