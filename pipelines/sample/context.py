"""What the draws of one batch share: the data month, a pool of invented employers, and the ID
sequence codes already handed out (ID numbers are unique over the whole batch)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..identifiers import uscc_check_char
from .codes import (
    EMPLOYER_BRANDS,
    EMPLOYER_PLACES,
    EMPLOYER_SUFFIX,
    EMPLOYER_TRADES,
    EMPLOYER_WORDS,
    NX_CITIES,
    NX_COUNTIES,
    NX_FORMER,
    OTHER_CODES,
)


@dataclass
class DrawContext:
    month: int  # the data month P, as a month index
    seed: int
    employer_uscc: np.ndarray
    employer_name: np.ndarray
    employer_weight: np.ndarray
    # ID uniqueness: per (address prefix, birth day, parity) how many sequence codes are taken
    prefixes: np.ndarray
    day0: int  # epoch day of the first day of the counter window
    counter: np.ndarray  # (n_prefix, n_days, 2) int32
    code_base: int = 0  # FULL: codes 0..899; INCR inserts: 900..989
    code_span: int = 450  # codes per parity
    code_shift: int = 0


def employer_pool(seed: int, size: int = 3000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``size`` invented employers: USCC codes, names ("…样例…有限公司") and draw weights."""
    rng = np.random.default_rng([seed, 99])
    admins = np.array(NX_CITIES + NX_COUNTIES)
    usccs, names = [], []
    for _ in range(size):
        admin = int(admins[rng.integers(0, len(admins))])
        body = "".join(str(d) for d in rng.integers(0, 10, 8))
        # GB 11714 organisation code check character (weights 3 7 9 10 5 8 4 2)
        s = sum(int(d) * w for d, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2)))
        c = 11 - s % 11
        org = body + ("X" if c == 10 else "0" if c == 11 else str(c))
        first17 = f"91{admin:06d}{org}"
        usccs.append(first17 + uscc_check_char(first17))
        names.append(
            "宁夏"
            + EMPLOYER_PLACES[rng.integers(0, len(EMPLOYER_PLACES))]
            + EMPLOYER_BRANDS[rng.integers(0, len(EMPLOYER_BRANDS))]
            + EMPLOYER_WORDS[rng.integers(0, len(EMPLOYER_WORDS))]
            + EMPLOYER_TRADES[rng.integers(0, len(EMPLOYER_TRADES))]
            + EMPLOYER_SUFFIX[rng.integers(0, len(EMPLOYER_SUFFIX))]
        )
    weight = rng.pareto(1.2, size) + 1.0  # a few big employers
    return np.array(usccs), np.array(names), weight / weight.sum()


def new_context(month: int, seed: int) -> DrawContext:
    uscc, name, weight = employer_pool(seed)
    prefixes = np.array(
        sorted(set(NX_COUNTIES) | set(NX_FORMER) | {c for c, _ in OTHER_CODES} | set(NX_CITIES)), dtype=np.int64
    )
    # birth dates on IDs: from 70 years before P to 44 years before P (+ margins)
    first_year = month // 12 - 72
    day0 = int((np.datetime64(f"{first_year:04d}-01-01") - np.datetime64("1970-01-01")).astype(int))
    n_days = 366 * 32
    counter = np.zeros((len(prefixes), n_days, 2), dtype=np.int32)
    return DrawContext(
        month=month,
        seed=seed,
        employer_uscc=uscc,
        employer_name=name,
        employer_weight=weight,
        prefixes=prefixes,
        day0=day0,
        counter=counter,
    )


def _epoch_day(y, m, d) -> np.ndarray:
    months = (y - 1970) * 12 + (m - 1)
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + d - 1


def assign_codes(ctx: DrawContext, prefix: np.ndarray, y, m, d, parity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ID's address prefix and its 3-digit sequence code, unique per (prefix, birth date) over
    the whole batch.

    A (prefix, birth date, parity) has ``code_span`` codes.  Up to 5,000,000 persons none runs out
    and every prefix is the one drawn.  Beyond (issue 19's national-size cohort of 25,000,000) one
    province's address codes are too few for one birth date: the persons over a full code go to the
    next prefix of ``ctx.prefixes`` that has room, an ID issued in another county (the pipeline reads
    nothing from the prefix: jurisdiction is the push's own columns).  Deterministic, no draw.
    """
    pidx = np.searchsorted(ctx.prefixes, prefix)
    assert (ctx.prefixes[pidx] == prefix).all()
    day = _epoch_day(y, m, d) - ctx.day0
    if (day < 0).any() or (day >= ctx.counter.shape[1]).any():
        raise ValueError("ID birth date outside the generator's window")
    flat = ctx.counter.reshape(-1)
    for _ in range(len(ctx.prefixes)):
        key = (pidx * ctx.counter.shape[1] + day) * 2 + parity
        order = np.argsort(key, kind="stable")
        sk = key[order]
        start = np.r_[0, np.flatnonzero(sk[1:] != sk[:-1]) + 1]
        sizes = np.diff(np.r_[start, len(sk)])
        rank = np.arange(len(sk)) - np.repeat(start, sizes)
        cnt_sorted = flat[sk].astype(np.int64) + rank
        over = order[cnt_sorted >= ctx.code_span]
        if not len(over):
            break
        pidx[over] = (pidx[over] + 1) % len(ctx.prefixes)
    else:
        raise ValueError("too many persons share an address code and birth date")
    np.add.at(flat, sk[start], sizes.astype(np.int32))
    cnt = np.empty_like(cnt_sorted)
    cnt[order] = cnt_sorted
    h = ((key.astype(np.uint64) * np.uint64(2654435761)) >> np.uint64(7)) % np.uint64(ctx.code_span)
    slot = (h.astype(np.int64) + ctx.code_shift + cnt) % ctx.code_span
    return ctx.prefixes[pidx], ctx.code_base + 2 * slot + parity
