"""Differential check of rules.md sections 1-4 (and the §3 ledger rule) against the pipeline.

Random but valid pushes (fixed seed) are ingested and run black-box (ingest_batches,
load_applications, run_month, as the CLI does) for 2026-11 and 2026-12 (FULL seq 1; seq 2 is
already ingested when 2026-12 runs), 2027-01 (a second FULL with changes, persons leaving and
new ones) and 2027-02 (an INCR: D, U, I, returns).  Every screened person is compared field by
field with tests/support/oracle_rules.py, an oracle written from the spec alone: screen_results, flags
and their evidence items, ledger entries (opened, by which trigger, closed, why), handovers,
worklists; plus hand-made edge cases and the `policy` command.
No disagreement was found when this file was written (so there is no xfail); a future one
that is the pipeline's fault should be isolated as a strict xfail naming the rules.md line.
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from support import oracle_rules as O
from support.pushkit import VECTORS
from pipelines.ingest import ingest_batches, load_applications
from pipelines.monthly import run_month
from support.pushkit import make_id, write_batch
from support.spec import OFFICES_29

SEED = 20261127
N1, N2_NEW = 320, 60
MONTHS = ("2026-11", "2026-12", "2027-01", "2027-02")
P1, P3 = O.parse_month("2026-11"), O.parse_month("2027-01")

OFFICES = OFFICES_29
NX_CODES = ("640104", "640105", "640106", "642223", "640302", "640424", "640522", "640100", "640000")
OTHER_CODES = ("620102", "610102", "150102", "440100", "110103", "650102", "620000")  # 642223, 110103: abolished
ID_PREFIXES = ("640104", "640105", "640302", "642223", "640402", "620102", "110101", "610102")
USCC = ("91640100710645234G", "91110000600037341L")
PHONES_VALID = (
    "13912345678",
    "139 1234 5678",
    "139-1234-5678",
    "+8613912345678",
    "008613912345678",
    "19912345678",
    "１３９１２３４５６７８",
    "139\u20101234\u20105678",
    "+86 139 1234 5678",
    "0086-139-1234-5678",
    "\u300013912345678",
    "15012345678",
    "＋8613912345678",
    "139－1234－5678",
    "139\u20111234\u20115678",
    "¹³⁹12345678",
    "13912345678\u00a0",
    "+86-139-1234-5678",
    " 1-3-9-1-2-3-4-5-6-7-8 ",
    "0086 139 1234 5678",
)
PHONES_INVALID = (
    "",
    "12912345678",
    "1391234567",
    "0951-5012345",
    "139123456789",
    "86139123456780",
    "139\u20131234\u20135678",
    "139\t12345678",
    "１３９１２３４５６７",
    "+85213912345678",
    "١٣٩١٢٣٤٥٦٧٨",
    "139_1234_5678",
    "139.1234.5678",
    "8613912345678",
    "139\u22121234\u22125678",
    "13912345678/13812345678",
    "+0086139123456780",
    "11912345678",
)


# ------------------------------------------------------------------ generation


def _w(rng, items, weights):
    return rng.choices(items, weights=weights)[0]


def _birth_for_statutory(rng, base: dict, target_s: int) -> int | None:
    """A birth month whose statutory month is target_s (None if nobody reaches the age then)."""
    for b in range(target_s - 12 * 66, target_s - 12 * 49):
        p = dict(base, birth_date=f"{b // 12:04d}{b % 12 + 1:02d}15")
        if O.ages(p)["statutory_age_mi"] == target_s:
            return b
    return None


def gen_segments(rng, id_no) -> list[dict]:
    segs = []
    n = _w(rng, [0, 1, 2, 3, 4], [2, 4, 4, 3, 2])
    cur = O.mi(rng.randint(1984, 2006), rng.randint(1, 12))
    last = O.mi(2026, 10)
    prev_end = None
    for _ in range(n):
        if prev_end is not None and rng.random() < 0.2:
            cur = prev_end - rng.randint(0, 14)  # overlap with the previous one
        length = _w(rng, [6, 36, 60, 100, 119, 120, 121, 150, 200], [1, 2, 2, 1, 1, 2, 1, 2, 1])
        start, end = cur, min(last, cur + length - 1)
        if start > end:
            break
        region = _w(rng, [rng.choice(NX_CODES[:7]), rng.choice(OTHER_CODES[:6])], [3, 2])
        segs.append(
            {
                "id_no": id_no,
                "region_code": region,
                "start_month": f"{start // 12}{start % 12 + 1:02d}",
                "end_month": f"{end // 12}{end % 12 + 1:02d}",
                "relation_status": str(_w(rng, [1, 2, 3], [6, 2, 2])),
            }
        )
        prev_end = end
        cur = end + 1 + _w(rng, [0, 3, 24], [3, 1, 1])
    if len(segs) >= 2 and rng.random() < 0.15:  # a tie on the latest end month
        segs[-2]["end_month"] = segs[-1]["end_month"]
        if segs[-2]["start_month"] > segs[-2]["end_month"]:
            segs[-2]["start_month"] = segs[-2]["end_month"]
    return segs


def _ym(i: int) -> str:
    return f"{i // 12:04d}{i % 12 + 1:02d}"


def _seg(id_no, region, end, length, status=1):
    return {
        "id_no": id_no,
        "region_code": region,
        "start_month": _ym(end - length + 1),
        "end_month": _ym(end),
        "relation_status": str(status),
    }


def place_scenario(rng, p: dict) -> list[dict]:
    """Crafted section-2 cases around the 120-month and tie rules; may change hukou and deemed fields."""
    i = p["id_no"]
    e = O.mi(2026, rng.randint(1, 10))
    gs, sn, nm, nx = "620102", "610102", "150102", rng.choice(NX_CODES[:7])
    near = lambda: rng.choice([119, 120, 121])  # noqa: E731
    k = rng.randint(1, 10)
    if k == 1:  # hukou elsewhere, NX now with ~120 months
        p["hukou_region"] = gs
        return [_seg(i, sn, e - 130, rng.choice([60, 130])), _seg(i, nx, e, near())]
    if k == 2:  # previous place ~120, now NX short
        p["hukou_region"] = gs
        return [_seg(i, sn, e - 40, near()), _seg(i, nx, e, 36)]
    if k == 3:  # deemed only (no non-temporary segment), maybe a temporary account
        p.update(
            hukou_region=rng.choice([gs, nx, ""]),
            deemed_status="1",
            deemed_months=str(near()),
            deemed_region=rng.choice([sn, nx, gs]),
        )
        return [_seg(i, nm, e, 150, 3)] if rng.random() < 0.5 else []
    if k == 4:  # tie on the latest end month between NX and another province
        p["hukou_region"] = rng.choice([gs, sn, nx])
        return [_seg(i, sn, e, rng.choice([60, 121])), _seg(i, nx, e, rng.choice([60, 121]), rng.choice([1, 2]))]
    if k == 5:  # two other provinces with >= 120, one by deemed months only, now NX short
        p.update(hukou_region=gs, deemed_status="1", deemed_months="130", deemed_region=nm)
        return [_seg(i, sn, e - 50, near()), _seg(i, nx, e, 24)]
    if k == 6:  # two other provinces >= 120 ending the same month (ties by lower code)
        p["hukou_region"] = "440100"
        return [_seg(i, sn, e - 30, 121), _seg(i, nm, e - 30, 125), _seg(i, nx, e, 12)]
    if k == 7:  # overlapping NX segments: distinct months around 120
        p["hukou_region"] = gs
        return [_seg(i, nx, e - 60, 70), _seg(i, nx, e, rng.choice([60, 61, 70]), rng.choice([1, 2]))]
    if k == 8:  # a temporary account ends latest, NX basic earlier
        p["hukou_region"] = gs
        return [_seg(i, nx, e - 20, rng.choice([100, 130])), _seg(i, sn, e, 20, 3)]
    if k == 9:  # relationship now elsewhere; NX long before; deemed pending in NX
        p.update(
            hukou_region=rng.choice([gs, nx]), deemed_status=rng.choice("12"), deemed_months="30", deemed_region=nx
        )
        return [_seg(i, nx, e - 40, rng.choice([95, 125])), _seg(i, sn, e, 40)]
    # adjacent segments in different provinces (no overlap) and one-month overlap
    p["hukou_region"] = rng.choice([gs, nx, ""])
    return [_seg(i, sn, e - 100, 50), _seg(i, nx, e - rng.choice([0, 1]), 100 + rng.choice([0, 1]))]


def clean_person(rng, n: int, P: int) -> tuple[dict, list[dict]]:
    """A person with nothing to flag (mostly), near the original age."""
    ins = _w(rng, ["110", "170"], [4, 1])
    gender = rng.choice("12")
    pt = "" if ins == "170" else _w(rng, ["1", "2", "3"], [2, 2, 1])
    base = {"gender": gender, "person_type": pt, "insurance_type": ins}
    k = rng.choice([-3, -1, 0, 1, 6, 11, 12, 13, 23, 24, 25])
    b = P + k - 12 * O.original_age(base)
    birth = f"{b // 12:04d}{b % 12 + 1:02d}{rng.randint(1, 28):02d}"
    id_no = make_id(rng.choice(ID_PREFIXES), birth, n, int(gender))
    p = {
        "op": "",
        "id_no": id_no,
        "name": f"乙{n}",
        "gender": gender,
        "birth_date": birth,
        "insurance_type": ins,
        "person_type": pt,
        "hukou_region": rng.choice(NX_CODES[:7]),
        "insured_region": rng.choice(OFFICES),
        "benefit_region_ministry": rng.choice(["640100", "640000", ""]),
        "employer_uscc": USCC[0] if ins == "110" else "",
        "employer_name": "宁夏某公司" if ins == "110" else "",
        "phone": rng.choice(PHONES_VALID),
        "contribution_status": _w(rng, ["1", "2", "3"], [3, 2, 1]),
        "retired": "0",
        "survival_status": _w(rng, ["1", "9"], [5, 1]),
        "actual_contribution_months": str(rng.choice([300, 360, 400])),
        "deemed_months": "",
        "deemed_status": "0",
        "deemed_region": "",
        "arrears_months": "0",
    }
    segs = [_seg(id_no, p["hukou_region"], O.mi(2026, 10), 300)]
    perturb = [
        lambda: p.update(phone=rng.choice(PHONES_INVALID)),
        lambda: p.update(hukou_region=""),
        lambda: p.update(benefit_region_ministry=rng.choice(OTHER_CODES)),
        lambda: p.update(arrears_months="1"),
        lambda: p.update(deemed_status="2", deemed_months=str(rng.choice([0, 12])), deemed_region="640104"),
        lambda: p.update(deemed_status="1", deemed_months="12", deemed_region=""),
        lambda: p.update(deemed_status=rng.choice("12"), deemed_months="", deemed_region=""),
        lambda: p.update(person_type="") if ins == "110" else None,
        lambda: p.update(employer_uscc="", employer_name=""),
        lambda: p.update(actual_contribution_months=str(rng.choice([100, 150, 179, 180]))),
        lambda: p.update(contribution_status="2"),
        lambda: p.update(retired="1"),
        lambda: p.update(survival_status="2"),
        lambda: p.update(id_no=make_id(p["id_no"][:6], birth, n, 3 - int(gender))),
        lambda: p.update(id_no=make_id(p["id_no"][:6], birth[:6] + f"{int(birth[6:]) % 28 + 1:02d}", n, int(gender))),
        lambda: segs.__setitem__(slice(None), place_scenario(rng, p) if ins == "110" else segs),
        lambda: segs.append(
            _seg(
                p["id_no"],
                rng.choice(OTHER_CODES[:6]),
                O.mi(2026, 10) - rng.randint(0, 400),
                rng.randint(1, 30),
                rng.choice([1, 2, 3]),
            )
        ),
    ]
    for _ in range(_w(rng, [0, 1, 2], [2, 5, 2])):
        rng.choice(perturb)()
    for sg in segs:
        sg["id_no"] = p["id_no"]
    return p, segs


def gen_person(rng, n: int, P: int) -> tuple[dict, list[dict]]:
    if rng.random() < 0.55:
        return clean_person(rng, n, P)
    return chaotic_person(rng, n, P)


def chaotic_person(rng, n: int, P: int) -> tuple[dict, list[dict]]:
    ins = _w(rng, ["110", "170"], [4, 1])
    gender = rng.choice("12")
    pt = "" if ins == "170" else _w(rng, ["1", "2", "3", ""], [3, 3, 2, 1])
    base = {"gender": gender, "person_type": pt, "insurance_type": ins}
    mode = rng.random()
    b = None
    if mode < 0.55:
        k = rng.choice([-40, -25, -13, -12, -3, -1, 0, 0, 1, 2, 11, 12, 12, 13, 14, 23, 24, 24, 25, 26, 36])
        b = P + k - 12 * O.original_age(base)
    elif mode < 0.75:
        b = _birth_for_statutory(rng, base, P + rng.choice([-2, -1, 0, 1, 3, 13]))
    if b is None:
        b = O.mi(rng.randint(1958, 1986), rng.randint(1, 12))
    birth = f"{b // 12:04d}{b % 12 + 1:02d}{rng.randint(1, 28):02d}"
    id_birth, id_gender = birth, gender
    if rng.random() < 0.08:
        id_birth = birth[:6] + f"{(int(birth[6:]) % 28) + 1:02d}"
    if rng.random() < 0.06:
        id_birth = f"{int(birth[:4]) + 1}{birth[4:]}"
    if rng.random() < 0.08:
        id_gender = "2" if gender == "1" else "1"
    id_no = make_id(rng.choice(ID_PREFIXES), id_birth, n, int(id_gender))
    deemed_status = _w(rng, ["0", "1", "2"], [5, 3, 2])
    if deemed_status == "0":
        deemed_months, deemed_region = rng.choice(["", "0"]), ""
    else:
        deemed_months = str(rng.choice([0, 24, 96, 120, 130]))
        deemed_region = _w(rng, [rng.choice(NX_CODES), rng.choice(OTHER_CODES), ""], [5, 3, 2])
    emp = _w(
        rng,
        [(rng.choice(USCC), "宁夏某公司"), (rng.choice(USCC), ""), ("", "某单位"), ("", "")],
        [5, 1, 1, 2] if ins == "110" else [1, 0, 0, 5],
    )
    p = {
        "op": "",
        "id_no": id_no,
        "name": f"甲{n}",
        "gender": gender,
        "birth_date": birth,
        "insurance_type": ins,
        "person_type": pt,
        "hukou_region": _w(rng, [rng.choice(NX_CODES[:7]), rng.choice(OTHER_CODES), ""], [6, 3, 1]),
        "insured_region": rng.choice(OFFICES),
        "benefit_region_ministry": _w(
            rng, ["640100", "640104", "640000", rng.choice(OTHER_CODES), ""], [4, 2, 1, 2, 1]
        ),
        "employer_uscc": emp[0],
        "employer_name": emp[1],
        "phone": _w(rng, [rng.choice(PHONES_VALID), rng.choice(PHONES_INVALID)], [4, 1]),
        "contribution_status": _w(rng, ["1", "2", "3"], [5, 3, 1]),
        "retired": _w(rng, ["0", "1"], [9, 1]),
        "survival_status": _w(rng, ["1", "2", "9"], [16, 1, 3]),
        "actual_contribution_months": str(
            _w(rng, [rng.choice([0, 60, 150, 155, 179, 180, 185, 200, 240]), rng.randint(0, 420)], [2, 1])
        ),
        "deemed_months": deemed_months,
        "deemed_status": deemed_status,
        "deemed_region": deemed_region,
        "arrears_months": str(_w(rng, [0, rng.randint(1, 30)], [4, 1])),
    }
    return p, gen_segments(rng, id_no)


def mutate(rng, p: dict, segs: list[dict]) -> tuple[dict, list[dict]]:
    p = dict(p)
    what = rng.choice(
        [
            "retired",
            "dead",
            "phone",
            "hukou",
            "segments",
            "nosegs",
            "status",
            "deemed",
            "brm",
            "office",
            "nx_long",
            "move_out",
            "move_out",
            "move_in",
            "ptype",
            "birth",
            "gender",
        ]
    )
    if what == "retired":
        p["retired"] = "1"
    elif what == "dead":
        p["survival_status"] = "2"
    elif what == "phone":
        p["phone"] = "13812345678" if O.normalise_phone(p["phone"]) is None else "0951-1234567"
    elif what == "hukou":
        p["hukou_region"] = rng.choice(["640104", "620102", ""])
    elif what == "segments":
        segs = gen_segments(rng, p["id_no"])
    elif what == "nosegs":
        segs = []
    elif what == "status":
        p["contribution_status"] = rng.choice("123")
    elif what == "deemed":
        if p["deemed_status"] == "2":
            p["deemed_status"] = "1"
    elif what == "brm":
        p["benefit_region_ministry"] = rng.choice(["640100", "610102", ""])
    elif what == "office":
        p["insured_region"] = rng.choice(OFFICES)
    elif what == "move_out":
        p["hukou_region"] = "620102"
        segs = [
            {
                "id_no": p["id_no"],
                "region_code": "620102",
                "start_month": "201201",
                "end_month": "202612",
                "relation_status": "1",
            }
        ]
    elif what == "move_in":
        p["hukou_region"] = "640106"
        segs = [
            {
                "id_no": p["id_no"],
                "region_code": "640106",
                "start_month": "201501",
                "end_month": "202612",
                "relation_status": "1",
            }
        ]
    elif what == "ptype" and p["insurance_type"] == "110":
        p["person_type"] = rng.choice(["1", "2", "3", ""])
    elif what == "birth":  # the archive's date corrected
        b = O.birth_mi(p) + rng.choice([-13, -1, 1, 12])
        p["birth_date"] = f"{b // 12:04d}{b % 12 + 1:02d}{p['birth_date'][6:]}"
    elif what == "gender":
        p["gender"] = "2" if p["gender"] == "1" else "1"
    elif what == "nx_long":
        segs = segs + [
            {
                "id_no": p["id_no"],
                "region_code": "640104",
                "start_month": "201201",
                "end_month": "202610",
                "relation_status": "1",
            }
        ]
    return p, segs


def _apps_file(path: Path, apps) -> Path:
    path.write_text(
        "id_no,applicant_type,applied_on,channel,county_code\n"
        + "".join(f"{i},{1 + k % 3},{d},{'online' if k % 2 else 'counter'},{c}\n" for k, (i, d, c) in enumerate(apps)),
        encoding="utf-8",
    )
    return path


def build(tmp: Path):
    """Three pushes: FULL 2026-11 (seq 1), FULL 2027-01 (seq 2), INCR 2027-02 (seq 3), and applications."""
    rng = random.Random(SEED)
    persons1, segs1 = {}, {}
    for n in range(1, N1 + 1):
        p, s = gen_person(rng, n, P1)
        persons1[p["id_no"]], segs1[p["id_no"]] = p, s
    persons2, segs2 = {}, {}
    for i, p in persons1.items():
        r = rng.random()
        if r < 0.08:
            continue  # left the push
        q, s = mutate(rng, p, segs1[i]) if r < 0.4 else (p, segs1[i])
        persons2[i], segs2[i] = q, s
    for n in range(N1 + 1, N1 + N2_NEW + 1):
        p, s = gen_person(rng, n, P3)
        persons2[p["id_no"]], segs2[p["id_no"]] = p, s
    # INCR on top of seq 2: deletes, updates (whole row + all segments), returns of persons who left
    persons3, segs3 = dict(persons2), dict(segs2)
    incr_p, incr_s = [], []
    for i, p in persons2.items():
        r = rng.random()
        if r < 0.05:
            incr_p.append({"op": "D", "id_no": i})
            del persons3[i], segs3[i]
        elif r < 0.25:
            q, s = mutate(rng, p, segs2[i])
            if rng.random() < 0.3 and i in persons1:  # back to the first version (e.g. un-retired)
                q, s = persons1[i], segs1[i]
            q = dict(q, op=_w(rng, ["U", "I"], [5, 1]))  # an I for a present person: upsert
            incr_p.append(q)
            incr_s += s
            persons3[i], segs3[i] = q, s
    for i, p in persons1.items():
        if i not in persons2 and rng.random() < 0.6:
            q = dict(p, op=rng.choice(["I", "U"]))
            incr_p.append(q)
            incr_s += segs1[i]
            persons3[i], segs3[i] = q, segs1[i]
    apps1, apps2 = [], []
    for i, p in persons1.items():
        if rng.random() < 0.18:
            day = rng.choice(["20261003", "20261115", "20261130", "20261201", "20261220"])
            apps1.append((i, day, p["insured_region"]))
    for i, p in persons2.items():
        if rng.random() < 0.1:
            apps2.append(
                (i, rng.choice(["20270105", "20270131", "20270201", "20270228", "20270301"]), p["insured_region"])
            )
    b1 = write_batch(
        tmp / "b1", list(persons1.values()), [x for s in segs1.values() for x in s], seq=1, month="2026-11"
    )
    b2 = write_batch(
        tmp / "b2", list(persons2.values()), [x for s in segs2.values() for x in s], seq=2, month="2027-01"
    )
    b3 = write_batch(tmp / "b3", incr_p, incr_s, seq=3, base_seq=2, push_type="INCR", month="2027-02")
    states = {
        "2026-11": (persons1, segs1),
        "2026-12": (persons1, segs1),
        "2027-01": (persons2, segs2),
        "2027-02": (persons3, segs3),
    }
    return (
        states,
        apps1 + apps2,
        [b1, b2, b3],
        [_apps_file(tmp / "apps1.csv", apps1), _apps_file(tmp / "apps2.csv", apps2)],
    )


# ------------------------------------------------------------------ oracle over months


def oracle_months(states, apps, months=MONTHS):
    """{P: {id_no: screen dict}} and the ledger entries, simulated month by month."""
    last_known = {}
    open_entries, entries = {}, []
    out = {}
    for month in months:
        P = O.parse_month(month)
        persons, segs = states[month]
        last_known.update({i: (persons[i], segs[i]) for i in persons})
        applied = {i for i, d, _ in apps if O.parse_month(d[:6]) <= P}
        rows = {}
        for i in set(persons) | set(open_entries):
            p, s = last_known[i]
            rows[i] = O.screen(p, s, P, applied=i in applied, in_push=i in persons)
        for i, e in list(open_entries.items()):
            reason = O.close_reason(rows[i])
            if reason:
                e.update(closed_mi=P, close_reason=reason)
                del open_entries[i]
        for i, r in rows.items():
            closed_by_push = any(e["id_no"] == i and e["close_reason"] and e["closed_mi"] < P for e in entries)
            if (
                i not in open_entries
                and (O.triggered(r) or O.returns(r, P, closed_by_push))
                and not any(e["id_no"] == i and e["opened_mi"] == P for e in entries)
            ):
                e = {
                    "id_no": i,
                    "opened_mi": P,
                    "opened_by": O.opened_by(r),
                    "closed_mi": None,
                    "close_reason": None,
                    "office_code": r["office_code"],
                }
                entries.append(e)
                open_entries[i] = e
        for i in open_entries:
            open_entries[i]["office_code"] = rows[i]["office_code"]
        out[month] = rows
    return out, entries


# ------------------------------------------------------------------ the run


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("oracle")
    states, apps, batches, appfiles = build(tmp)
    wh, out = tmp / "w.duckdb", tmp / "out"
    # seq 2 (data_month 2027-01) is ingested before 2026-12 is run: 2026-12 must still run on seq 1
    # (docs/decisions.md "the last applied batch whose data_month <= P")
    plan = {
        "2026-11": (batches[0], appfiles[0]),
        "2026-12": (batches[1], None),
        "2027-01": (None, appfiles[1]),
        "2027-02": (batches[2], None),
    }
    for month in MONTHS:
        b, af = plan.get(month, (None, None))
        if b is not None:
            rep = ingest_batches([b], wh)
            assert not rep.refused, rep.lines()
        if af is not None:
            load_applications([af], wh)
        run_month(month, wh, out)
    con = duckdb.connect(str(wh), read_only=True)

    def fetch(sql):
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    quarantined = fetch("SELECT * FROM quarantine_rows")
    batches_status = fetch("SELECT seq, status FROM push_batches ORDER BY seq")
    runs = fetch("SELECT month_mi, as_of_seq FROM month_runs WHERE command = 'run' ORDER BY month_mi")
    got = defaultdict(dict)
    for r in fetch("SELECT * FROM screen_results"):
        got[O.fmt_month(r["month_mi"])][r["id_no"]] = r
    ledger = fetch("SELECT * FROM ledger_entries")
    handovers = fetch("SELECT * FROM handovers")
    flag_rows = fetch("SELECT * FROM flags")
    con.close()
    want, want_ledger = oracle_months(states, apps)
    import pyarrow.parquet as pq

    worklists = defaultdict(list)
    for month in MONTHS:
        for f in sorted((out / month / "worklists").glob("*/worklist.parquet")):
            for r in pq.read_table(f).to_pylist():
                worklists[month].append(dict(r, _dir=f.parent.name))
    return {
        "worklists": worklists,
        "got": got,
        "want": want,
        "ledger": ledger,
        "want_ledger": want_ledger,
        "handovers": handovers,
        "quarantined": quarantined,
        "states": states,
        "apps": apps,
        "flags": flag_rows,
        "batches": batches_status,
        "runs": {O.fmt_month(r["month_mi"]): r["as_of_seq"] for r in runs},
    }


FIELDS = (
    "office_code",
    "birth_mi",
    "original_age_mi",
    "delay_months",
    "statutory_age_mi",
    "benefit_start_mi",
    "flexible_earliest_mi",
    "flexible_latest_mi",
    "min_contribution_months",
    "counted_months",
    "projected_months",
    "benefit_province",
    "alive",
    "retired",
    "in_push",
    "scope_rule",
    "trigger_push",
    "trigger_application",
    "trigger_screening",
    "flags",
)


def _norm(field, v):
    if field == "benefit_province" and v is not None:
        return str(v)[:2]
    if field in ("alive", "retired", "in_push", "trigger_push", "trigger_application", "trigger_screening"):
        return bool(v)
    return v


def diffs(world, month, field):
    got, want = world["got"][month], world["want"][month]
    out = []
    for i in sorted(set(got) | set(want)):
        if i not in got or i not in want:
            out.append((i, "present", i in want, i in got))
            continue
        w, g = _norm(field, want[i][field]), _norm(field, got[i][field])
        if w != g:
            out.append((i, field, w, g))
    return out


PLACE_RULES = {
    "1": "R1_HUKOU",
    "2": "R2_CURRENT_120",
    "3": "R3_PREVIOUS_120",
    "4": "R4_HUKOU",
    "household:no-months": "HUKOU_NO_BASIC_MONTHS",
    "resident": "RESIDENT_INSURED_PLACE",
}
KEY_ITEMS = {
    "hukou_region": "hukou_region missing",
    "phone": "phone",
    "person_type": "person_type",
    "employer": "employer missing",
    "deemed_region": "deemed_region missing",
}


def extra_diffs(world, month):
    """Place rule, acc months (place_evidence), KEY_INFO_MISSING items, evidence privacy."""
    got, want = world["got"][month], world["want"][month]
    out = []
    ev = defaultdict(dict)
    for f in world["flags"]:
        if O.fmt_month(f["month_mi"]) == month:
            ev[f["id_no"]][f["code"]] = f["evidence"]
    people = {}
    for m in MONTHS[: MONTHS.index(month) + 1]:
        people.update(world["states"][m][0])
    for i in sorted(set(got) & set(want)):
        g, w = got[i], want[i]
        if PLACE_RULES[w["place_rule"]] != g["place_rule"]:
            out.append((i, "place_rule", PLACE_RULES[w["place_rule"]], g["place_rule"]))
        if w["place_rule"] != "resident":
            acc = {k + "0000": v for k, v in w["acc"].items() if v > 0}
            gacc = dict((k, int(v)) for k, v in (x.split(":") for x in (g["place_evidence"] or "").split(";") if x))
            if acc != gacc:
                out.append((i, "acc", acc, gacc))
        items = O.key_info_missing(people[i])
        kev = ev[i].get("KEY_INFO_MISSING", "")
        gitems = {k for k, t in KEY_ITEMS.items() if t in kev}
        if items != gitems:
            out.append((i, "key_info_items", items, kev))
        p = people[i]
        for code, e in ev[i].items():
            if i in e or (p["name"] and p["name"] in e) or (O.normalise_phone(p["phone"]) or "~") in e:
                out.append((i, "evidence_privacy", code, e))
        if set(ev[i]) != set(filter(None, g["flags"].split(";"))):
            out.append((i, "flags_table", g["flags"], sorted(ev[i])))
    return out


def handover_diffs(world, month):
    """BENEFIT_PLACE_IN/OUT: alive, not retired, in the push in P, place NX in one of the two months."""
    want = set()
    earlier = [world["want"][m] for m in MONTHS[: MONTHS.index(month)]][::-1]
    for i, r in world["want"][month].items():
        before = next((rows[i] for rows in earlier if i in rows), None)
        if before is not None and r["alive"] and not r["retired"] and r["in_push"]:
            was, now = before["benefit_province"] == O.NX, r["benefit_province"] == O.NX
            if was != now:
                want.add((i, "BENEFIT_PLACE_IN" if now else "BENEFIT_PLACE_OUT"))
    got = {
        (h["id_no"], h["kind"])
        for h in world["handovers"]
        if O.fmt_month(h["month_mi"]) == month and h["kind"].startswith("BENEFIT_PLACE")
    }
    return sorted(want - got), sorted(got - want)


def worklist_diffs(world, month):
    """outputs.md worklist: one row per ledger entry of P (open in P, or closed in P), in its office's file."""
    P = O.parse_month(month)
    want_ids = {
        e["id_no"]: e
        for e in world["want_ledger"]
        if e["opened_mi"] <= P and (e["closed_mi"] is None or e["closed_mi"] >= P)
    }
    rows = world["worklists"][month]
    out = []
    got_ids = [r["id_no"] for r in rows]
    if sorted(got_ids) != sorted(want_ids):
        out.append(("rows", sorted(set(want_ids) - set(got_ids)), sorted(set(got_ids) - set(want_ids))))
    for r in rows:
        w = world["want"][month].get(r["id_no"])
        if w is None:
            continue
        exp = {
            "_dir": w["office_code"],
            "office_code": w["office_code"],
            "birth_month": O.fmt_month(w["birth_mi"]),
            "original_age_month": O.fmt_month(w["original_age_mi"]),
            "statutory_age_month": O.fmt_month(w["statutory_age_mi"]),
            "months_to_original": w["original_age_mi"] - P,
            "months_to_statutory": w["statutory_age_mi"] - P,
            "flexible_earliest_month": O.fmt_month(w["flexible_earliest_mi"]),
            "flexible_latest_month": O.fmt_month(w["flexible_latest_mi"]),
            "min_contribution_months": w["min_contribution_months"],
            "counted_contribution_months": w["counted_months"],
            "benefit_region": w["benefit_province"] + "0000",
            "flags": w["flags"] or None,
        }
        for k, v in exp.items():
            g = r.get(k)
            if k == "flags":
                g = g or None
            if k == "benefit_region" and g is not None:
                g = str(g)
            if g != v:
                out.append((r["id_no"], k, v, g))
    return out


