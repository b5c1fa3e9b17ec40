"""rules.md §2 (the benefit place), vectorised over persons × segment slots: the place the
generator writes as the ministry's benefit_region_ministry (tests/sample/test_sample.py checks it against
pipelines.policy.benefit_province)."""

from __future__ import annotations

import numpy as np

from .codes import NINGXIA


def benefit_province_vec(
    hukou_prov, seg_prov, seg_start, seg_end, seg_rel, seg_valid, deemed_prov, deemed_conf_months
) -> np.ndarray:
    """rules.md §2 for many persons at once; provinces as 2-digit ints (0 = none).

    ``seg_*``: (n, k) arrays. Segments of one province must not overlap each other
    (true of every population generated here), so ``acc`` is a plain sum of lengths.
    ``deemed_prov`` 0 or ``deemed_conf_months`` 0: no confirmed deemed months counted.
    Ties for C prefer Ningxia (the insured region's province is always Ningxia here).
    """
    n, k = seg_prov.shape
    counts = seg_valid & ((seg_rel == 1) | (seg_rel == 2))
    length = np.where(counts, seg_end - seg_start + 1, 0)
    # slots: k segments + 1 deemed slot
    prov = np.concatenate([np.where(seg_valid, seg_prov, 0), deemed_prov[:, None]], axis=1)
    has_deemed = (deemed_prov > 0) & (deemed_conf_months > 0)
    prov = np.where(np.concatenate([seg_valid, has_deemed[:, None]], axis=1), prov, 0)
    same = prov[:, :, None] == prov[:, None, :]  # (n, k+1, k+1)
    contrib = np.concatenate([length, np.where(has_deemed, deemed_conf_months, 0)[:, None]], axis=1)
    acc = (same * contrib[:, None, :]).sum(axis=2)  # acc of the province of each slot
    acc = np.where(prov > 0, acc, 0)
    end_nt = np.concatenate([np.where(counts, seg_end, -1), np.full((n, 1), -1)], axis=1)
    last_end = np.where(same, end_nt[:, None, :], -1).max(axis=2)  # latest non-temp end of slot's province

    place = hukou_prov.copy()
    any_acc = (acc > 0).any(axis=1)
    any_nt = counts.any(axis=1)
    # C: non-temporary segment ending latest; ties Ningxia, then lower code
    max_end = np.where(counts, seg_end, -1).max(axis=1)
    at_max = counts & (seg_end == max_end[:, None])
    c_nx = (at_max & (seg_prov == NINGXIA)).any(axis=1)
    c_low = np.where(at_max, seg_prov, 999).min(axis=1)
    c = np.where(any_nt, np.where(c_nx, NINGXIA, c_low), 0)
    acc_c = np.where(prov == c[:, None], acc, 0).max(axis=1)
    # rule 3 candidates: other provinces with acc ≥ 120, by latest end, then lower code
    cand = (prov > 0) & (prov != c[:, None]) & (acc >= 120)
    score = np.where(cand, (last_end + 1) * 100 + (99 - prov), -1)
    best = np.take_along_axis(prov, score.argmax(axis=1)[:, None], axis=1)[:, 0]
    has_cand = cand.any(axis=1)

    rule4 = np.where(has_cand, best, hukou_prov)
    with_c = np.where(c == hukou_prov, c, np.where(acc_c >= 120, c, rule4))
    place = np.where(~any_acc, hukou_prov, np.where(any_nt, with_c, rule4))
    return place
