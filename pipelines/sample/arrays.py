"""Small vectorised helpers of the generator: months, uniform integers, ID check characters."""

from __future__ import annotations

import numpy as np

from ..months import month_index, split
from .codes import NX_CITIES, NX_COUNTIES
from .rates import chance

_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.array(list("10X98765432"))
_POW10 = 10 ** np.arange(16, -1, -1, dtype=np.int64)


def parse_month_arg(month: str) -> int:
    """The generator's ``--month`` (``YYYY-MM``) as a month index (pipelines.months)."""
    ym = split(month or "")
    if ym is None:
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    return month_index(*ym)


def days_in_month(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Days in month (m 1..12), vectorised."""
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    return _DAYS_IN_MONTH[m - 1] + ((m == 2) & leap)


def id_checks(id17: np.ndarray) -> np.ndarray:
    """GB 11643 check characters of 17-digit integers (twin of identifiers.id_check_char)."""
    digits = (id17[:, None] // _POW10) % 10
    return _ID_CHECK[(digits * _ID_WEIGHTS).sum(axis=1) % 11]


def pick(rng: np.random.Generator, items, weights, n: int) -> np.ndarray:
    """``n`` items drawn with the given weights."""
    w = np.asarray(weights, dtype=float)
    return np.asarray(items)[rng.choice(len(w), size=n, p=w / w.sum())]


def pick_weighted(rng: np.random.Generator, code_weights, n: int) -> np.ndarray:
    """``n`` codes from ``(code, weight)`` pairs."""
    return pick(rng, [c for c, _ in code_weights], [w for _, w in code_weights], n)


def uniform_ints(rng, lo, hi, n=None):
    """Uniform integers lo..hi inclusive (arrays allowed)."""
    lo = np.asarray(lo)
    hi = np.asarray(hi)
    size = n if n is not None else np.broadcast(lo, hi).shape
    return (lo + np.floor(rng.random(size) * (hi - lo + 1))).astype(np.int64)


def texts(a: np.ndarray) -> list[str]:
    """Integers → list of decimal strings."""
    return [str(x) for x in a.tolist()]


def yyyymm(mi: np.ndarray) -> np.ndarray:
    return (mi // 12) * 100 + mi % 12 + 1


def office_county(rng, office: np.ndarray) -> np.ndarray:
    """A county-level code under an office (city centres → one of their counties)."""
    n = len(office)
    out = office.copy()
    counties = np.array(NX_COUNTIES)
    rand_county = counties[rng.integers(0, len(counties), n)]
    for city in NX_CITIES:
        sub = counties[counties // 100 == city // 100]
        mask = office == city
        out[mask] = sub[rng.integers(0, len(sub), int(mask.sum()))]
    out[office == 640000] = rand_county[office == 640000]
    ningdong = office == 640900
    out[ningdong] = np.where(rng.random(int(ningdong.sum())) < chance("ningdong_in_lingwu"), 640181, 640104)
    return out