# ------------------------------------------------------------------ hand-made edge cases (one FULL, 2026-11)


def _born(k: int, age: int = 60) -> str:
    """A birth date whose original-age month is 2026-11 + k."""
    b = P1 + k - 12 * age
    return f"{b // 12:04d}{b % 12 + 1:02d}10"


def edge_people():
    from support.pushkit import person, segment

    nx_300 = [dict(region="640104", start="199001", end="202610", status=1)]
    cases = [
        # (reason, person fields, segments)
        (
            "deemed months with status 0 and no region",
            dict(deemed_status=0, deemed_months=24, deemed_region=""),
            nx_300,
        ),
        ("employer name only blanks", dict(employer_name="  ", employer_uscc=""), nx_300),
        ("confirmed deemed without months", dict(deemed_status=1, deemed_months="", deemed_region=""), nx_300),
        ("zero-width space in phone", dict(phone="\u200b13912345678"), nx_300),
        ("two prefixes", dict(phone="0086+8613912345678"), nx_300),
        ("katakana long mark", dict(phone="１３９\u30fc1234\u30fc5678"), nx_300),
        ("bracketed prefix", dict(phone="(+86)13912345678"), nx_300),
        ("em spaces (NFKC space)", dict(phone="+86\u2003139\u20031234\u20035678"), nx_300),
        ("soft hyphens", dict(phone="139\u00ad1234\u00ad5678"), nx_300),
        ("small hyphen-minus (NFKC -)", dict(phone="139\ufe631234\ufe635678"), nx_300),
        ("leap-day birth", dict(birth_date="19640229"), nx_300),
        (
            "hukou empty: H from ministry, only a temporary account",
            dict(hukou_region="", benefit_region_ministry="620102"),
            [dict(region="620102", start="200001", end="202610", status=3)],
        ),
        (
            "deemed only, >= 120 elsewhere",
            dict(deemed_status=1, deemed_months=130, deemed_region="620102", hukou_region="610102"),
            [],
        ),
        ("pending deemed 0 months", dict(deemed_status=2, deemed_months=0, deemed_region=""), nx_300),
        (
            "110 woman without type nor employer",
            dict(gender=2, person_type="", employer_uscc="", employer_name=""),
            nx_300,
        ),
        (
            "temporary account ends latest, overlaps",
            dict(hukou_region="610102"),
            [
                dict(region="620102", start="200001", end="201012", status=1),
                dict(region="610102", start="201001", end="202610", status=3),
            ],
        ),
        ("retired and suspended past O", dict(birth_date=_born(-1), contribution_status=2, retired=1), nx_300),
        (
            "resident woman at O",
            dict(birth_date=_born(0), insurance_type=170, person_type="", employer_uscc="", employer_name="", gender=2),
            nx_300,
        ),
        (
            "C tie between two other provinces (lower code)",
            dict(hukou_region="440100"),
            [
                dict(region="610102", start="200001", end="202610", status=1),
                dict(region="150102", start="201601", end="202610", status=2),
            ],
        ),
        (
            "deemed at C lifts C to 120",
            dict(hukou_region="620102", deemed_status=1, deemed_months=30, deemed_region="640104"),
            [
                dict(region="610102", start="199001", end="201112", status=1),
                dict(region="640104", start="201901", end="202610", status=1),
            ],
        ),
        (
            "adjacent provinces, no overlap",
            {},
            [
                dict(region="610102", start="199001", end="200912", status=1),
                dict(region="640104", start="201001", end="202610", status=1),
            ],
        ),
        (
            "same province overlap, 120 distinct months",
            dict(hukou_region="620102"),
            [
                dict(region="640104", start="201601", end="202310", status=1),
                dict(region="640105", start="201801", end="202612", status=2),
            ],
        ),
    ]
    ps, segs, reasons = [], [], {}
    for n, (why, kw, sl) in enumerate(cases, 1):
        kw = {"birth_date": _born(3), **kw}
        p = person(n, **kw)
        ps.append(p)
        reasons[p["id_no"]] = why
        segs += [segment(p["id_no"], **s) for s in sl]
    return ps, segs, reasons


