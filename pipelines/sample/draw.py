"""One chunk of persons: the draws in their fixed order, then the text columns of the contract.

Same context, generator and ``n`` → the same persons (every draw comes from
``numpy.random.default_rng([seed, stream, chunk])``, no clock, no hash randomisation).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from . import careers, contacts, persons
from .arrays import texts, yyyymm
from .context import DrawContext

CHUNK = 50_000  # persons per vectorised chunk (the stream unit)


def chunks(total: int) -> Iterator[tuple[int, int]]:
    """``(chunk_no, persons)`` of a population of ``total`` persons, in order."""
    done = chunk_no = 0
    while done < total:
        n = min(CHUNK, total - done)
        yield chunk_no, n
        done += n
        chunk_no += 1


def draw_chunk(ctx: DrawContext, rng: np.random.Generator, n: int) -> dict:
    """Draw ``n`` persons and their segments: ``{"persons": text columns, "segments": {owner, text
    columns}, "n", "place"}`` (``place``: the rules.md §2 province of each person, 2 digits)."""
    p = persons.Drawn(n=n)
    # the order of these calls is the order of the random stream: keep it
    persons.draw_insurance_and_age(ctx, rng, p)
    persons.draw_id_birth_date_and_gender(rng, p)
    persons.draw_regions_and_id(ctx, rng, p)
    persons.draw_statuses(rng, p)
    careers.draw_contribution_months(ctx, rng, p)
    careers.draw_main_chain(rng, p)
    careers.draw_segment_places(rng, p)
    careers.draw_extra_segments(rng, p)
    careers.draw_deemed(rng, p)
    contacts.draw_ministry_place(rng, p)
    contacts.draw_employer_and_name(ctx, rng, p)
    contacts.draw_phone_and_arrears(rng, p)
    return {"persons": person_columns(p), "segments": segment_columns(p), "n": n, "place": p.place}


def _text(a: np.ndarray, empty: np.ndarray | None = None) -> list[str]:
    out = texts(a)
    if empty is not None:
        for i in np.flatnonzero(empty):
            out[i] = ""
    return out


def person_columns(p: persons.Drawn) -> dict[str, list[str]]:
    """The persons file's columns (push-format.md) as text."""
    return {
        "op": [""] * p.n,
        "id_no": p.id_no.tolist(),
        "name": p.name.tolist(),
        "gender": _text(p.gender),
        "birth_date": _text(p.birth_year * 10000 + p.birth_month * 100 + p.birth_day),
        "insurance_type": _text(np.where(p.is_110, 110, 170)),
        "person_type": _text(p.person_type, p.person_type == 0),
        "hukou_region": _text(p.hukou, p.hukou == 0),
        "insured_region": _text(p.office),
        "benefit_region_ministry": _text(p.ministry, p.ministry == 0),
        "employer_uscc": p.employer_uscc.tolist(),
        "employer_name": p.employer_name.tolist(),
        "phone": p.phone.tolist(),
        "contribution_status": _text(p.contribution_status),
        "retired": _text(p.retired.astype(np.int64)),
        "survival_status": _text(p.survival_status),
        "actual_contribution_months": _text(p.actual_months),
        "deemed_months": _text(p.deemed_months, ~p.has_deemed & ~p.deemed_months_zero),
        "deemed_status": _text(p.deemed_status),
        "deemed_region": _text(p.deemed_region, p.deemed_region == 0),
        "arrears_months": _text(p.arrears),
    }


def segment_columns(p: persons.Drawn) -> dict:
    """The segments of every person in chronological order: ``owner`` (row in the chunk) and text."""
    slots = p.slots_on.shape[1]
    key = np.where(p.slots_on, p.slots_start * 8 + np.arange(slots)[None, :], np.iinfo(np.int64).max)
    order = np.argsort(key, axis=1, kind="stable")

    def in_order(a):
        return np.take_along_axis(a, order, axis=1)

    on = in_order(p.slots_on)
    return {
        "owner": np.repeat(np.arange(p.n), slots).reshape(p.n, slots)[on],
        "region_code": texts(in_order(p.slots_code)[on]),
        "start_month": texts(yyyymm(in_order(p.slots_start)[on])),
        "end_month": texts(yyyymm(in_order(p.slots_end)[on])),
        "relation_status": texts(in_order(p.slots_relation)[on]),
    }


def segment_columns_with_ids(draw: dict, person_ids: list[str]) -> dict[str, list[str]]:
    """The segments file's columns of a drawn chunk, each segment with its owner's id_no."""
    s = draw["segments"]
    return {
        "id_no": [person_ids[o] for o in s["owner"].tolist()],
        "region_code": s["region_code"],
        "start_month": s["start_month"],
        "end_month": s["end_month"],
        "relation_status": s["relation_status"],
    }
