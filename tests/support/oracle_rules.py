"""An independent oracle of rules.md sections 1-4, written from the spec only.

Pure Python, no project imports.  A person is the push's row (a dict of strings as in
persons.csv), segments are dicts as in segments.csv.  Months are indexes ``Y*12 + (M-1)``.

Settings (data/settings.toml defaults): flexible women 55, benefit start offset 1,
application and screening horizons 24.  Decisions taken from docs/decisions.md where the spec
is silent are marked [decisions.md].
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata

FLEX_WOMEN_AGE = 55
BENEFIT_OFFSET = 1
APPLICATION_HORIZON = 24
SCREENING_HORIZON = 24
NX = "64"

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def mi(y: int, m: int) -> int:
    return y * 12 + (m - 1)


def parse_month(s: str) -> int:
    """'YYYY-MM' or 'YYYYMM' -> month index."""
    s = s.replace("-", "")
    return mi(int(s[:4]), int(s[4:6]))


def fmt_month(i: int | None) -> str | None:
    return None if i is None else f"{i // 12:04d}-{i % 12 + 1:02d}"


def _blank(v) -> bool:
    return v is None or str(v).strip() == ""


def _int(v, default=0) -> int:
    return default if _blank(v) else int(str(v))


def prov(code) -> str | None:
    return None if _blank(code) else str(code)[:2]


# ------------------------------------------------------------------ section 1: ages


def original_age(p: dict) -> int:
    if str(p["insurance_type"]) == "170":
        return 60
    if str(p["gender"]) == "1":
        return 60
    pt = str(p.get("person_type") or "")
    if pt == "2":
        return 55
    if pt == "3":
        return FLEX_WOMEN_AGE
    return 50  # worker post, or empty person_type: the earliest


def delay_months(p: dict, birth: int) -> int:
    if str(p["insurance_type"]) != "110":
        return 0
    age = original_age(p)
    if str(p["gender"]) == "1":
        first, step, cap = mi(1965, 1), 4, 36
    elif age == 55:
        first, step, cap = mi(1970, 1), 4, 36
    else:
        first, step, cap = mi(1975, 1), 2, 60
    k = birth - first
    return 0 if k < 0 else min(cap, k // step + 1)


def min_contribution(year: int, insurance_type: str) -> int:
    if str(insurance_type) == "170":
        return 180
    if year < 2030:
        return 180
    if year >= 2039:
        return 240
    return 180 + 6 * (year - 2029)


def birth_mi(p: dict) -> int:
    b = str(p["birth_date"])
    return mi(int(b[:4]), int(b[4:6]))


def ages(p: dict) -> dict:
    b = birth_mi(p)
    o = b + 12 * original_age(p)
    d = delay_months(p, b)
    s = o + d
    is110 = str(p["insurance_type"]) == "110"
    return {
        "birth_mi": b,
        "original_age_mi": o,
        "delay_months": d,
        "statutory_age_mi": s,
        "benefit_start_mi": s + BENEFIT_OFFSET,
        "flexible_earliest_mi": max(o, s - 36) if is110 else None,
        "flexible_latest_mi": s + 36 if is110 else None,
        "min_contribution_months": min_contribution(s // 12, p["insurance_type"]),
    }


def counted_months(p: dict) -> int:
    deemed = _int(p.get("deemed_months")) if str(p.get("deemed_status")) == "1" else 0
    return _int(p["actual_contribution_months"]) + deemed


# ------------------------------------------------------------------ section 2: benefit place


def _seg_range(s: dict) -> tuple[int, int]:
    return parse_month(str(s["start_month"])), parse_month(str(s["end_month"]))


def benefit_province(p: dict, segs: list[dict]) -> tuple[str, str]:
    """(province 2 digits, which rule) for 110; residents claim where insured."""
    return benefit_place(p, segs)[:2]


def benefit_place(p: dict, segs: list[dict]) -> tuple[str, str, dict]:
    """(province 2 digits, which rule, acc months per province) for 110; residents claim where insured."""
    if str(p["insurance_type"]) == "170":
        return prov(p["insured_region"]), "resident", {}
    h = prov(p.get("hukou_region")) or prov(p.get("benefit_region_ministry")) or NX
    months: dict[str, set] = {}
    latest_end: dict[str, int] = {}
    nontemp = [s for s in segs if str(s["relation_status"]) in ("1", "2")]
    for s in nontemp:
        a, e = _seg_range(s)
        pr = prov(s["region_code"])
        months.setdefault(pr, set()).update(range(a, e + 1))
        latest_end[pr] = max(latest_end.get(pr, -1), e)
    acc = {pr: len(ms) for pr, ms in months.items()}
    if str(p.get("deemed_status")) == "1" and _int(p.get("deemed_months")) > 0 and not _blank(p.get("deemed_region")):
        dp = prov(p["deemed_region"])
        acc[dp] = acc.get(dp, 0) + _int(p["deemed_months"])
    if not any(v > 0 for v in acc.values()):
        return h, "household:no-months", acc
    c = None
    if nontemp:
        end = max(latest_end.values())
        tied = sorted(pr for pr, e in latest_end.items() if e == end)
        ins = prov(p["insured_region"])
        c = ins if ins in tied else tied[0]
        if c == h:
            return c, "1", acc
        if acc.get(c, 0) >= 120:
            return c, "2", acc
    others = [pr for pr, v in acc.items() if v >= 120 and pr != c]
    if others:
        # latest non-temporary segment ends latest; deemed-only = earliest; ties lower code
        best = sorted(others, key=lambda pr: (-latest_end.get(pr, -(10**9)), pr))[0]
        return best, "3", acc
    return h, "4", acc


# ------------------------------------------------------------------ section 4: flags

_MOBILE = re.compile(r"1[3-9][0-9]{9}", re.ASCII)


def normalise_phone(raw) -> str | None:
    if raw is None:
        return None
    s = unicodedata.normalize("NFKC", str(raw))
    s = s.replace(" ", "").replace("-", "").replace("\u2010", "")  # [decisions.md] space and hyphens
    if s.startswith("+86"):
        s = s[3:]
    elif s.startswith("0086"):
        s = s[4:]
    return s if _MOBILE.fullmatch(s) else None


def id_birth(id_no: str) -> str:
    return id_no[6:14]


def id_gender(id_no: str) -> str:
    return "1" if int(id_no[16]) % 2 == 1 else "2"


def id_check_char(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS)) % 11]


def key_info_missing(p: dict) -> set[str]:
    """Which key fields are missing or invalid (the items of KEY_INFO_MISSING)."""
    is110 = str(p["insurance_type"]) == "110"
    out = set()
    if _blank(p.get("hukou_region")):
        out.add("hukou_region")
    if normalise_phone(p.get("phone")) is None:
        out.add("phone")
    if is110 and str(p["gender"]) == "2" and _blank(p.get("person_type")):
        out.add("person_type")
    if (
        is110
        and str(p.get("person_type") or "") in ("1", "2")
        and _blank(p.get("employer_uscc"))
        and _blank(p.get("employer_name"))
    ):
        out.add("employer")
    if _int(p.get("deemed_months")) > 0 and _blank(p.get("deemed_region")):
        out.add("deemed_region")
    return out


def static_flags(p: dict, segs: list[dict]) -> set[str]:
    """The flags that depend on the row and segments only."""
    f = set()
    if str(p.get("deemed_status")) == "2":
        f.add("YEARS_UNCONFIRMED")
    if any(str(s["relation_status"]) in ("2", "3") for s in segs):
        f.add("REMOTE_UNMERGED")
    if key_info_missing(p):
        f.add("KEY_INFO_MISSING")
    if id_birth(p["id_no"]) != str(p["birth_date"]):
        f.add("BIRTH_DATE_CONFLICT")
    if id_gender(p["id_no"]) != str(p["gender"]):
        f.add("GENDER_CONFLICT")
    rng = [(prov(s["region_code"]), *_seg_range(s)) for s in segs]
    for i in range(len(rng)):
        for j in range(i + 1, len(rng)):
            (pa, a1, e1), (pb, a2, e2) = rng[i], rng[j]
            if pa != pb and max(a1, a2) <= min(e1, e2):
                f.add("DUPLICATE_CONTRIBUTION")
    if _int(p.get("arrears_months")) > 0:
        f.add("ARREARS")
    return f


def screen(p: dict, segs: list[dict], P: int, *, applied: bool = False, in_push: bool = True) -> dict:
    """Screening of one person for month P (rules.md §1-4)."""
    a = ages(p)
    o, s = a["original_age_mi"], a["statutory_age_mi"]
    place, place_rule, acc = benefit_place(p, segs)
    retired = str(p["retired"]) == "1"
    alive = str(p["survival_status"]) != "2"
    counted = counted_months(p)
    projected = counted + (max(0, s - P) if str(p["contribution_status"]) == "1" else 0)
    flags = static_flags(p, segs)
    if projected < a["min_contribution_months"]:
        flags.add("INSUFFICIENT_YEARS")
    bm = prov(p.get("benefit_region_ministry"))
    if bm is not None and bm != place:
        flags.add("BENEFIT_PLACE_MISMATCH")
    if s < P and not retired:
        flags.add("PAST_AGE_NOT_RETIRED")
    servable = alive and not retired and place == NX and in_push  # in push: [decisions.md]
    scope = None
    if servable:
        is110 = str(p["insurance_type"]) == "110"
        if is110 and 0 <= o - P <= 12:
            scope = "a"
        elif is110 and o < P and str(p["contribution_status"]) == "2":
            scope = "b"
        elif not is110 and 0 <= o - P <= 12:
            scope = "c"
    return {
        **a,
        "counted_months": counted,
        "projected_months": projected,
        "benefit_province": place,
        "place_rule": place_rule,
        "acc": acc,
        "alive": alive,
        "retired": retired,
        "in_push": in_push,
        "servable": servable,
        "office_code": str(p["insured_region"]),
        "scope_rule": scope,
        "trigger_push": scope is not None,
        "trigger_application": servable and applied and o - P <= APPLICATION_HORIZON,
        "trigger_screening": servable and bool(flags) and o - P <= SCREENING_HORIZON,
        "flags": ";".join(sorted(flags)),
    }


def close_reason(r: dict) -> str | None:
    """Why an open entry closes in a month ([decisions.md] order: deceased, retired, left, moved)."""
    if not r["alive"]:
        return "DECEASED"
    if r["retired"]:
        return "RETIRED"
    if not r["in_push"]:
        return "LEFT_PUSH"
    if r["benefit_province"] != NX:
        return "MOVED_OUT"
    return None


def triggered(r: dict) -> bool:
    return r["trigger_push"] or r["trigger_application"] or r["trigger_screening"]


def returns(r: dict, P: int, closed_by_push: bool) -> bool:
    """Taken in again without a trigger (rules.md §3 "once in the ledger … stays"; decisions.md
    "Taken in again"): a person whose entry the push closed, servable again, S not passed."""
    return closed_by_push and r["servable"] and r["statutory_age_mi"] >= P


def opened_by(r: dict) -> str:
    return (
        ";".join(
            k
            for k, t in (
                ("PUSH", r["trigger_push"]),
                ("APPLICATION", r["trigger_application"]),
                ("SCREENING", r["trigger_screening"]),
            )
            if t
        )
        or "PUSH"
    )  # taken in again by the push that returns the person (returns())


def valid_date(yyyymmdd: str) -> bool:
    try:
        _dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
        return True
    except ValueError:
        return False