@pytest.fixture(scope="module")
def edge_world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("edge")
    ps, segs, reasons = edge_people()
    wh = tmp / "w.duckdb"
    rep = ingest_batches([write_batch(tmp / "b1", ps, segs)], wh)
    assert not rep.refused, rep.lines()
    run_month("2026-11", wh, tmp / "out", validate=False)
    con = duckdb.connect(str(wh), read_only=True)
    cur = con.execute("SELECT * FROM screen_results")
    cols = [d[0] for d in cur.description]
    got = {r[cols.index("id_no")]: dict(zip(cols, r)) for r in cur.fetchall()}
    nq = con.execute("SELECT count(*) FROM quarantine_rows").fetchone()[0]
    con.close()
    states = {
        "2026-11": (
            {p["id_no"]: p for p in ps},
            {p["id_no"]: [s for s in segs if s["id_no"] == p["id_no"]] for p in ps},
        )
    }
    want, _ = oracle_months(states, [], months=("2026-11",))
    return got, want["2026-11"], reasons, nq


# ------------------------------------------------------------------ the tests


def _show(d, n=8):
    return "\n".join(map(repr, d[:n])) + (f"\n… {len(d) - n} more" if len(d) > n else "")


def test_oracle_reproduces_the_spec_vectors():
    """The oracle itself: vectors/retirement_age.csv, benefit_place.csv, phones.csv, min_contribution.csv."""
    import csv

    v = VECTORS  # tests/vectors: kept in the repository (tests/contract/test_vectors_copy.py)
    for r in csv.DictReader(open(v / "retirement_age.csv", encoding="utf-8")):
        a = O.ages(
            {
                "gender": r["gender"],
                "person_type": r["person_type"],
                "insurance_type": r["insurance_type"],
                "birth_date": r["birth_month"].replace("-", "") + "15",
            }
        )
        assert (
            O.fmt_month(a["original_age_mi"]),
            O.fmt_month(a["statutory_age_mi"]),
            a["delay_months"],
            O.fmt_month(a["benefit_start_mi"]),
            O.fmt_month(a["flexible_earliest_mi"]) or "",
            O.fmt_month(a["flexible_latest_mi"]) or "",
            a["min_contribution_months"],
        ) == (
            r["original_age_month"],
            r["statutory_age_month"],
            int(r["delay_months"]),
            r["benefit_start_month"],
            r["flexible_earliest_month"],
            r["flexible_latest_month"],
            int(r["min_contribution_months"]),
        ), r["case"]
    for r in csv.DictReader(open(v / "min_contribution.csv", encoding="utf-8")):
        assert O.min_contribution(int(r["statutory_age_year"]), "110") == int(r["min_contribution_months"])
    for r in csv.DictReader(open(v / "benefit_place.csv", encoding="utf-8")):
        segs = []
        for s in filter(None, r["segments"].split(";")):
            reg, rng_, st = s.split(":")
            a, b = rng_.split("-")
            segs.append({"region_code": reg, "start_month": a, "end_month": b, "relation_status": st})
        p = {k: r[k] for k in ("hukou_region", "insured_region", "deemed_region", "deemed_months", "deemed_status")}
        p.update(insurance_type="110", benefit_region_ministry="")
        assert O.benefit_province(p, segs)[0] + "0000" == r["expected_benefit_province"], r["case"]
    for r in csv.DictReader(open(v / "phones.csv", encoding="utf-8")):
        assert (O.normalise_phone(r["phone"]) or "") == r["normalized"], r["phone"]


