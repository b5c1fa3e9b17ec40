"""Drawing a person's contribution history: months, the chain of segments, temporary accounts,
an overlapping segment elsewhere, deemed years. Called after :mod:`.persons` (same stream)."""

from __future__ import annotations

import numpy as np

from ..months import month_index
from .arrays import pick_weighted, uniform_ints
from .codes import NINGXIA, NX_COUNTIES, OTHER_CODES
from .context import DrawContext
from .persons import HUKOU_ELSEWHERE, Drawn
from .rates import by_cuts, chance, codes, span, split

MAIN_SLOTS = len(split("main_segments_110")) - 1  # at most this many segments in the main chain
AGE_16_MONTHS = 192  # no contribution before age 16

# temporary account kinds, by position in the "temporary_account" split (0: none)
TEMP_IN_NINGXIA, TEMP_ELSEWHERE = 1, 2


def draw_contribution_months(ctx: DrawContext, rng: np.random.Generator, p: Drawn) -> None:
    """last_contribution (month index), months_since_16 (the cap), actual_months."""
    n, month = p.n, ctx.month
    suspended, stopped = span("months_since_suspended"), span("months_since_stopped")
    p.last_contribution = np.where(
        p.contribution_status == 1,
        month - 1,
        np.where(
            p.contribution_status == 2,
            month - uniform_ints(rng, suspended.low, suspended.high, n),
            month - uniform_ints(rng, stopped.low, stopped.high, n),
        ),
    )
    p.months_since_16 = np.maximum(p.last_contribution - (p.birth_month_index + AGE_16_MONTHS) + 1, 1)
    short = np.where(
        p.is_110, rng.random(n) < chance("short_contribution_110"), rng.random(n) < chance("short_contribution_170")
    )
    s110, s170 = span("short_months_110"), span("short_months_170")
    f110, f170 = span("full_months_110"), span("full_months_170")
    full_low = np.where(p.is_110, f110.low, f170.low)
    months = np.where(
        short,
        uniform_ints(rng, np.where(p.is_110, s110.low, s170.low), np.where(p.is_110, s110.high, s170.high)),
        uniform_ints(
            rng, full_low, np.maximum(np.minimum(p.months_since_16, np.where(p.is_110, f110.high, f170.high)), full_low)
        ),
    )
    p.actual_months = np.minimum(months, p.months_since_16)


def draw_main_chain(rng: np.random.Generator, p: Drawn) -> None:
    """The main chain of segments (latest first in slot 0) and the temporary account's kind and months.

    Sets segment_count, temp_kind, temp_months, seg_on/seg_start/seg_end/seg_length (n, MAIN_SLOTS)."""
    n, k = p.n, MAIN_SLOTS
    u = rng.random(n)
    count = np.where(
        p.is_110,
        by_cuts(u, "main_segments_110", codes("main_segments_110")),
        by_cuts(u, "main_segments_170", codes("main_segments_170")),
    )
    u = rng.random(n)
    temp_kind = np.where(
        p.is_110 & (count >= 1), by_cuts(u, "temporary_account", (TEMP_IN_NINGXIA, TEMP_ELSEWHERE, 0)), 0
    )
    temp = span("temporary_account_months")
    temp_months = np.where(temp_kind > 0, uniform_ints(rng, temp.low, temp.high, n), 0)
    too_short = p.actual_months - temp_months < count * 2
    p.temp_kind = np.where(too_short, 0, temp_kind)
    p.temp_months = np.where(too_short, 0, temp_months)
    p.segment_count = np.minimum(count, np.maximum(p.actual_months - p.temp_months, 0))
    chain_months = p.actual_months - p.temp_months

    slot = np.arange(k)
    on = slot[None, :] < p.segment_count[:, None]
    weight = rng.gamma(2.0, size=(n, k)) * on
    share = weight / np.maximum(weight.sum(axis=1, keepdims=True), 1e-12)
    length = np.where(
        on, 1 + np.floor(share * np.maximum(chain_months - p.segment_count, 0)[:, None]).astype(np.int64), 0
    )
    length[:, 0] += np.where(p.segment_count > 0, chain_months - length.sum(axis=1), 0)
    gap_span = span("segment_gap_months")
    gaps = np.where(
        rng.random((n, k)) < chance("segment_gap"), uniform_ints(rng, gap_span.low, gap_span.high, (n, k)), 0
    )
    gaps = np.where(slot[None, :] < (p.segment_count - 1)[:, None], gaps, 0)
    gaps[chain_months + gaps.sum(axis=1) + p.temp_months > p.months_since_16] = 0
    end = np.zeros((n, k), dtype=np.int64)
    start = np.zeros((n, k), dtype=np.int64)
    cursor = p.last_contribution - p.temp_months
    for j in range(k):
        end[:, j] = cursor
        start[:, j] = cursor - length[:, j] + 1
        cursor = start[:, j] - 1 - gaps[:, j]
    p.seg_on, p.seg_start, p.seg_end, p.seg_length = on, start, end, length


