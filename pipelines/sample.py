"""Deterministic generator of ministry push batches (push-format.md) — GENERATED DATA ONLY.

Every person written here is synthetic: names are random combinations of common
surname and given-name characters, ID numbers are random valid GB 11643 numbers,
employers are invented ("…样例…有限公司"), phones are random digits. Nothing is
drawn from real people.

Same arguments → byte-identical files (no wall clock, no hash randomisation:
every draw comes from ``numpy.random.default_rng([seed, stream, chunk])``).
Persons are produced in vectorised chunks of :data:`CHUNK` persons and written
chunk by chunk, so 1,000,000 persons stream through a few hundred MB at most.

Public API
----------
* :func:`generate_batch` — one batch folder (manifest.json + persons + segments),
  FULL, or INCR on top of a previous batch folder (``incr_from``).
* :func:`write_applications` — an applications file (push-format.md "Applications").
* :func:`cli_sample` / :func:`add_sample_arguments` + :func:`run_sample` — the
  ``retire-prep sample`` command.
* :func:`check_person_row` / :func:`check_segment_row` — the generator's own reading
  of the contract (used to pick valid rows for an INCR and by the tests; the
  pipeline's SQL in ``sql/ingest/`` is the authority).

Population design (FULL; shares are of the persons drawn, before ``bad_rows``)
------------------------------------------------------------------------------

=============================================  =====================================================
what                                           rate
=============================================  =====================================================
insurance_type                                 110: 85 %; 170: 15 %
gender (field)                                 110: men 55 %; 170: men 50 %
person_type, 110 men                           1: 50 %, 2: 30 %, 3: 20 %
person_type, 110 women                         1: 45 %, 2: 25 %, 3: 22 %, empty: 8 %
person_type, 170                               always empty
months from ``month`` to original age O − P    −36…−1: 10 %; 0…12: 50 %; 13…24: 28 %; 25…60: 12 %
birth_date ≠ ID birth date (BIRTH_DATE_CONF.)  4 % (other day 40 %, other month 30 %, year ±1 30 %)
gender ≠ ID gender digit (GENDER_CONFLICT)     2 %
ID address prefix                              Ningxia current code 78 %, abolished Ningxia code
                                               (640102, 642223 …) 15 %, other province 7 %; hukou in
                                               another province: that hukou code 70 %, else Ningxia
lower-case ``x`` check character (valid)       50 % of the IDs whose check character is X
hukou_region                                   Ningxia 85 %; other province (62 Gansu, 61 Shaanxi,
                                               15 Inner Mongolia, 41, 13, 37, 51, 63, 65, 11, 44,
                                               32, 33, 50) 12 %; empty 3 %
insured_region                                 the 29 offices of rules.md §3, weighted (640104 11,
                                               640106 9, 640105 8, 640000 5, 640302 5 … 640424 0.8)
benefit_region_ministry                        the place of rules.md §2 computed here 94 % (as a
                                               640000 / city / office code when Ningxia, as a province
                                               or city code otherwise); another province 3 %
                                               (BENEFIT_PLACE_MISMATCH; never when hukou is empty);
                                               empty 3 %
employer (110, person_type 1/2)                code + name 90 %, name only 3 %, code only 2 %,
                                               none 5 % (KEY_INFO_MISSING)
employer (110, person_type 3 or empty)         code + name 10 % (else none); 170: none
phone                                          plain valid mobile 80 %; valid after normalising
                                               (spaces, hyphens, +86, 0086, full-width) 8 %;
                                               landline 4 %; invalid mobile 3 %; empty 5 %
contribution_status, O ≥ P                     1: 82 %, 2: 13 %, 3: 5 %
contribution_status, O < P (past age)          2: 70 %, 1: 25 %, 3: 5 %
retired                                        1: 2 %
survival_status                                2: 1 %, 9: 1 %, else 1
actual_contribution_months                     110: < 180 for 11 %, else 180…480; 170: < 180 for
                                               30 %, else 180…300 (never before age 16)
deemed (110 born before 1975)                  30 % have deemed months 12…180: confirmed 55 %,
                                               pending 45 % (YEARS_UNCONFIRMED); region Ningxia 82 %,
                                               other province 10 %, empty 8 % (KEY_INFO_MISSING);
                                               without deemed months: deemed_months empty 90 %, 0 10 %
arrears_months                                 > 0 (1…36) for 5 % (ARREARS)
segments, 110                                  main chain of 0 (5 %), 1 (42 %), 2 (30 %), 3 (16 %),
                                               4 (7 %) segments; the latest in Ningxia, earlier ones
                                               in another province 28 %; earlier ones not transferred
                                               (relation_status 2) 12 %; gaps between them 40 %
temporary accounts (110 with segments)         6 %: relationship (latest main segment) in another
                                               province + a Ningxia temporary account; 3 %: Ningxia
                                               relationship + a temporary account elsewhere
overlap in another province (110)              3.5 % (DUPLICATE_CONTRIBUTION), relation 1 or 2
segments, 170                                  0 (30 %), 1 (55 %), 2 (15 %), Ningxia, relation 1
=============================================  =====================================================

Every flag of rules.md §4 occurs in a 2,000-person batch; so do scope (a), (b), (c),
the four benefit-place rules of §2 and places outside Ningxia (tests/test_sample.py).

``bad_rows=R``: each persons row and each segments row is broken with probability R
(independently, from its own random stream, so the valid rows are those of the
``bad_rows=0`` batch). Persons breakages: wrong ID check character, 17-character ID,
unknown office, unknown province code, 5-digit code, birth date ``YYYY0230``, op ``X``,
gender ``0``, negative months, bad USCC check character, and one id_no on two rows
(both rows count as broken). Segments breakages: ``end_month`` before ``start_month``,
month 13, 5-digit or unknown region, relation_status ``4``, wrong ID check character,
and a segment of a person not in the file. The manifest stays honest (rows = data
rows). The pipeline quarantines more rows than R: the segments of a broken persons
row go with it.

INCR (``incr_from``): seq = previous seq + 1 (or ``seq``), base_seq = previous seq;
of K changes 75 % are ``U`` (whole row again with one changed field — contribution
months, phone, deemed years confirmed, suspension, office, hukou, death, retirement,
benefit place — plus all the person's segments again, 25 % of them with one more
segment), 15 % ``I`` (new persons, ID sequence codes 900–989, never used by a FULL),
10 % ``D`` (only op and id_no). Changed persons are a seeded sample of the
previous batch's valid, unduplicated rows (op D rows skipped).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterator

import numpy as np

from .contract import APPLICATION_COLUMNS, PERSON_COLUMNS, SEGMENT_COLUMNS
from .months import split
from .identifiers import id_check_char, parse_id_no, uscc_check_char, uscc_valid


CHUNK = 50_000  # persons per vectorised chunk (the stream unit)
NINGXIA = 64

# --------------------------------------------------------------------------------------
# Codes
# --------------------------------------------------------------------------------------

# The 29 offices of rules.md §3 with their weights (share of insured persons).
OFFICES: tuple[tuple[int, float], ...] = (
    (640000, 5.0),
    (640100, 3.0),
    (640200, 1.5),
    (640300, 1.5),
    (640400, 1.5),
    (640500, 1.5),
    (640104, 11.0),
    (640105, 8.0),
    (640106, 9.0),
    (640121, 3.0),
    (640122, 3.0),
    (640181, 4.0),
    (640202, 4.0),
    (640205, 3.0),
    (640221, 3.0),
    (640302, 5.0),
    (640303, 1.5),
    (640323, 1.5),
    (640324, 2.0),
    (640381, 3.0),
    (640402, 4.0),
    (640422, 2.5),
    (640423, 1.2),
    (640424, 0.8),
    (640425, 1.5),
    (640502, 3.5),
    (640521, 2.5),
    (640522, 2.0),
    (640900, 2.0),
)
OFFICE_CODES = frozenset(str(c) for c, _ in OFFICES)
NX_COUNTIES = (
    640104,
    640105,
    640106,
    640121,
    640122,
    640181,
    640202,
    640205,
    640221,
    640302,
    640303,
    640323,
    640324,
    640381,
    640402,
    640422,
    640423,
    640424,
    640425,
    640502,
    640521,
    640522,
)
NX_CITIES = (640100, 640200, 640300, 640400, 640500)
# Former Ningxia codes, still on ID numbers (push-format.md: accept every code ever valid).
NX_FORMER = (
    640102,
    640103,
    640111,
    640203,
    640204,
    640222,
    640321,
    640322,
    642221,
    642222,
    642223,
    642224,
    642225,
    642226,
)
# Other provinces: (code, weight); weights by province ~ Gansu 30, Shaanxi 20, Inner Mongolia 15 …
OTHER_CODES: tuple[tuple[int, float], ...] = (
    (620102, 8),
    (620402, 5),
    (620421, 4),
    (620802, 5),
    (621102, 4),
    (620503, 4),
    (610102, 5),
    (610112, 4),
    (610802, 4),
    (610602, 4),
    (610302, 3),
    (150102, 4),
    (150302, 5),
    (150602, 4),
    (152921, 2),
    (410102, 3),
    (410302, 3),
    (130102, 4),
    (370102, 4),
    (510104, 4),
    (630102, 3),
    (650102, 3),
    (110105, 3),
    (440106, 2),
    (440304, 2),
    (320102, 2),
    (330106, 2),
    (500103, 2),
)
_PROVINCES = frozenset(
    {
        11,
        12,
        13,
        14,
        15,
        21,
        22,
        23,
        31,
        32,
        33,
        34,
        35,
        36,
        37,
        41,
        42,
        43,
        44,
        45,
        46,
        50,
        51,
        52,
        53,
        54,
        61,
        62,
        63,
        64,
        65,
        71,
        81,
        82,
    }
)

SURNAMES = (
    "王李张刘陈杨马赵黄周吴徐孙胡朱高林何郭罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛"
    "郝龚邵万钱严覃武戴莫孔向汤海纳穆锁撒冶虎哈拜"
)
_SURNAME_WEIGHTS = np.array(
    [9 if c in "王李张刘陈杨马" else 4 if c in "赵黄周吴徐孙胡朱高林何郭罗海纳" else 1 for c in SURNAMES], dtype=float
)
GIVEN = (
    "文武志国建明华伟军强平东海玉兰英秀芳红梅丽霞凤琴云萍桂珍燕静娟敏杰涛斌刚勇峰磊宁德福"
    "贵生春秋永长忠学成兴发金银宝山林清彦斌亮虎龙鹏飞俊辉晓丹慧婷雪艳荣振亚新军锋卫东利民"
)
EMPLOYER_PLACES = ("银川", "石嘴山", "吴忠", "固原", "中卫", "宁东", "贺兰山", "六盘山", "塞上", "黄河")
EMPLOYER_WORDS = ("样例", "示范", "演示", "模拟", "测试")
EMPLOYER_BRANDS = (
    "恒泰",
    "宏达",
    "新元",
    "瑞丰",
    "金穗",
    "盛源",
    "华宁",
    "远景",
    "同心",
    "丰泽",
    "永昌",
    "广和",
    "安信",
    "天成",
    "嘉禾",
    "利民",
)
EMPLOYER_TRADES = (
    "建材",
    "机械",
    "商贸",
    "物流",
    "化工",
    "纺织",
    "食品",
    "电力",
    "煤业",
    "建筑工程",
    "农业科技",
    "医药",
    "信息技术",
    "葡萄酒",
    "枸杞",
    "乳业",
    "清真食品",
    "物业服务",
)
EMPLOYER_SUFFIX = ("有限公司", "有限责任公司", "股份有限公司", "厂")
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "158",
    "159",
    "176",
    "177",
    "180",
    "181",
    "186",
    "187",
    "188",
    "189",
    "199",
)
AREA_CODES = ("0951", "0952", "0953", "0954", "0955")

_DIM = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_ID_W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.array(list("10X98765432"))
_POW10 = 10 ** np.arange(16, -1, -1, dtype=np.int64)
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _mi(year: int, month: int) -> int:
    return year * 12 + month - 1


def _parse_month_arg(month: str) -> int:
    ym = split(month or "")
    if ym is None:
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    return _mi(*ym)


def _dim(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Days in month (m 1..12), vectorised."""
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    return _DIM[m - 1] + ((m == 2) & leap)


