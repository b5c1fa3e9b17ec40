"""Rows that break the contract (``bad_rows``): each persons row and each segments row is broken
with probability ``bad_rows``, from its own random stream, so the valid rows are those of the
``bad_rows=0`` batch. The kinds of breakage are drawn uniformly."""

from __future__ import annotations

import numpy as np

from ..identifiers import id_check_char

_PERSON_BREAKS = (
    "id_check",
    "id_short",
    "office",
    "region_unknown",
    "region_5",
    "birth_date",
    "op",
    "dup",
    "gender",
    "months",
    "uscc",
)
_SEGMENT_BREAKS = ("end_before_start", "bad_month", "region_5", "region_unknown", "relation", "seg_id_check", "orphan")


def _wrong_check(id_no: str) -> str:
    right = id_check_char(id_no[:17])
    return id_no[:17] + ("0" if right != "0" else "1")


def orphan_id(rng: np.random.Generator) -> str:
    y = int(rng.integers(1960, 1980))
    first17 = f"640104{y}{int(rng.integers(1, 13)):02d}{int(rng.integers(1, 29)):02d}{990 + int(rng.integers(0, 10))}"
    return first17 + id_check_char(first17)


def break_persons(cols: dict, rate: float, rng: np.random.Generator) -> set[int]:
    """Break about ``rate`` of the persons rows in place; returns the broken row positions."""
    n = len(cols["id_no"])
    if rate <= 0 or n == 0:
        return set()
    picked = np.flatnonzero(rng.random(n) < rate)
    kinds = rng.integers(0, len(_PERSON_BREAKS), len(picked))
    broken: set[int] = set(int(i) for i in picked)
    for i, k in zip(picked.tolist(), kinds.tolist()):
        kind = _PERSON_BREAKS[k]
        if kind == "uscc" and not cols["employer_uscc"][i]:
            kind = "id_check"
        if kind == "dup":
            free = [x for x in range(max(0, i - 50), min(n, i + 50)) if x not in broken]
            if not free:
                kind = "id_check"
            else:
                jx = free[int(rng.integers(0, len(free)))]
                broken.add(jx)
                cols["id_no"][i] = cols["id_no"][jx]
                continue
        if kind == "id_check":
            cols["id_no"][i] = _wrong_check(cols["id_no"][i])
        elif kind == "id_short":
            cols["id_no"][i] = cols["id_no"][i][:17]
        elif kind == "office":
            cols["insured_region"][i] = ("640199", "640600", "640111")[int(rng.integers(0, 3))]
        elif kind == "region_unknown":
            cols["hukou_region"][i] = ("990101", "000000", "960100")[int(rng.integers(0, 3))]
        elif kind == "region_5":
            col = ("hukou_region", "benefit_region_ministry")[int(rng.integers(0, 2))]
            cols[col][i] = "64010"
        elif kind == "birth_date":
            cols["birth_date"][i] = cols["birth_date"][i][:4] + "0230"
        elif kind == "op":
            cols["op"][i] = "X"
        elif kind == "gender":
            cols["gender"][i] = "0"
        elif kind == "months":
            cols["actual_contribution_months"][i] = "-" + (cols["actual_contribution_months"][i] or "3")
        elif kind == "uscc":
            u = cols["employer_uscc"][i]
            cols["employer_uscc"][i] = u[:17] + ("0" if u[17] != "0" else "1")
    return broken


def break_segments(cols: dict, rate: float, rng: np.random.Generator) -> set[int]:
    n = len(cols["id_no"])
    if rate <= 0 or n == 0:
        return set()
    picked = np.flatnonzero(rng.random(n) < rate)
    kinds = rng.integers(0, len(_SEGMENT_BREAKS), len(picked))
    for i, k in zip(picked.tolist(), kinds.tolist()):
        kind = _SEGMENT_BREAKS[k]
        if kind == "end_before_start":
            if cols["start_month"][i] == cols["end_month"][i]:
                cols["start_month"][i] = str(
                    int(cols["end_month"][i]) + (1 if cols["end_month"][i][4:] != "12" else 89)
                )
            else:
                cols["start_month"][i], cols["end_month"][i] = cols["end_month"][i], cols["start_month"][i]
        elif kind == "bad_month":
            col = ("start_month", "end_month")[int(rng.integers(0, 2))]
            cols[col][i] = cols[col][i][:4] + "13"
        elif kind == "region_5":
            cols["region_code"][i] = cols["region_code"][i][:5]
        elif kind == "region_unknown":
            cols["region_code"][i] = "99" + cols["region_code"][i][2:]
        elif kind == "relation":
            cols["relation_status"][i] = "4"
        elif kind == "seg_id_check":
            cols["id_no"][i] = _wrong_check(cols["id_no"][i])
        elif kind == "orphan":
            cols["id_no"][i] = orphan_id(rng)
    return set(picked.tolist())