def draw_segment_places(rng: np.random.Generator, p: Drawn) -> None:
    """seg_code and seg_relation of the main chain (n, MAIN_SLOTS)."""
    n, k = p.n, MAIN_SLOTS
    slot = np.arange(k)
    elsewhere = pick_weighted(rng, OTHER_CODES, n * k).reshape(n, k)
    in_hukou_province = (p.hukou_kind == HUKOU_ELSEWHERE)[:, None] & (
        rng.random((n, k)) < chance("earlier_segment_in_hukou_province")
    )
    elsewhere = np.where(in_hukou_province, p.other_code[:, None], elsewhere)
    in_ningxia = np.where(
        rng.random((n, k)) < chance("segment_in_office_county"),
        p.county[:, None],
        np.array(NX_COUNTIES)[rng.integers(0, len(NX_COUNTIES), (n, k))],
    )
    # the latest segment is elsewhere exactly when a Ningxia temporary account follows it
    outside = np.where(
        slot[None, :] == 0,
        (p.temp_kind == TEMP_IN_NINGXIA)[:, None],
        rng.random((n, k)) < chance("earlier_segment_elsewhere"),
    )
    outside &= p.is_110[:, None]
    p.seg_code = np.where(outside, elsewhere, in_ningxia)
    not_transferred = (
        (slot[None, :] >= 1) & (rng.random((n, k)) < chance("earlier_segment_not_transferred")) & p.is_110[:, None]
    )
    p.seg_relation = np.where(not_transferred, 2, 1)


def draw_extra_segments(rng: np.random.Generator, p: Drawn) -> None:
    """The temporary account and the overlapping segment elsewhere: all the segment columns
    (slots_code, slots_start, slots_end, slots_relation, slots_on; (n, MAIN_SLOTS + 2): the main
    chain, the temporary account, the overlapping segment)."""
    n = p.n
    temp_code = np.where(p.temp_kind == TEMP_IN_NINGXIA, p.county, p.other_code)
    temp_on = p.temp_kind > 0
    dup_on = p.is_110 & (p.segment_count >= 1) & (rng.random(n) < chance("duplicate_contribution"))
    which = np.minimum(
        np.floor(rng.random(n) * np.maximum(p.segment_count, 1)).astype(np.int64), np.maximum(p.segment_count - 1, 0)
    )
    length_j = np.take_along_axis(p.seg_length, which[:, None], 1)[:, 0]
    start_j = np.take_along_axis(p.seg_start, which[:, None], 1)[:, 0]
    code_j = np.take_along_axis(p.seg_code, which[:, None], 1)[:, 0]
    dup_code = np.where(code_j // 10000 == NINGXIA, p.other_code, p.county)
    dup_code = np.where(dup_code // 10000 == code_j // 10000, 620102, dup_code)
    dup = span("duplicate_months")
    dup_length = np.minimum(np.maximum(length_j, 1), uniform_ints(rng, dup.low, dup.high, n))
    dup_start = start_j + np.floor(rng.random(n) * (length_j - dup_length + 1)).astype(np.int64)
    dup_relation = np.where(rng.random(n) < chance("duplicate_merged"), 1, 2)

    last = p.last_contribution
    p.slots_code = np.concatenate([p.seg_code, temp_code[:, None], dup_code[:, None]], axis=1)
    p.slots_start = np.concatenate([p.seg_start, (last - p.temp_months + 1)[:, None], dup_start[:, None]], axis=1)
    p.slots_end = np.concatenate([p.seg_end, last[:, None], (dup_start + dup_length - 1)[:, None]], axis=1)
    p.slots_relation = np.concatenate([p.seg_relation, np.full((n, 1), 3), dup_relation[:, None]], axis=1)
    p.slots_on = np.concatenate([p.seg_on, temp_on[:, None], dup_on[:, None]], axis=1)


def draw_deemed(rng: np.random.Generator, p: Drawn) -> None:
    """Deemed years (视同缴费) of 110 persons born before 1975."""
    n = p.n
    p.has_deemed = p.is_110 & (p.birth_month_index < month_index(1975, 1)) & (rng.random(n) < chance("deemed"))
    p.deemed_status = np.where(p.has_deemed, np.where(rng.random(n) < chance("deemed_confirmed"), 1, 2), 0)
    months = span("deemed_months")
    p.deemed_months = np.where(p.has_deemed, uniform_ints(rng, months.low, months.high, n), 0)
    u = rng.random(n)
    p.deemed_region = np.where(p.has_deemed, by_cuts(u, "deemed_region", (p.county, p.other_code, 0)), 0)
    p.deemed_months_zero = (~p.has_deemed) & (rng.random(n) < chance("deemed_months_zero"))