def _id_checks(id17: np.ndarray) -> np.ndarray:
    """GB 11643 check characters of 17-digit integers (twin of identifiers.id_check_char)."""
    digits = (id17[:, None] // _POW10) % 10
    return _ID_CHECK[(digits * _ID_W).sum(axis=1) % 11]


def _pick(rng: np.random.Generator, items, weights, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return np.asarray(items)[rng.choice(len(w), size=n, p=w / w.sum())]


def _u(rng, lo, hi, n=None):
    """Uniform integers lo..hi inclusive (arrays allowed)."""
    lo = np.asarray(lo)
    hi = np.asarray(hi)
    size = n if n is not None else np.broadcast(lo, hi).shape
    return (lo + np.floor(rng.random(size) * (hi - lo + 1))).astype(np.int64)


def _s(a: np.ndarray) -> list[str]:
    """Integers → list of decimal strings."""
    return [str(x) for x in a.tolist()]


def _yyyymm(mi: np.ndarray) -> np.ndarray:
    return (mi // 12) * 100 + mi % 12 + 1


def _office_county(rng, office: np.ndarray) -> np.ndarray:
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
    out[ningdong] = np.where(rng.random(int(ningdong.sum())) < 0.7, 640181, 640104)
    return out


# --------------------------------------------------------------------------------------
# Contract checks (the generator's reading of push-format.md)
# --------------------------------------------------------------------------------------

_DIGITS6 = re.compile(r"^[0-9]{6}$")
_COUNT = re.compile(r"^[0-9]{1,4}$")


def _region_ok(code: str) -> bool:
    return bool(_DIGITS6.match(code)) and int(code[:2]) in _PROVINCES


def check_person_row(row: dict, push_type: str = "FULL") -> str | None:
    """Reason code when a persons row breaks the contract, else None (duplicates not seen here)."""
    g = lambda c: (row.get(c) or "").strip()  # noqa: E731
    if parse_id_no(g("id_no")) is None:
        return "BAD_ID_NO"
    op = g("op")
    if push_type == "FULL":
        if op not in ("", "I"):
            return "BAD_OP"
    else:
        if op not in ("I", "U", "D"):
            return "BAD_OP"
        if op == "D":
            return None
    if g("gender") not in ("1", "2"):
        return "BAD_GENDER"
    bd = g("birth_date")
    try:
        if not re.fullmatch(r"[0-9]{8}", bd):
            raise ValueError
        date(int(bd[:4]), int(bd[4:6]), int(bd[6:]))
    except ValueError:
        return "BAD_BIRTH_DATE"
    it, pt = g("insurance_type"), g("person_type")
    if it not in ("110", "170"):
        return "BAD_INSURANCE_TYPE"
    if (it == "110" and pt not in ("", "1", "2", "3")) or (it == "170" and pt != ""):
        return "BAD_PERSON_TYPE"
    if g("insured_region") not in OFFICE_CODES:
        return "UNKNOWN_OFFICE"
    for c in ("hukou_region", "benefit_region_ministry", "deemed_region"):
        if g(c) and not _region_ok(g(c)):
            return "BAD_REGION_CODE"
    if g("employer_uscc") and not uscc_valid(g("employer_uscc").upper()):
        return "BAD_USCC"
    if g("contribution_status") not in ("1", "2", "3"):
        return "BAD_CONTRIBUTION_STATUS"
    if g("retired") not in ("0", "1"):
        return "BAD_RETIRED"
    if g("survival_status") not in ("1", "2", "9"):
        return "BAD_SURVIVAL_STATUS"
    if not _COUNT.match(g("actual_contribution_months")):
        return "BAD_CONTRIBUTION_MONTHS"
    if g("deemed_months") and not _COUNT.match(g("deemed_months")):
        return "BAD_DEEMED_MONTHS"
    if g("deemed_status") not in ("0", "1", "2"):
        return "BAD_DEEMED_STATUS"
    if not _COUNT.match(g("arrears_months")):
        return "BAD_ARREARS_MONTHS"
    return None


def check_segment_row(row: dict) -> str | None:
    """Reason code when a segments row breaks the contract on its own (owner not checked)."""
    g = lambda c: (row.get(c) or "").strip()  # noqa: E731
    if parse_id_no(g("id_no")) is None:
        return "BAD_ID_NO"
    if not _region_ok(g("region_code")):
        return "BAD_REGION_CODE"
    s, e = split(g("start_month"), dash=False), split(g("end_month"), dash=False)
    if not s or not e:
        return "BAD_MONTH"
    if g("end_month") < g("start_month"):
        return "END_BEFORE_START"
    if g("relation_status") not in ("1", "2", "3"):
        return "BAD_RELATION_STATUS"
    return None


# --------------------------------------------------------------------------------------
# Benefit place (rules.md §2), vectorised over persons × segment slots
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Population chunks
# --------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    P: int  # processing month index
    seed: int
    emp_uscc: np.ndarray
    emp_name: np.ndarray
    emp_weight: np.ndarray
    # ID uniqueness: per (prefix, day, parity) how many sequence codes are taken
    prefixes: np.ndarray
    day0: int  # epoch day of the first day of the counter window
    counter: np.ndarray  # (n_prefix, n_days, 2) int32
    code_base: int = 0  # FULL: codes 0..899; INCR inserts: 900..989
    code_span: int = 450  # codes per parity
    code_shift: int = 0


def _employer_pool(seed: int, size: int = 3000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, 99])
    admins = np.array(NX_CITIES + NX_COUNTIES)
    usccs, names = [], []
    for i in range(size):
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


def _new_ctx(P: int, seed: int) -> _Ctx:
    uscc, name, w = _employer_pool(seed)
    prefixes = np.array(
        sorted(set(NX_COUNTIES) | set(NX_FORMER) | {c for c, _ in OTHER_CODES} | set(NX_CITIES)), dtype=np.int64
    )
    # birth dates on IDs: from 70 years before P to 44 years before P (+ margins)
    first_year = P // 12 - 72
    day0 = int((np.datetime64(f"{first_year:04d}-01-01") - np.datetime64("1970-01-01")).astype(int))
    n_days = 366 * 32
    counter = np.zeros((len(prefixes), n_days, 2), dtype=np.int32)
    return _Ctx(
        P=P, seed=seed, emp_uscc=uscc, emp_name=name, emp_weight=w, prefixes=prefixes, day0=day0, counter=counter
    )


def _epoch_day(y, m, d) -> np.ndarray:
    months = (y - 1970) * 12 + (m - 1)
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + d - 1


def _assign_codes(ctx: _Ctx, prefix: np.ndarray, y, m, d, parity: np.ndarray) -> np.ndarray:
    """3-digit sequence codes, unique per (prefix, birth date) over the whole batch."""
    pidx = np.searchsorted(ctx.prefixes, prefix)
    assert (ctx.prefixes[pidx] == prefix).all()
    day = _epoch_day(y, m, d) - ctx.day0
    if (day < 0).any() or (day >= ctx.counter.shape[1]).any():
        raise ValueError("ID birth date outside the generator's window")
    key = (pidx * ctx.counter.shape[1] + day) * 2 + parity
    order = np.argsort(key, kind="stable")
    sk = key[order]
    start = np.r_[0, np.flatnonzero(sk[1:] != sk[:-1]) + 1]
    sizes = np.diff(np.r_[start, len(sk)])
    rank = np.arange(len(sk)) - np.repeat(start, sizes)
    flat = ctx.counter.reshape(-1)
    base = flat[sk].astype(np.int64)
    cnt_sorted = base + rank
    if (cnt_sorted >= ctx.code_span).any():
        raise ValueError("too many persons share an address code and birth date")
    np.add.at(flat, sk[start], sizes.astype(np.int32))
    cnt = np.empty_like(cnt_sorted)
    cnt[order] = cnt_sorted
    h = ((key.astype(np.uint64) * np.uint64(2654435761)) >> np.uint64(7)) % np.uint64(ctx.code_span)
    slot = (h.astype(np.int64) + ctx.code_shift + cnt) % ctx.code_span
    return ctx.code_base + 2 * slot + parity


def _draw(ctx: _Ctx, rng: np.random.Generator, n: int) -> dict:
    """Draw n persons and their segments (numeric arrays + rendered strings)."""
    P = ctx.P
    r = lambda: rng.random(n)  # noqa: E731
    ins110 = r() < 0.85
    male = np.where(ins110, r() < 0.55, r() < 0.50)
    u = r()
    ptype = np.where(
        male,
        np.where(u < 0.50, 1, np.where(u < 0.80, 2, 3)),
        np.where(u < 0.45, 1, np.where(u < 0.70, 2, np.where(u < 0.92, 3, 0))),
    )
    ptype = np.where(ins110, ptype, 0)
    age = np.where(~ins110 | male, 60, np.where((ptype == 2) | (ptype == 3), 55, 50))
    band = rng.choice(4, size=n, p=[0.10, 0.50, 0.28, 0.12])
    lo = np.array([-36, 0, 13, 25])[band]
    hi = np.array([-1, 12, 24, 60])[band]
    d_o = _u(rng, lo, hi)
    O = P + d_o
    B = O - 12 * age
    by, bm = B // 12, B % 12 + 1
    bday = _u(rng, 1, _dim(by, bm))

    # ID birth date (conflict 4 %)
    conflict_bd = r() < 0.04
    kind = rng.choice(3, size=n, p=[0.4, 0.3, 0.3])
    iy, im, iday = by.copy(), bm.copy(), bday.copy()
    k0 = conflict_bd & (kind == 0)
    dm = _dim(by, bm)
    iday = np.where(k0, (bday - 1 + _u(rng, 1, dm - 1)) % dm + 1, iday)
    k1 = conflict_bd & (kind == 1)
    im = np.where(k1, (bm - 1 + _u(rng, 1, 11, n)) % 12 + 1, im)
    k2 = conflict_bd & (kind == 2)
    iy = np.where(k2, by + np.where(r() < 0.5, -1, 1), iy)
    iday = np.where(k1 | k2, np.minimum(iday, _dim(iy, im)), iday)

    # gender digit (conflict 2 %)
    gender = np.where(male, 1, 2)
    conflict_g = r() < 0.02
    id_male = np.where(conflict_g, ~male, male)
    parity = id_male.astype(np.int64)  # odd = male

    # regions
    office = _pick(rng, [c for c, _ in OFFICES], [w for _, w in OFFICES], n).astype(np.int64)
    county = _office_county(rng, office)
    other = _pick(rng, [c for c, _ in OTHER_CODES], [w for _, w in OTHER_CODES], n).astype(np.int64)
    nx_any = np.array(NX_COUNTIES)[rng.integers(0, len(NX_COUNTIES), n)]
    hk = rng.choice(3, size=n, p=[0.85, 0.12, 0.03])  # NX / other / empty
    u = r()
    hukou_nx = np.where(u < 0.60, county, np.where(u < 0.95, nx_any, np.array(NX_CITIES)[rng.integers(0, 5, n)]))
    hukou = np.where(hk == 0, hukou_nx, np.where(hk == 1, other, 0))
    hukou_prov = np.where(hukou > 0, hukou // 10000, NINGXIA)

    # ID address prefix
    former = np.array(NX_FORMER)[rng.integers(0, len(NX_FORMER), n)]
    u = r()
    prefix = np.where(
        hk == 1,
        np.where(u < 0.70, other, county),
        np.where(
            u < 0.78, np.where((hk == 0) & (hukou_nx % 100 != 0), hukou_nx, county), np.where(u < 0.93, former, other)
        ),
    )
    code = _assign_codes(ctx, prefix, iy, im, iday, parity)
    id17 = prefix * 10**11 + (iy * 10000 + im * 100 + iday) * 1000 + code
    check = _id_checks(id17)
    lower_x = (check == "X") & (r() < 0.5)
    check = np.where(lower_x, "x", check)
    id_no = np.strings.add(id17.astype("U17"), check)

    # statuses
    past = d_o < 0
    u = r()
    cstat = np.where(
        past, np.where(u < 0.70, 2, np.where(u < 0.95, 1, 3)), np.where(u < 0.82, 1, np.where(u < 0.95, 2, 3))
    )
    retired = r() < 0.02
    u = r()
    survival = np.where(u < 0.01, 2, np.where(u < 0.02, 9, 1))

    # contribution timeline
    E = np.where(cstat == 1, P - 1, np.where(cstat == 2, P - _u(rng, 2, 48, n), P - _u(rng, 12, 120, n)))
    L0 = B + 192  # never before age 16
    cap = np.maximum(E - L0 + 1, 1)
    low = np.where(ins110, r() < 0.11, r() < 0.30)
    act = np.where(
        low,
        _u(rng, np.where(ins110, 24, 15), 179),
        _u(rng, 180, np.maximum(np.minimum(cap, np.where(ins110, 480, 300)), 180)),
    )
    act = np.minimum(act, cap)

    u = r()
    ns = np.where(
        ins110,
        np.where(u < 0.05, 0, np.where(u < 0.47, 1, np.where(u < 0.77, 2, np.where(u < 0.93, 3, 4)))),
        np.where(u < 0.30, 0, np.where(u < 0.85, 1, 2)),
    )
    u = r()
    temp_kind = np.where(ins110 & (ns >= 1), np.where(u < 0.06, 1, np.where(u < 0.09, 2, 0)), 0)
    t = np.where(temp_kind > 0, _u(rng, 6, 48, n), 0)
    bad_t = act - t < ns * 2
    temp_kind = np.where(bad_t, 0, temp_kind)
    t = np.where(bad_t, 0, t)
    ns = np.minimum(ns, np.maximum(act - t, 0))
    M = act - t

    K = 4
    j = np.arange(K)
    on = j[None, :] < ns[:, None]
    g = rng.gamma(2.0, size=(n, K)) * on
    p = g / np.maximum(g.sum(axis=1, keepdims=True), 1e-12)
    lens = np.where(on, 1 + np.floor(p * np.maximum(M - ns, 0)[:, None]).astype(np.int64), 0)
    lens[:, 0] += np.where(ns > 0, M - lens.sum(axis=1), 0)
    gaps = np.where(rng.random((n, K)) < 0.4, _u(rng, 1, 36, (n, K)), 0)
    gaps = np.where(j[None, :] < (ns - 1)[:, None], gaps, 0)
    too_long = M + gaps.sum(axis=1) + t > cap
    gaps[too_long] = 0
    end = np.zeros((n, K), dtype=np.int64)
    start = np.zeros((n, K), dtype=np.int64)
    cur = E - t
    for jj in range(K):
        end[:, jj] = cur
        start[:, jj] = cur - lens[:, jj] + 1
        cur = start[:, jj] - 1 - gaps[:, jj]

    # provinces / codes of main segments
    other_seg = _pick(rng, [c for c, _ in OTHER_CODES], [w for _, w in OTHER_CODES], n * K).reshape(n, K)
    other_seg = np.where((hk == 1)[:, None] & (rng.random((n, K)) < 0.6), other[:, None], other_seg)
    nx_seg = np.where(
        rng.random((n, K)) < 0.7, county[:, None], np.array(NX_COUNTIES)[rng.integers(0, len(NX_COUNTIES), (n, K))]
    )
    outside = np.where(j[None, :] == 0, (temp_kind == 1)[:, None], rng.random((n, K)) < 0.28)
    outside &= ins110[:, None]
    seg_code = np.where(outside, other_seg, nx_seg)
    rel = np.where((j[None, :] >= 1) & (rng.random((n, K)) < 0.12) & ins110[:, None], 2, 1)

    # temporary account slot
    temp_code = np.where(temp_kind == 1, county, other)
    temp_on = temp_kind > 0
    # duplicate slot
    dup_on = ins110 & (ns >= 1) & (r() < 0.035)
    dj = np.minimum(np.floor(r() * np.maximum(ns, 1)).astype(np.int64), np.maximum(ns - 1, 0))
    len_j = np.take_along_axis(lens, dj[:, None], 1)[:, 0]
    start_j = np.take_along_axis(start, dj[:, None], 1)[:, 0]
    code_j = np.take_along_axis(seg_code, dj[:, None], 1)[:, 0]
    dup_code = np.where(code_j // 10000 == NINGXIA, other, county)
    dup_code = np.where(dup_code // 10000 == code_j // 10000, 620102, dup_code)
    dL = np.minimum(np.maximum(len_j, 1), _u(rng, 1, 24, n))
    dstart = start_j + np.floor(r() * (len_j - dL + 1)).astype(np.int64)
    drel = np.where(r() < 0.5, 1, 2)

    S6 = K + 2
    s_code = np.concatenate([seg_code, temp_code[:, None], dup_code[:, None]], axis=1)
    s_start = np.concatenate([start, (E - t + 1)[:, None], dstart[:, None]], axis=1)
    s_end = np.concatenate([end, E[:, None], (dstart + dL - 1)[:, None]], axis=1)
    s_rel = np.concatenate([rel, np.full((n, 1), 3), drel[:, None]], axis=1)
    s_on = np.concatenate([on, temp_on[:, None], dup_on[:, None]], axis=1)

    # deemed years
    has_deemed = ins110 & (B < _mi(1975, 1)) & (r() < 0.30)
    dstat = np.where(has_deemed, np.where(r() < 0.55, 1, 2), 0)
    dmonths = np.where(has_deemed, _u(rng, 12, 180, n), 0)
    u = r()
    dregion = np.where(has_deemed, np.where(u < 0.82, county, np.where(u < 0.92, other, 0)), 0)
    dm_text_zero = (~has_deemed) & (r() < 0.10)

    # benefit place
    place = benefit_province_vec(
        hukou_prov,
        s_code // 10000,
        s_start,
        s_end,
        s_rel,
        s_on,
        np.where(dregion > 0, dregion // 10000, 0),
        np.where(dstat == 1, dmonths, 0),
    )
    place = np.where(ins110, place, NINGXIA)
    u = r()
    city_of_office = np.where(office == 640900, 640100, (office // 100) * 100)
    city_of_office = np.where(office == 640000, 640000, city_of_office)
    ministry = np.where(
        place == NINGXIA,
        np.where(u < 0.3, 640000, np.where(u < 0.6, city_of_office, office)),
        np.where(u < 0.6, place * 10000, np.where(hukou_prov == place, hukou, place * 10000 + 100)),
    )
    u = r()
    mismatch = (hk != 2) & (u < 0.03)
    wrong = np.where(place == NINGXIA, np.where(r() < 0.5, 620000, 610000), 640000)
    ministry = np.where(mismatch, wrong, ministry)
    ministry = np.where((u >= 0.03) & (u < 0.06), 0, ministry)

    # employer
    has_emp_post = ins110 & ((ptype == 1) | (ptype == 2))
    u = r()
    emp_mode = np.where(
        has_emp_post,
        np.where(u < 0.90, 3, np.where(u < 0.93, 2, np.where(u < 0.95, 1, 0))),
        np.where(ins110 & (u < 0.10), 3, 0),
    )  # 3 both, 2 name only, 1 code only
    emp = rng.choice(len(ctx.emp_weight), size=n, p=ctx.emp_weight)
    emp_uscc = np.where((emp_mode == 3) | (emp_mode == 1), ctx.emp_uscc[emp], "")
    emp_name = np.where((emp_mode == 3) | (emp_mode == 2), ctx.emp_name[emp], "")

    # names
    sur = rng.choice(len(SURNAMES), size=n, p=_SURNAME_WEIGHTS / _SURNAME_WEIGHTS.sum())
    g1 = rng.integers(0, len(GIVEN), n)
    g2 = rng.integers(0, len(GIVEN), n)
    two = r() < 0.7
    sur_a = np.array(list(SURNAMES))
    giv_a = np.array(list(GIVEN))
    name = np.strings.add(np.strings.add(sur_a[sur], giv_a[g1]), np.where(two, giv_a[g2], ""))

    # phones
    pre = np.array(MOBILE_PREFIXES)[rng.integers(0, len(MOBILE_PREFIXES), n)]
    body = rng.integers(0, 100_000_000, n)
    mobile = np.strings.add(pre, np.strings.zfill(body.astype("U8"), 8))
    pk = rng.choice(5, size=n, p=[0.80, 0.08, 0.04, 0.03, 0.05])
    phone = np.where(pk == 0, mobile, "").astype(object)
    fmt_kind = rng.integers(0, 5, n)
    area = np.array(AREA_CODES)[rng.integers(0, 5, n)]
    for i in np.flatnonzero(pk == 1):
        mb = mobile[i]
        k = fmt_kind[i]
        phone[i] = (
            f"{mb[:3]} {mb[3:7]} {mb[7:]}",
            f"{mb[:3]}-{mb[3:7]}-{mb[7:]}",
            "+86" + mb,
            "0086" + mb,
            mb.translate(_FULLWIDTH),
        )[k]
    for i in np.flatnonzero(pk == 2):
        phone[i] = f"{area[i]}-{6000000 + body[i] % 4000000}"
    for i in np.flatnonzero(pk == 3):
        mb = mobile[i]
        phone[i] = ("12" + mb[2:], mb[:10], mb + "8", "10" + mb[2:], mb[:6] + "-" + mb[6:9])[fmt_kind[i]]
    arrears = np.where(r() < 0.05, _u(rng, 1, 36, n), 0)

    # ------------------------------------------------------------------ render persons
    def txt(a, empty_mask=None):
        s = _s(a)
        if empty_mask is not None:
            for i in np.flatnonzero(empty_mask):
                s[i] = ""
        return s

    id_list = id_no.tolist()
    cols = {
        "op": [""] * n,
        "id_no": id_list,
        "name": name.tolist(),
        "gender": txt(gender),
        "birth_date": txt(by * 10000 + bm * 100 + bday),
        "insurance_type": txt(np.where(ins110, 110, 170)),
        "person_type": txt(ptype, ptype == 0),
        "hukou_region": txt(hukou, hukou == 0),
        "insured_region": txt(office),
        "benefit_region_ministry": txt(ministry, ministry == 0),
        "employer_uscc": emp_uscc.tolist(),
        "employer_name": emp_name.tolist(),
        "phone": phone.tolist(),
        "contribution_status": txt(cstat),
        "retired": txt(retired.astype(np.int64)),
        "survival_status": txt(survival),
        "actual_contribution_months": txt(act),
        "deemed_months": txt(dmonths, ~has_deemed & ~dm_text_zero),
        "deemed_status": txt(dstat),
        "deemed_region": txt(dregion, dregion == 0),
        "arrears_months": txt(arrears),
    }
    # segments in chronological order per person
    key = np.where(s_on, s_start * 8 + np.arange(S6)[None, :], np.iinfo(np.int64).max)
    order = np.argsort(key, axis=1, kind="stable")
    take = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
    on_o = take(s_on)
    owner = np.repeat(np.arange(n), S6).reshape(n, S6)[on_o]
    segs = {
        "owner": owner,
        "region_code": _s(take(s_code)[on_o]),
        "start_month": _s(_yyyymm(take(s_start)[on_o])),
        "end_month": _s(_yyyymm(take(s_end)[on_o])),
        "relation_status": _s(take(s_rel)[on_o]),
    }
    return {"persons": cols, "segments": segs, "n": n, "place": place}


# --------------------------------------------------------------------------------------
# Bad rows
# --------------------------------------------------------------------------------------

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


def _orphan_id(rng: np.random.Generator) -> str:
    y = int(rng.integers(1960, 1980))
    first17 = f"640104{y}{int(rng.integers(1, 13)):02d}{int(rng.integers(1, 29)):02d}{990 + int(rng.integers(0, 10))}"
    return first17 + id_check_char(first17)


def _break_persons(cols: dict, rate: float, rng: np.random.Generator) -> set[int]:
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


def _break_segments(cols: dict, rate: float, rng: np.random.Generator) -> set[int]:
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
            cols["id_no"][i] = _orphan_id(rng)
    return set(picked.tolist())


# --------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------


class _TableWriter:
    """Writes one data file chunk by chunk (CSV or Parquet) and hashes its bytes."""

    def __init__(self, path: Path, columns: tuple[str, ...], fmt: str, encoding: str, bom: bool):
        self.path, self.columns, self.fmt = path, columns, fmt
        self.codec = "gb18030" if encoding == "GB18030" else "utf-8"
        self.rows = 0
        self.sha = hashlib.sha256()
        if fmt == "csv":
            self.fh = open(path, "wb")
            head = (",".join(columns) + "\n").encode(self.codec)
            if bom:
                head = b"\xef\xbb\xbf" + head
            self._out(head)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            self.schema = pa.schema([(c, pa.string()) for c in columns])
            self.pw = pq.ParquetWriter(path, self.schema, compression="zstd")

    def _out(self, data: bytes) -> None:
        self.fh.write(data)
        self.sha.update(data)

    def write(self, cols: dict[str, list[str]]) -> None:
        n = len(cols[self.columns[1]])
        if n == 0:
            return
        self.rows += n
        if self.fmt == "csv":
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(zip(*(cols[c] for c in self.columns)))
            self._out(buf.getvalue().encode(self.codec))
        else:
            import pyarrow as pa

            self.pw.write_table(pa.table({c: pa.array(cols[c], pa.string()) for c in self.columns}, schema=self.schema))

    def close(self) -> dict:
        if self.fmt == "csv":
            self.fh.close()
        else:
            self.pw.close()
            with open(self.path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    self.sha.update(block)
        return {"rows": self.rows, "sha256": self.sha.hexdigest()}


def _seg_cols_with_ids(draw: dict, person_ids: list[str]) -> dict[str, list[str]]:
    s = draw["segments"]
    return {
        "id_no": [person_ids[o] for o in s["owner"].tolist()],
        "region_code": s["region_code"],
        "start_month": s["start_month"],
        "end_month": s["end_month"],
        "relation_status": s["relation_status"],
    }


def _generated_at(month: str, seq: int) -> str:
    return f"{month}-02T03:{seq % 60:02d}:00+08:00"


def _prepare_dir(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in ("manifest.json", "persons.csv", "persons.parquet", "segments.csv", "segments.parquet"):
        p = out / name
        if p.exists():
            p.unlink()


def _write_manifest(out: Path, manifest: dict) -> None:
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------
# Public: one batch
# --------------------------------------------------------------------------------------


def generate_batch(
    out_dir,
    *,
    persons: int = 0,
    month: str,
    seed: int = 1,
    encoding: str = "UTF-8",
    fmt: str = "csv",
    bad_rows: float = 0.0,
    incr_from=None,
    changes: int = 0,
    seq: int | None = None,
    batch_id: str | None = None,
    bom: bool = False,
    progress=None,
) -> dict:
    """Write one push batch folder (push-format.md) and return its manifest.

    FULL (``incr_from`` None): ``persons`` synthetic persons for data month ``month``
    (``YYYY-MM``), seq ``seq`` (default 1). INCR (``incr_from`` = a previous batch
    folder): ``changes`` changed persons on top of it, seq = previous seq + 1 unless
    given, base_seq = previous seq (``persons`` is ignored). ``encoding`` UTF-8 or
    GB18030 (CSV only), ``bom`` a UTF-8 BOM on the CSV files, ``fmt`` csv or parquet
    (text columns). ``bad_rows`` the share of rows that break the contract.
    ``progress`` an optional callable ``(done, total)`` called after each chunk.
    """
    P = _parse_month_arg(month)
    if encoding not in ("UTF-8", "GB18030"):
        raise ValueError(f"encoding must be UTF-8 or GB18030, got {encoding!r}")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be csv or parquet, got {fmt!r}")
    if bom and encoding != "UTF-8":
        raise ValueError("a BOM is only allowed with UTF-8")
    if not 0.0 <= bad_rows <= 1.0:
        raise ValueError("bad_rows is a share between 0 and 1")
    if persons < 0 or changes < 0:
        raise ValueError("persons and changes must be ≥ 0")
    out = Path(out_dir)
    if incr_from is not None:
        return _generate_incr(
            out,
            Path(incr_from),
            P=P,
            month=month,
            seed=seed,
            encoding=encoding,
            fmt=fmt,
            bad_rows=bad_rows,
            changes=changes,
            seq=seq,
            batch_id=batch_id,
            bom=bom,
        )
    seq = 1 if seq is None else int(seq)
    if seq < 1:
        raise ValueError("seq must be ≥ 1")
    _prepare_dir(out)
    ctx = _new_ctx(P, seed)
    pw = _TableWriter(out / f"persons.{fmt}", PERSON_COLUMNS, fmt, encoding, bom)
    sw = _TableWriter(out / f"segments.{fmt}", SEGMENT_COLUMNS, fmt, encoding, bom)
    done = 0
    chunk_no = 0
    while done < persons:
        n = min(CHUNK, persons - done)
        draw = _draw(ctx, np.random.default_rng([seed, 0, chunk_no]), n)
        brng = np.random.default_rng([seed, 1, chunk_no])
        pcols = draw["persons"]
        _break_persons(pcols, bad_rows, brng)
        scols = _seg_cols_with_ids(draw, pcols["id_no"])
        _break_segments(scols, bad_rows, brng)
        pw.write(pcols)
        sw.write(scols)
        done += n
        chunk_no += 1
        if progress:
            progress(done, persons)
    files = {f"persons.{fmt}": pw.close(), f"segments.{fmt}": sw.close()}
    manifest = {
        "batch_id": batch_id or f"NX640000-{month.replace('-', '')}-FULL-{seq:04d}",
        "province": "640000",
        "push_type": "FULL",
        "data_month": month,
        "seq": seq,
        "base_seq": None,
        "generated_at": _generated_at(month, seq),
        "schema_version": "1.0",
        "encoding": encoding,
        "files": files,
    }
    _write_manifest(out, manifest)
    return manifest


# --------------------------------------------------------------------------------------
# Reading a previous batch (streaming)
# --------------------------------------------------------------------------------------


def _read_manifest(batch_dir: Path) -> dict:
    return json.loads((batch_dir / "manifest.json").read_text(encoding="utf-8-sig"))


def _data_file(batch_dir: Path, manifest: dict, kind: str) -> Path:
    for name in manifest.get("files", {}):
        if name.startswith(kind + "."):
            return batch_dir / name
    raise FileNotFoundError(f"{batch_dir}: manifest names no {kind} file")


def _record_batches(batch_dir, kind: str, batch_rows: int = 65_536):
    """Stream a batch's persons or segments file as pyarrow RecordBatches of text columns,
    in contract order (missing columns empty, nulls as ''); CSV (UTF-8 with or without BOM,
    GB18030) or Parquet (text or typed columns)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    batch_dir = Path(batch_dir)
    manifest = _read_manifest(batch_dir)
    path = _data_file(batch_dir, manifest, kind)
    columns = PERSON_COLUMNS if kind == "persons" else SEGMENT_COLUMNS
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        source = pq.ParquetFile(path).iter_batches(batch_size=batch_rows)
    else:
        import pyarrow.csv as pacsv

        codec = "gb18030" if manifest.get("encoding") == "GB18030" else "utf8"  # Arrow skips a UTF-8 BOM
        source = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=codec, block_size=1 << 22, use_threads=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    for rb in source:
        names = rb.schema.names
        arrays = []
        for c in columns:
            if c in names:
                arr = rb.column(names.index(c))
                if arr.type != pa.string():
                    arr = arr.cast(pa.string())
                arrays.append(pc.fill_null(arr, ""))
            else:
                arrays.append(pa.array([""] * rb.num_rows, pa.string()))
        yield pa.RecordBatch.from_arrays(arrays, names=list(columns))


def iter_batch_rows(batch_dir, kind: str, batch_rows: int = 65_536) -> Iterator[dict[str, list[str]]]:
    """Stream a batch's persons or segments file as column dicts of text (CSV or Parquet)."""
    for rb in _record_batches(batch_dir, kind, batch_rows):
        yield {name: rb.column(i).to_pylist() for i, name in enumerate(rb.schema.names)}


def _collect_rows(batches, wanted: np.ndarray, extra_keys=()) -> tuple[dict[int, dict], dict[str, int]]:
    """Rows at the global positions ``wanted`` (one streaming pass), and how often each of
    their (trimmed, upper-cased) id_no, and each of ``extra_keys``, occurs in the whole file."""
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = np.sort(np.asarray(wanted, dtype=np.int64))
    rows: dict[int, dict] = {}
    ids = []
    offset = 0
    for rb in batches:
        m = rb.num_rows
        ids.append(pc.utf8_upper(pc.utf8_trim_whitespace(rb.column(rb.schema.names.index("id_no")))))
        lo, hi = np.searchsorted(wanted, [offset, offset + m])
        if hi > lo:
            local = wanted[lo:hi] - offset
            for pos, row in zip(wanted[lo:hi].tolist(), rb.take(pa.array(local)).to_pylist()):
                rows[pos] = row
        offset += m
    keys = sorted({r["id_no"].strip().upper() for r in rows.values()} | set(extra_keys))
    counts: dict[str, int] = {}
    if keys and ids:
        all_ids = pa.chunked_array(ids, pa.string())
        vc = pc.value_counts(pc.filter(all_ids, pc.is_in(all_ids, pa.array(keys, pa.string()))))
        counts = {d["values"]: d["counts"] for d in vc.to_pylist()}
    return rows, counts


# --------------------------------------------------------------------------------------
# INCR
# --------------------------------------------------------------------------------------

_U_CHANGES = ("contribution", "phone", "deemed", "suspend", "office", "hukou", "deceased", "retired", "ministry")
_U_WEIGHTS = (25, 15, 15, 10, 8, 7, 5, 5, 10)


def _mi_of(yyyymm: str) -> int:
    return _mi(int(yyyymm[:4]), int(yyyymm[4:6]))


def _change_person(row: dict, segs: list[dict], rng: np.random.Generator, P: int) -> tuple[dict, list[dict]]:
    row = dict(row, op="U")
    segs = [dict(s) for s in segs]
    kind = _U_CHANGES[rng.choice(len(_U_CHANGES), p=np.array(_U_WEIGHTS) / sum(_U_WEIGHTS))]
    if kind == "deemed" and row["deemed_status"] != "2":
        kind = "contribution"
    if kind == "suspend" and row["contribution_status"] != "1":
        kind = "contribution"
    if kind == "contribution":
        row["actual_contribution_months"] = str(int(row["actual_contribution_months"]) + int(rng.integers(1, 4)))
    elif kind == "phone":
        pre = MOBILE_PREFIXES[int(rng.integers(0, len(MOBILE_PREFIXES)))]
        row["phone"] = f"{pre}{int(rng.integers(0, 100_000_000)):08d}"
    elif kind == "deemed":
        row["deemed_status"] = "1"
    elif kind == "suspend":
        row["contribution_status"] = "2"
    elif kind == "office":
        codes = [c for c, _ in OFFICES if str(c) != row["insured_region"]]
        row["insured_region"] = str(codes[int(rng.integers(0, len(codes)))])
    elif kind == "hukou":
        row["hukou_region"] = str(NX_COUNTIES[int(rng.integers(0, len(NX_COUNTIES)))])
    elif kind == "deceased":
        row["survival_status"] = "2"
    elif kind == "retired":
        row["retired"] = "1"
    elif kind == "ministry":
        row["benefit_region_ministry"] = "" if row["benefit_region_ministry"] else "640000"
    if rng.random() < 0.25:  # one more segment
        starts = [_mi_of(s["start_month"]) for s in segs]
        ends = [_mi_of(s["end_month"]) for s in segs]
        bd = row["birth_date"]
        floor_mi = _mi(int(bd[:4]), int(bd[4:6])) + 192
        last = max(ends) if ends else None
        if last is not None and last < P - 2:
            s0, e0, region, rel = last + 1, P - 1, row["insured_region"], "1"
            if region in ("640000", "640900") or region.endswith("00"):
                region = "640104"
            row["contribution_status"] = "1"
        else:
            first = min(starts) if starts else P - 1
            length = int(rng.integers(12, 61))
            e0 = first - 1 - int(rng.integers(0, 13))
            s0 = max(e0 - length + 1, floor_mi)
            region = str(OTHER_CODES[int(rng.integers(0, len(OTHER_CODES)))][0])
            rel = "2"
        if e0 >= s0:
            new = {
                "id_no": row["id_no"],
                "region_code": region,
                "start_month": f"{s0 // 12}{s0 % 12 + 1:02d}",
                "end_month": f"{e0 // 12}{e0 % 12 + 1:02d}",
                "relation_status": rel,
            }
            segs.append(new)
            segs.sort(key=lambda s: s["start_month"])
            row["actual_contribution_months"] = str(int(row["actual_contribution_months"]) + e0 - s0 + 1)
    return row, segs


def _generate_incr(
    out: Path, prev: Path, *, P, month, seed, encoding, fmt, bad_rows, changes, seq, batch_id, bom
) -> dict:
    prev_man = _read_manifest(prev)
    prev_seq = int(prev_man["seq"])
    seq = prev_seq + 1 if seq is None else int(seq)
    prev_push = prev_man.get("push_type", "FULL")
    n_prev = int(prev_man["files"][_data_file(prev, prev_man, "persons").name]["rows"])
    rng = np.random.default_rng([seed, 2, seq])
    n_d = int(round(changes * 0.10))
    n_i = int(round(changes * 0.15))
    n_u = changes - n_d - n_i
    want = n_u + n_d
    sample = (
        rng.choice(n_prev, size=min(n_prev, 3 * want + 20), replace=False) if n_prev and want else np.array([], int)
    )
    rank = {int(x): k for k, x in enumerate(sample.tolist())}

    # pass 1: the sampled rows, and how often their id_no occurs (duplicates are quarantined)
    picked, counts = _collect_rows(_record_batches(prev, "persons"), sample)
    chosen = []
    for idx in sorted(picked, key=lambda x: rank[x]):
        row = picked[idx]
        key = row["id_no"].strip().upper()
        if row["op"].strip() == "D" or counts.get(key, 0) != 1:
            continue
        if check_person_row(row, prev_push) is not None:
            continue
        chosen.append(row)
        if len(chosen) == want:
            break
    u_rows = chosen[:n_u]
    d_rows = chosen[n_u:]
    n_i += want - len(chosen)  # not enough valid rows: more inserts

    # pass 2: the segments of the updated persons
    u_keys = {r["id_no"].strip().upper() for r in u_rows}
    segs_of: dict[str, list[dict]] = {k: [] for k in u_keys}
    if u_keys:
        import pyarrow as pa
        import pyarrow.compute as pc

        keys = pa.array(sorted(u_keys), pa.string())
        for rb in _record_batches(prev, "segments"):
            up = pc.utf8_upper(pc.utf8_trim_whitespace(rb.column(0)))
            for seg in rb.filter(pc.is_in(up, keys)).to_pylist():
                if check_segment_row(seg) is None:
                    segs_of[seg["id_no"].strip().upper()].append(seg)

    out_p: list[dict] = []
    out_s: list[list[dict]] = []
    crng = np.random.default_rng([seed, 3, seq])
    for row in u_rows:
        new, segs = _change_person(row, segs_of[row["id_no"].strip().upper()], crng, P)
        out_p.append(new)
        out_s.append(segs)
    for row in d_rows:
        out_p.append({c: "" for c in PERSON_COLUMNS} | {"op": "D", "id_no": row["id_no"]})
        out_s.append([])
    if n_i:
        ctx = _new_ctx(P, seed)
        ctx.code_base, ctx.code_span, ctx.code_shift = 900, 45, seq
        draw = _draw(ctx, np.random.default_rng([seed, 4, seq]), n_i)
        pcols = draw["persons"]
        scols = _seg_cols_with_ids(draw, pcols["id_no"])
        owner = draw["segments"]["owner"].tolist()
        per: list[list[dict]] = [[] for _ in range(n_i)]
        for j, o in enumerate(owner):
            per[o].append({c: scols[c][j] for c in SEGMENT_COLUMNS})
        for i in range(n_i):
            out_p.append({c: pcols[c][i] for c in PERSON_COLUMNS} | {"op": "I"})
            out_s.append(per[i])
    order = np.random.default_rng([seed, 5, seq]).permutation(len(out_p)).tolist()
    pcols = {c: [out_p[i][c] for i in order] for c in PERSON_COLUMNS}
    seg_rows = [s for i in order for s in out_s[i]]
    scols = {c: [s[c] for s in seg_rows] for c in SEGMENT_COLUMNS}
    brng = np.random.default_rng([seed, 6, seq])
    _break_persons(pcols, bad_rows, brng)
    _break_segments(scols, bad_rows, brng)

    _prepare_dir(out)
    pw = _TableWriter(out / f"persons.{fmt}", PERSON_COLUMNS, fmt, encoding, bom)
    sw = _TableWriter(out / f"segments.{fmt}", SEGMENT_COLUMNS, fmt, encoding, bom)
    pw.write(pcols)
    sw.write(scols)
    files = {f"persons.{fmt}": pw.close(), f"segments.{fmt}": sw.close()}
    manifest = {
        "batch_id": batch_id or f"NX640000-{month.replace('-', '')}-INCR-{seq:04d}",
        "province": "640000",
        "push_type": "INCR",
        "data_month": month,
        "seq": seq,
        "base_seq": prev_seq,
        "generated_at": _generated_at(month, seq),
        "schema_version": "1.0",
        "encoding": encoding,
        "files": files,
    }
    _write_manifest(out, manifest)
    return manifest


# --------------------------------------------------------------------------------------
# Applications
# --------------------------------------------------------------------------------------


def _population_batches(args: dict):
    """The persons of ``generate_batch(persons=N, month=M, seed=S)`` without bad rows, as RecordBatches."""
    import pyarrow as pa

    P = _parse_month_arg(args["month"])
    seed = int(args.get("seed", 1))
    ctx = _new_ctx(P, seed)
    total, done, chunk_no = int(args["persons"]), 0, 0
    while done < total:
        n = min(CHUNK, total - done)
        cols = _draw(ctx, np.random.default_rng([seed, 0, chunk_no]), n)["persons"]
        yield pa.RecordBatch.from_arrays(
            [pa.array(cols[c], pa.string()) for c in PERSON_COLUMNS], names=list(PERSON_COLUMNS)
        )
        done += n
        chunk_no += 1


_APP_BUCKETS = (("near", 1, 0.55), ("scope", 2, 0.25), ("past", 3, 0.10), ("far", 4, 0.05))


def _application_buckets(rb, P: int) -> np.ndarray:
    """Per persons row: 1 original age in 13..24 months, 2 in 0..12, 3 past and not suspended,
    4 in 25..36 months, 0 otherwise (or deleted, deceased, retired, unreadable birth date)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = rb.schema.names

    def col(c):
        return np.asarray(
            pc.utf8_trim_whitespace(rb.column(names.index(c))).to_numpy(zero_copy_only=False), dtype=object
        )

    bd = pc.utf8_trim_whitespace(rb.column(names.index("birth_date")))
    ok = pc.fill_null(pc.match_substring_regex(bd, r"^[0-9]{4}(0[1-9]|1[0-2])[0-9]{2}$"), False)
    bd = pc.if_else(ok, bd, "19000101")
    y = pc.cast(pc.utf8_slice_codeunits(bd, 0, 4), pa.int64()).to_numpy()
    m = pc.cast(pc.utf8_slice_codeunits(bd, 4, 6), pa.int64()).to_numpy()
    pt = col("person_type")
    age = np.where(
        (col("insurance_type") == "170") | (col("gender") == "1"), 60, np.where((pt == "2") | (pt == "3"), 55, 50)
    )
    d = y * 12 + m - 1 + 12 * age - P
    alive = (
        ok.to_numpy(zero_copy_only=False)
        & (col("survival_status") != "2")
        & (col("retired") != "1")
        & (col("op") != "D")
    )
    susp = col("contribution_status") == "2"
    return np.select(
        [~alive, (d >= 13) & (d <= 24), (d >= 0) & (d <= 12), (d < 0) & ~susp, (d >= 25) & (d <= 36)],
        [0, 1, 2, 3, 4],
        0,
    ).astype(np.int8)


def write_applications(path, source, month: str, seed: int = 1, n: int = 100) -> int:
    """Write an applications CSV (push-format.md "Applications"); returns the rows written.

    ``source``: a batch folder (its persons file is streamed twice), or a dict
    ``{"persons": N, "month": "YYYY-MM", "seed": S}`` (the population of that FULL,
    regenerated in memory: without bad rows it gives the same file as the batch folder
    when the chosen rows are all valid). Of the ``n`` applications: 55 % persons 13–24
    months before their original age (not otherwise in scope), 25 % 0–12 months before,
    10 % past the original age and not suspended, 5 % 25–36 months before (beyond the
    application horizon: the pipeline must not take them in), the rest (5 %) valid ID
    numbers that are not in the push. Only valid, unduplicated, alive, not retired persons
    rows are used. ``applied_on`` falls in the month before ``month``; ``channel`` online
    (60 %) or counter; ``county_code`` the person's office (online, and 85 % of counter)
    or another office; ``applicant_type`` 1 employer (half of those with an employer),
    2 self, 3 agent. Rows are sorted by ``applied_on``, then ``id_no``; UTF-8, no BOM.
    """
    P = _parse_month_arg(month)
    rng = np.random.default_rng([seed, 7, P])
    if isinstance(source, dict):
        batches = lambda: _population_batches(source)  # noqa: E731
        push_type = "FULL"
    else:
        batches = lambda: _record_batches(source, "persons")  # noqa: E731
        push_type = _read_manifest(Path(source)).get("push_type", "FULL")
    bucket = np.concatenate([_application_buckets(rb, P) for rb in batches()] or [np.zeros(0, np.int8)])
    plan = []
    for name, code, share in _APP_BUCKETS:
        k = int(round(n * share))
        cand = np.flatnonzero(bucket == code)
        order = rng.choice(len(cand), size=min(len(cand), 3 * k + 10), replace=False) if k and len(cand) else []
        plan.append((k, cand[np.asarray(order, dtype=np.int64)]))
    orphans = [_orphan_id(rng) for _ in range(n)]
    wanted = np.concatenate([pos for _, pos in plan] or [np.zeros(0, np.int64)])
    rows, counts = _collect_rows(batches(), wanted, extra_keys=[o.upper() for o in orphans])
    picked: list[tuple[str, str, bool]] = []
    for k, positions in plan:
        got = 0
        for pos in positions.tolist():
            if got == k or len(picked) == n:
                break
            row = rows[pos]
            if counts.get(row["id_no"].strip().upper(), 0) != 1 or check_person_row(row, push_type):
                continue
            has_emp = bool(row["employer_uscc"].strip() or row["employer_name"].strip())
            picked.append((row["id_no"], row["insured_region"].strip(), has_emp))
            got += 1
    for oid in orphans:  # ID numbers not in the push
        if len(picked) == n:
            break
        if counts.get(oid.upper(), 0) == 0 and oid not in {p[0] for p in picked}:
            picked.append((oid, str(OFFICES[int(rng.integers(0, len(OFFICES)))][0]), False))
    prev = P - 1
    y, m = prev // 12, prev % 12 + 1
    days = int(_dim(np.array([y]), np.array([m]))[0])
    office_codes = [str(c) for c, _ in OFFICES]
    out_rows = []
    for id_no, office, has_emp in picked:
        u = rng.random()
        atype = "1" if has_emp and u < 0.5 else ("2" if u < 0.85 else "3")
        channel = "online" if rng.random() < 0.6 else "counter"
        county = office
        if channel == "counter" and rng.random() < 0.15:
            county = office_codes[int(rng.integers(0, len(office_codes)))]
        day = int(rng.integers(1, days + 1))
        out_rows.append((id_no, atype, f"{y:04d}{m:02d}{day:02d}", channel, county))
    out_rows.sort(key=lambda r: (r[2], r[0]))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(APPLICATION_COLUMNS)
        w.writerows(out_rows)
    return len(out_rows)


# --------------------------------------------------------------------------------------
# Command line: retire-prep sample
# --------------------------------------------------------------------------------------


def add_sample_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``retire-prep sample`` (see :func:`cli_sample`)."""
    parser.add_argument("--persons", type=int, default=None, help="persons in a FULL batch")
    parser.add_argument("--month", required=True, help="data month YYYY-MM")
    parser.add_argument("--out", required=True, help="the batch folder to write")
    parser.add_argument("--incr-from", default=None, help="previous batch folder: write an INCR on top of it")
    parser.add_argument("--changes", type=int, default=None, help="INCR: changed persons (default 100)")
    parser.add_argument("--encoding", choices=("UTF-8", "GB18030"), default="UTF-8")
    parser.add_argument("--format", dest="fmt", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--bad-rows", type=float, default=0.0, help="share of rows that break the contract")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seq", type=int, default=None, help="batch seq (FULL default 1; INCR previous + 1)")
    parser.add_argument("--batch-id", default=None)
    return parser


def run_sample(args: argparse.Namespace) -> int:
    """Run ``retire-prep sample`` from parsed arguments; prints a one-line summary."""
    if args.incr_from is None and args.persons is None:
        raise ValueError("--persons is required for a FULL batch (or give --incr-from)")
    if args.incr_from is not None and args.persons is not None:
        raise ValueError("--persons does not apply to an INCR: use --changes")
    if args.incr_from is None and args.changes is not None:
        raise ValueError("--changes needs --incr-from")
    total = args.persons or 0
    show = sys.stderr.isatty() and total >= 5 * CHUNK

    def progress(done, total):
        if show:
            print(f"\rsample: {done:,}/{total:,} persons", end="", file=sys.stderr, flush=True)

    man = generate_batch(
        args.out,
        persons=total,
        month=args.month,
        seed=args.seed,
        encoding=args.encoding,
        fmt=args.fmt,
        bad_rows=args.bad_rows,
        incr_from=args.incr_from,
        changes=100 if args.changes is None else args.changes,
        seq=args.seq,
        batch_id=args.batch_id,
        progress=progress,
    )
    if show:
        print(file=sys.stderr)
    rows = ", ".join(f"{k} {v['rows']} rows" for k, v in man["files"].items())
    print(f"{man['push_type']} batch {man['batch_id']} seq {man['seq']} → {args.out}: {rows}")
    return 0


def cli_sample(argv: list[str] | None = None) -> int:
    """``retire-prep sample --persons N --month YYYY-MM --out DIR [--incr-from DIR --changes K]
    [--encoding UTF-8|GB18030] [--format csv|parquet] [--bad-rows R] [--seed S]``."""
    parser = add_sample_arguments(
        argparse.ArgumentParser(
            prog="retire-prep sample", description="Write a synthetic push batch (generated data only)."
        )
    )
    args = parser.parse_args(argv)
    try:
        return run_sample(args)
    except (ValueError, OSError, KeyError) as exc:
        print(f"retire-prep sample: {exc}", file=sys.stderr)
        return 2


main_sample = cli_sample

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(cli_sample(sys.argv[1:]))