def test_random_pushes_were_accepted_whole(world):
    assert world["quarantined"] == []
    assert [b["status"] for b in world["batches"]] == ["APPLIED"] * 3
    assert world["runs"] == {"2026-11": 1, "2026-12": 1, "2027-01": 2, "2027-02": 3}


@pytest.mark.parametrize("month", MONTHS)
@pytest.mark.parametrize("field", FIELDS)
def test_screen_results_match_oracle(world, month, field):
    """rules.md §1 ages, §2 place, §3 scope/triggers, §4 flags: person by person."""
    d = diffs(world, month, field)
    assert not d, f"{month} {field}: (id_no, field, oracle, pipeline)\n" + _show(d)


@pytest.mark.parametrize("month", MONTHS)
def test_place_rule_acc_and_flag_evidence_match_oracle(world, month):
    d = extra_diffs(world, month)
    assert not d, _show(d)


def test_ledger_entries_match_oracle(world):
    """§3: entries open while triggered, kept until closed (deceased, retired, left, moved out)."""
    key = ("opened_by", "closed_mi", "close_reason", "office_code")
    got = {(e["id_no"], e["opened_mi"]): tuple(e[k] for k in key) for e in world["ledger"]}
    want = {(e["id_no"], e["opened_mi"]): tuple(e[k] for k in key) for e in world["want_ledger"]}
    d = [(k, want.get(k), got.get(k)) for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k)]
    assert not d, "(id_no, opened_mi), oracle, pipeline\n" + _show(d)
    assert {v[2] for v in want.values()} >= {None, "LEFT_PUSH", "MOVED_OUT", "RETIRED", "DECEASED"}


