"""What persons and other offices receive, read as they read it (sixteenth session, an adversarial probe
of the texts; docs/decisions.md "What the recipients read").

Every month named in a text is checked against the retirement rules computed here from the spec
(rules.md §1), not from the pipeline's policy module: the statutory month S, the benefit start S + 1,
the flexible window max(O, S − 36) … S + 36, on births at the first and last months of a delay step
(men, women cadres, workers, flexible employment at either setting). The findings fixed:

* PRE_SERVICE offered a person long past the age (scope b) 弹性延迟退休（最晚2024年3月） — an option whose
  last month was gone years ago;
* OVERDUE named 待遇起领时点 S + 1 to a person who has not retired: a month gone, read as a promise of
  arrears (rules.md §1: the pension is paid from the month after retirement);
* DECLARATION told a person who elected nothing of 选定的退休时间 (附件3's wording is for an elected month);
* RESULT told every person 请及时确认, also one whose employer confirms (rules.md §7; the office refuses a
  confirmation by the person then);
* a coordination letter's 经办人 was the officer's internal id (640104-01), not a name the receiving
  office can ask for.
"""

from __future__ import annotations

import csv
import re
from datetime import timedelta

import duckdb
import pytest

from pipelines import DATA_DIR
from pipelines.settings import load_settings
from support.declare import D, confirm, declare
from support.feedback import D0, Wh, path_rows, row
from support.ledger import Push, run_push_month
from support.pushkit import person

NOV = 2026 * 12 + 10  # 2026-11, the month run


# ------------------------------------------------------------------ the rules, from rules.md §1 only


def _mi(y: int, m: int) -> int:
    return y * 12 + m - 1


def _zh(i: int) -> str:
    return f"{i // 12}年{i % 12 + 1}月"