@pytest.mark.parametrize("month", MONTHS)
def test_benefit_place_handovers_match_oracle(world, month):
    missing, extra = handover_diffs(world, month)
    assert not missing and not extra, f"missing {missing[:5]} extra {extra[:5]}"


@pytest.mark.parametrize("month", MONTHS)
def test_worklists_match_oracle(world, month):
    d = worklist_diffs(world, month)
    assert not d, _show(d)


def test_edge_cases_match_oracle(edge_world):
    got, want, reasons, nq = edge_world
    assert nq == 0
    d = []
    for i, w in want.items():
        for f in FIELDS:
            if i not in got or _norm(f, w[f]) != _norm(f, got[i][f]):
                d.append((reasons[i], f, _norm(f, w[f]), got.get(i, {}).get(f)))
    assert not d, _show(d, 20)


def _policy_cli(argv):
    import contextlib
    import io
    import json

    from pipelines.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(argv) == 0
    return json.loads(buf.getvalue())


def test_policy_command_matches_oracle():
    """outputs.md `retire-prep policy` on random birth months, groups and months (rules.md §1)."""
    rng = random.Random(SEED)
    bad = []
    groups = [
        ("1", "1", "110"),
        ("1", "2", "110"),
        ("1", "3", "110"),
        ("1", "", "110"),
        ("2", "1", "110"),
        ("2", "2", "110"),
        ("2", "3", "110"),
        ("2", "", "110"),
        ("1", "", "170"),
        ("2", "", "170"),
    ]
    for _ in range(400):
        g, pt, ins = rng.choice(groups)
        b = O.mi(rng.randint(1955, 1995), rng.randint(1, 12))
        P = O.mi(rng.randint(2024, 2030), rng.randint(1, 12))
        argv = ["policy", "--gender", g, "--insurance-type", ins, "--birth", O.fmt_month(b), "--month", O.fmt_month(P)]
        if pt:
            argv += ["--person-type", pt]
        a = O.ages(
            {
                "gender": g,
                "person_type": pt,
                "insurance_type": ins,
                "birth_date": f"{O.fmt_month(b).replace('-', '')}01",
            }
        )
        age = a["statutory_age_mi"] - b
        want = {
            "original_age_month": O.fmt_month(a["original_age_mi"]),
            "statutory_age_month": O.fmt_month(a["statutory_age_mi"]),
            "statutory_age": f"{age // 12}y{age % 12}m",
            "delay_months": a["delay_months"],
            "benefit_start_month": O.fmt_month(a["benefit_start_mi"]),
            "flexible_earliest_month": O.fmt_month(a["flexible_earliest_mi"]),
            "flexible_latest_month": O.fmt_month(a["flexible_latest_mi"]),
            "min_contribution_months": a["min_contribution_months"],
            "months_to_original": a["original_age_mi"] - P,
            "months_to_statutory": a["statutory_age_mi"] - P,
        }
        got = _policy_cli(argv)
        if any(got.get(k) != v for k, v in want.items()):
            bad.append((argv, {k: (v, got.get(k)) for k, v in want.items() if got.get(k) != v}))
    assert not bad, _show(bad)


@pytest.mark.parametrize("month", MONTHS[1:])
def test_office_change_handovers_match_oracle(world, month):
    """docs/decisions.md: an open entry follows insured_region, with an OFFICE_CHANGE handover."""
    P = O.parse_month(month)
    prev, cur = world["want"][MONTHS[MONTHS.index(month) - 1]], world["want"][month]
    want = {}
    for e in world["want_ledger"]:
        i = e["id_no"]
        if e["opened_mi"] < P and (e["closed_mi"] is None or e["closed_mi"] >= P) and i in prev and i in cur:
            if prev[i]["office_code"] != cur[i]["office_code"]:
                want[i] = (prev[i]["office_code"], cur[i]["office_code"])
    got = {
        h["id_no"]: (h["from_code"], h["to_code"])
        for h in world["handovers"]
        if h["kind"] == "OFFICE_CHANGE" and h["month_mi"] == P
    }
    assert got == want