def _facts(gender: int, person_type: int | None, birth: str, flexible_women: int = 55) -> dict:
    """S, the benefit start and the flexible window of a 110 person (rules.md §1)."""
    b = _mi(int(birth[:4]), int(birth[4:6]))
    if gender == 1:
        age, first, step, cap = 60, _mi(1965, 1), 4, 36
    elif person_type == 2 or (person_type == 3 and flexible_women == 55):
        age, first, step, cap = 55, _mi(1970, 1), 4, 36
    else:
        age, first, step, cap = 50, _mi(1975, 1), 2, 60
    o = b + 12 * age
    k = b - first
    s = o + (0 if k < 0 else min(cap, k // step + 1))
    return {"O": o, "S": s, "start": s + 1, "earliest": max(o, s - 36), "latest": s + 36}


def _notices(push: Push, kind: str) -> dict[str, str]:
    return dict(push.q("SELECT id_no, text FROM notice_log WHERE kind = ?", [kind]))


# ------------------------------------------------------------------ PRE_SERVICE and OVERDUE

# (label, gender, person_type, birth): births in scope in 2026-11 at the edges of a delay step
EDGES = [
    ("man, last month of a step", 1, 2, "19661215"),  # k 23: delay 6
    ("man, first month of a step", 1, 1, "19670115"),  # k 24: delay 7
    ("woman cadre, last month of a step", 2, 2, "19711215"),
    ("woman cadre, first month of a step", 2, 2, "19720115"),
    ("woman worker, last month of a step", 2, 1, "19761215"),  # k 23: delay 12
    ("woman worker, first month of a step", 2, 1, "19770115"),  # k 24: delay 13
    ("woman in flexible employment", 2, 3, "19720115"),
]


@pytest.mark.parametrize("flexible_women", [55, 50])
def test_pre_service_months_are_the_rules_months_at_the_edges_of_a_delay_step(tmp_path, flexible_women):
    push = Push(tmp_path)
    push.settings = load_settings().with_overrides(flexible_women_original_age=flexible_women)
    cohort = list(EDGES)
    if flexible_women == 50:  # at 50, a woman in flexible employment born 1977-01 is in scope
        cohort.append(("woman in flexible employment at 50", 2, 3, "19770115"))
    persons = [person(i + 1, gender=g, person_type=t, birth_date=b) for i, (_, g, t, b) in enumerate(cohort)]
    _run(push, "2026-11", persons)
    texts = _notices(push, "PRE_SERVICE")
    for (label, g, t, b), p in zip(cohort, persons):
        f = _facts(g, t, b, flexible_women)
        if f["O"] - NOV > 12:
            assert p["id_no"] not in texts, label  # out of scope at this setting
            continue
        text = texts[p["id_no"]]  # past the original age: taken in by screening (flag, within 24 months)
        assert f"{'已于' if f['S'] < NOV else '将于'}{_zh(f['S'])}达到法定退休年龄" in text, (label, text)
        assert _flexible_sentence(f) in text, (label, text)
        assert not re.search(r"\d{4}-\d{2}(?!\d)", text.replace("咨询电话", "")), text


def _flexible_sentence(f: dict) -> str:
    """What PRE_SERVICE offers of flexible retirement in 2026-11 (rules.md §1, templates/sms/pre_service)."""
    if f["latest"] < NOV:
        return "减少您正式退休时因材料不齐、手续不全导致的办理延误。您可通过"
    if f["S"] < NOV:
        return f"可选择弹性延迟退休（最晚{_zh(f['latest'])}）。"
    if f["earliest"] >= NOV:
        return f"可选择弹性退休（最早{_zh(f['earliest'])}，最晚{_zh(f['latest'])}）。"
    return f"可选择弹性提前或延迟退休（最晚{_zh(f['latest'])}）。"


def _run(push: Push, month: str, persons) -> None:
    """run_push_month with the push's settings (run_push_month reads the defaults)."""
    from pipelines.ingest import ingest_batches
    from pipelines.monthly import run_month
    from support.pushkit import segment, write_batch

    push.seq += 1
    b = write_batch(push.tmp / f"b{push.seq}", persons, [segment(p["id_no"]) for p in persons], month=month)
    assert not ingest_batches([b], push.wh, push.settings).refused
    run_month(month, push.wh, push.tmp / "out", settings=push.settings, validate=False)


def test_no_flexible_option_whose_last_month_is_past_and_no_benefit_start_month_gone(tmp_path):
    push = Push(tmp_path)
    long_past = person(1, birth_date="19610315", contribution_status="2")  # S 2021-03, latest 2024-03
    still_open = person(2, birth_date="19650115", contribution_status="2")  # S 2025-02, latest 2028-02
    run_push_month(push, "2026-11", [long_past, still_open])
    pre, overdue = _notices(push, "PRE_SERVICE"), _notices(push, "OVERDUE")

    t = pre[long_past["id_no"]]
    assert "您已于2021年3月达到法定退休年龄" in t
    assert "弹性" not in t and "最晚2024年3月" not in t, t  # was: 可选择弹性延迟退休（最晚2024年3月）
    t = pre[still_open["id_no"]]
    assert "符合条件的可选择弹性延迟退休（最晚2028年2月）。" in t, t

    for p, s, start in ((long_past, "2021年3月", "2021年4月"), (still_open, "2025年2月", "2025年3月")):
        t = overdue[p["id_no"]]
        assert f"您已于{s}达到法定退休年龄，尚未办理退休手续。" in t, t
        assert start not in t and "待遇起领时点" not in t, t  # was: （待遇起领时点2021年4月）
        assert "请您尽快" in t and "12333" in t


HEDGE = "因系统中缺少您的人员类别信息，以上时间暂按原法定退休年龄50周岁计算，以核实结果为准"


def test_a_woman_without_person_type_is_told_her_months_are_provisional(tmp_path):
    """rules.md §1 takes a 110 woman without person_type at 50, the earliest (KEY_INFO_MISSING): a cadre
    (55) among them read 您将于2027年12月达到法定退休年龄 as a fact, six years early."""
    from pipelines import notify

    push = Push(tmp_path)
    unknown = person(1, gender=2, person_type="", birth_date="19761215")  # at 50: O 2026-12, S 2027-12
    worker = person(2, gender=2, person_type="1", birth_date="19761215")
    run_push_month(push, "2026-11", [unknown, worker])
    texts = _notices(push, "PRE_SERVICE")
    f = _facts(2, None, "19761215")
    assert f"将于{_zh(f['S'])}达到法定退休年龄" in texts[unknown["id_no"]]  # the rule's months, as before
    assert HEDGE in texts[unknown["id_no"]], texts[unknown["id_no"]]
    assert HEDGE not in texts[worker["id_no"]]
    # the reminders of the months after say so too (rendered as the run renders them)
    row = {
        "office_code": "640104",
        "insurance_type": 110,
        "reference_mi": NOV,
        "statutory_age_mi": NOV - 1,
        "benefit_start_mi": NOV,
        "age_provisional": True,
    }
    for kind, s_mi in (("AGE_MINUS_3", NOV + 3), ("AGE_REACHED", NOV), ("OVERDUE", NOV - 1)):
        ctx = notify.notice_context(dict(row, statutory_age_mi=s_mi, benefit_start_mi=s_mi + 1), NOV)
        assert HEDGE in notify.render_notice(kind, ctx, push.settings, "k"), kind
        ctx = notify.notice_context(
            dict(row, statutory_age_mi=s_mi, benefit_start_mi=s_mi + 1, age_provisional=False), NOV
        )
        assert HEDGE not in notify.render_notice(kind, ctx, push.settings, "k"), kind


# ------------------------------------------------------------------ DECLARATION and RESULT


def test_declaration_says_chosen_only_of_an_elected_month(tmp_path):
    wh = Wh(tmp_path)
    statutory, elected = wh.person(S=D + 2), wh.person(S=D + 6)
    confirm(wh, [statutory, elected])
    em = D + 2
    rep = wh.apply(
        [row(elected, "ELECTED_MONTH", D0 + timedelta(days=8), elected_month=f"{em // 12}-{em % 12 + 1:02d}")]
    )
    assert rep.refused == 0, rep.lines()
    declare(wh)
    texts = dict(wh.q("SELECT id_no, text FROM notice_log WHERE kind = 'DECLARATION'"))
    month = _zh(D + 2)  # 2027年2月 for both: R = S for one, the elected month for the other
    t = texts[statutory.id_no]
    assert "选定" not in t, t  # was: 请您在选定的退休时间（2027年2月）当月（或前一个月）
    assert f"请您在达到法定退休年龄的当月（{month}）或前一个月" in t and "正式退休申报" in t, t
    t = texts[elected.id_no]
    assert f"请您在选定的退休时间（{month}）当月（或前一个月）" in t, t


def test_a_person_who_elected_to_retire_after_s_is_not_told_the_age_is_near(tmp_path):
    """Delayed retirement (弹性延迟退休): S 2026-10 is past, the elected month 2027-01 is near. 附件3/附件4's
    您已临近法定退休年龄 and 请您在到达法定退休年龄前 are not true of the person any more."""
    wh = Wh(tmp_path)
    enough, short = wh.person(S=D - 2), wh.person(S=D - 2, counted=150)
    confirm(wh, [enough])
    confirm(wh, [short], YEARS_CONFIRMED={"months": 150}, CONCLUSION_ISSUED={"counted_months": 150})  # < 180
    em = D + 1
    elected = f"{em // 12}-{em % 12 + 1:02d}"
    day = D0 + timedelta(days=8)
    rows = [row(p, "ELECTED_MONTH", day, elected_month=elected) for p in (enough, short)]
    assert wh.apply(rows).refused == 0
    declare(wh)
    texts = {
        (i, k): t
        for i, k, t in wh.q("SELECT id_no, kind, text FROM notice_log WHERE kind IN ('DECLARATION', 'CONSULTATION')")
    }
    t = texts[(enough.id_no, "DECLARATION")]
    assert "临近法定退休年龄" not in t and "您选定的退休时间已临近" in t, t
    assert f"请您在选定的退休时间（{_zh(em)}）当月（或前一个月）" in t, t
    t = texts[(short.id_no, "CONSULTATION")]
    assert "法定退休年龄" not in t, t  # was: 您已临近法定退休年龄 … 请您在到达法定退休年龄前
    assert f"您选定的退休时间（{_zh(em)}）已临近" in t and "请您在选定的退休时间前，携带个人档案" in t, t
    assert "前往银川市兴庆区社保中心经办窗口" in t


def test_result_says_who_confirms(tmp_path):
    wh = Wh(tmp_path)
    employed, alone = wh.person(employer=True), wh.person(employer=False)
    for p, confirmer in ((employed, "EMPLOYER"), (alone, "PERSON")):
        rows = path_rows(p, "CONCLUSION_ISSUED")
        assert wh.apply(rows).refused == 0
    texts = dict(wh.q("SELECT id_no, text FROM notice_log WHERE kind = 'RESULT'"))
    t = texts[employed.id_no]
    assert "结论无异议的，由您所在单位组织确认；" in t and "请及时确认" not in t, t
    t = texts[alone.id_no]
    assert "结论无异议的，请您本人通过线上渠道或到社保经办窗口确认；" in t, t
    for t in texts.values():
        assert "15个工作日内向银川市兴庆区社保中心提交异议申诉申请" in t and t.count("【宁夏人社】") == 1
    # the office accepts the confirmation the text asks for, and refuses the other
    day = D0 + timedelta(days=10)
    assert wh.apply([row(employed, "CONFIRMED", day, confirmer="EMPLOYER")]).refused == 0
    assert wh.apply([row(alone, "CONFIRMED", day, confirmer="EMPLOYER")]).refused == 1
    assert wh.apply([row(alone, "CONFIRMED", day, confirmer="PERSON")]).refused == 0


# ------------------------------------------------------------------ letters


def test_coordination_letter_and_handover_name_the_officer_and_the_offices(tmp_path):
    push = Push(tmp_path)
    x = person(1, birth_date="19670315")
    run_push_month(push, "2026-11", [x])
    run_push_month(push, "2026-12", [dict(x, insured_region="640105")])
    (letter,) = (tmp_path / "out" / "2026-12" / "letters" / "640105").glob("*.html")
    html = letter.read_text(encoding="utf-8")
    officer = push.q("SELECT officer_id FROM coordination_letters")[0][0]
    assert officer.startswith("640105-")
    names = dict(
        duckdb.sql(
            f"SELECT officer_id, officer_name FROM read_csv('{DATA_DIR / 'officers.csv'}', all_varchar=true)"
        ).fetchall()
    )
    assert f"经办人：{names[officer]}</p>" in html and officer not in html, html
    assert "银川市兴庆区社会保险事业管理中心：" in html and "银川市西夏区社会保险事业管理中心（公章）" in html
    assert "发函单位代码 640105；收函单位代码 640104" in html and x["id_no"] in html and "测试1" in html
    assert x["phone"] not in html  # the person's facts needed to act, and nothing more
    # the handovers file names both offices beside their codes (it carried codes only)
    with open(tmp_path / "out" / "2026-12" / "handovers" / "handovers.csv", encoding="utf-8-sig", newline="") as fh:
        (h,) = list(csv.DictReader(fh))
    assert (h["移出方"], h["移出方名称"], h["接收方"], h["接收方名称"]) == (
        "640104",
        "银川市兴庆区社会保险事业管理中心",
        "640105",
        "银川市西夏区社会保险事业管理中心",
    )


# ------------------------------------------------------------------ a notice filed by the office the push moved the person to

XINGQING, XIXIA = "银川市兴庆区社保中心", "银川市西夏区社保中心"


def test_a_consultation_raised_before_the_push_moved_the_person_sends_him_to_the_new_office(tmp_path):
    """`declare 2026-12` on the 1st (the person at 640104, short of the minimum: CONSULTATION, 前往…经办窗口),
    then December's push moves him to 640105, then the run: the notice goes out in 640105's batch and
    named 640105's telephone but sent him, with his archive, to 640104's window."""
    from pipelines.declare import declare_month
    from pipelines.monthly import run_month

    push = Push(tmp_path)
    a = person(1, birth_date="19660815", arrears_months=2)  # S 2027-01; in scope by a flag
    run_push_month(push, "2026-11", [a])
    _conclusion(push, a, counted_months=150)
    declare_month("2026-12", push.wh, push.tmp / "out", push.settings)
    push.ingest_incr("2026-12", [dict(a, op="U", insured_region="640105")])
    run_month("2026-12", push.wh, push.tmp / "out", validate=False)
    [(filed, text)] = push.q("SELECT file_office, text FROM notice_log WHERE kind = 'CONSULTATION'")
    assert filed == "640105"
    assert f"前往{XIXIA}经办窗口" in text and XINGQING not in text, text  # was: 前往银川市兴庆区社保中心经办窗口
    assert "咨询电话：0951-0000105" in text
    [(result,)] = push.q("SELECT text FROM notice_log WHERE kind = 'RESULT'")
    assert f"向{XIXIA}提交" in result and XINGQING not in result


def test_a_reminder_a_rerun_deferred_names_the_office_that_sends_it(tmp_path):
    """A correction push of November (already run and sent) takes X in: X's PRE_SERVICE waits for
    December's batch; December's push moves X to 640105. The notice goes out in 640105's batch and said
    银川市兴庆区社保中心为您提供…预服务 beside 640105's telephone."""
    from support.ledger import correction_push

    push = Push(tmp_path)
    a, x = person(1, birth_date="19670315"), person(2, birth_date="19670515")
    run_push_month(push, "2026-11", [a])
    correction_push(push, "2026-11", [a, x])
    assert push.q("SELECT issued_mi FROM notice_log WHERE id_no = ? AND kind = 'PRE_SERVICE'", [x["id_no"]]) == [
        (NOV + 1,)
    ]
    run_push_month(push, "2026-12", [a, dict(x, insured_region="640105")])
    [(filed, text)] = push.q(
        "SELECT file_office, text FROM notice_log WHERE id_no = ? AND kind = 'PRE_SERVICE'", [x["id_no"]]
    )
    assert filed == "640105"
    assert f"{XIXIA}为您提供养老保险退休预服务" in text and XINGQING not in text, text
    sms = (tmp_path / "out" / "2026-12" / "notifications" / "640105" / "sms.csv").read_text(encoding="utf-8-sig")
    assert x["id_no"] in sms and XINGQING not in sms


def test_no_office_short_name_is_part_of_another():
    """sql/notify/48_settle_texts.sql replaces the named office's short name: it must not be part of another's."""
    from pipelines.notify import office_short_name, offices

    names = [office_short_name(o["office_name"]) for o in offices().values()]
    assert len(set(names)) == len(names)
    assert not [(a, b) for a in names for b in names if a != b and a in b]


def _conclusion(push: Push, p: dict, counted_months: int) -> None:
    """640104's feedback to a confirmed conclusion of ``counted_months`` in November."""
    import csv

    from pipelines.feedback import COLUMNS, apply_feedback_files

    rows = [
        {"event": "ARCHIVE_REVIEWED", "result": "PASS"},
        {"event": "YEARS_CONFIRMED", "months": str(counted_months)},
        {"event": "RELATIONS_MERGED", "merge_status": "MERGED"},
        {
            "event": "CONCLUSION_ISSUED",
            "merge_status": "MERGED",
            "counted_months": str(counted_months),
            "archive_conclusion": "PASS",
            "base_data": "b",
        },
        {"event": "RESULT_RECEIVED"},
        {"event": "CONFIRMED", "confirmer": "EMPLOYER"},
    ]
    f = push.tmp / "fb.csv"
    with open(f, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(COLUMNS))
        w.writeheader()
        for i, r in enumerate(rows):
            w.writerow({"office_code": "640104", "id_no": p["id_no"], "event_date": f"2026-11-{2 + i:02d}", **r})
    assert apply_feedback_files([f], push.wh).files[0].refused == 0


def test_a_roster_edited_since_the_worker_started_signs_the_next_letters(tmp_path, monkeypatch):
    """officer_names was cached for the process's life: a long-lived Airflow worker signed letters
    with the roster as it was when it started (review of the sixteenth session)."""
    import os

    import pipelines.notify  # noqa: F401 -- notify_files is imported through it
    from pipelines import notify_files

    roster = tmp_path / "officers.csv"
    roster.write_text("officer_id,officer_name\n640104-01,王一\n", encoding="utf-8")
    monkeypatch.setattr(notify_files, "DATA_DIR", tmp_path)
    assert notify_files.officer_on_letter("640104-01") == "王一"
    roster.write_text("officer_id,officer_name\n640104-01,李二二\n", encoding="utf-8")
    st = roster.stat()
    os.utime(roster, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert notify_files.officer_on_letter("640104-01") == "李二二"
