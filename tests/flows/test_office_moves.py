"""A person's office or benefit place changing between months, and a correction push of a month
already run that changes it again (rules.md §2 handovers, §3 responsible office; outputs.md
handovers/, letters/<office>/, "an office never receives another office's persons").

Found by an adversarial probe (fourteenth session): P's first run moved X from 640104 to 640105
(a handover 640104 -> 640105, a coordination letter in 640105's folder); a correction push of P
put X at 640106 (or back at 640104) and P's rerun moved the entry there, but the handover key
(month, person, kind) was taken, so the month's handovers still said 640104 -> 640105, the new
office was told nothing and 640105's letters folder kept a letter about a person it no longer holds."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from support.ledger import Push, correction_push, run_push_month
from support.pushkit import person, segment

DEC = 24323


def _handovers(push: Push, month: str) -> list[tuple]:
    f = push.tmp / "out" / month / "handovers" / "handovers.parquet"
    return duckdb.sql(f"SELECT id_no, kind, from_code, to_code, reason FROM '{f}'").fetchall()


def _letters(push: Push, month: str) -> dict[str, list[str]]:
    """office folder -> the letters' texts"""
    base = push.tmp / "out" / month / "letters"
    return {d.name: [f.read_text(encoding="utf-8") for f in sorted(d.glob("*.html"))] for d in base.glob("*")}


def _worklist_office(push: Push, month: str, id_no: str) -> list[str]:
    base = push.tmp / "out" / month / "worklists"
    return [
        d.name
        for d in sorted(base.iterdir())
        if duckdb.sql(f"SELECT count(*) FROM '{d}/worklist.parquet' WHERE id_no = '{id_no}'").fetchall()[0][0]
    ]


@pytest.fixture(scope="module", params=["640106", "640104"], ids=["on-to-a-third-office", "back-to-the-first-office"])
def corrected_move(request, tmp_path_factory):
    """X (640104) in scope in November; December's push moves X to 640105 and December is run;
    a correction push of December puts X at ``request.param`` and December is run again.  Built once a
    parameter (module scope: its tests only read it)."""
    push = Push(tmp_path_factory.mktemp("corrected-move"))
    x, z = person(1, birth_date="19670315"), person(3, birth_date="19670515")  # O 2027-03, 2027-05
    run_push_month(push, "2026-11", [x, z])
    run_push_month(push, "2026-12", [dict(x, insured_region="640105"), z])
    assert _worklist_office(push, "2026-12", x["id_no"]) == ["640105"]
    assert [h[1:4] for h in _handovers(push, "2026-12")] == [("OFFICE_CHANGE", "640104", "640105")]
    assert len(_letters(push, "2026-12")["640105"]) == 1
    correction_push(push, "2026-12", [dict(x, insured_region=request.param), z])
    return push, x["id_no"], request.param


def test_the_rerun_hands_the_person_to_the_office_that_now_lists_him(corrected_move):
    push, x, office = corrected_move
    assert _worklist_office(push, "2026-12", x) == [office]
    (h,) = [h for h in _handovers(push, "2026-12") if h[0] == x]
    # the month's handover ends where the person is, and says that the earlier run had him at 640105
    assert h[3] == office, f"handover {h[2]} -> {h[3]} but the entry is at {office}"
    assert "640105" in h[4]
    assert h[2] == "640104"  # handed over from the office of the month before (where the pre-review is)


def test_no_office_keeps_a_letter_about_a_person_it_no_longer_holds(corrected_move):
    push, x, office = corrected_move
    letters = _letters(push, "2026-12")
    assert not any(x in text for text in letters.get("640105", [])), "640105 keeps a letter about X"
    stored = push.q("SELECT sender, recipient FROM coordination_letters WHERE id_no = ? AND first_mi = ?", [x, DEC])
    if office == "640104":  # back where the pre-review is: nobody to ask
        assert stored == []
    else:  # the new office asks the office of the month before
        assert stored == [("640106", "640104")]
        assert any(x in text for text in letters["640106"])


# ------------------------------------------------------------------ what a letter says of the old office
# A coordination letter (附件1) said 原在你处进行了退休预审 … 请你处将退休预审结果…转发我处 whatever the
# ledger recorded: in the demo and in generated cohorts every OFFICE_CHANGE letter concerned an entry still
# NOTIFIED, the receiving office was asked for results it does not have; a 170 person's letter asked for
# the employees' archive pre-review (docs/decisions.md "A coordination letter tells what the ledger records").

OFFICIAL = "原在你处进行了退休预审。现申请在我处办理企业职工基本养老保险退休手续，请你处将退休预审结果（含档案信息预审结论和档案重点要件材料扫描版）转发我处。"


def _archive_reviewed(push: Push, office: str, id_no: str, day: str) -> None:
    import csv as _csv

    from pipelines.feedback import COLUMNS, apply_feedback_files

    f = push.tmp / f"fb-{office}-{day}.csv"
    with open(f, "w", encoding="utf-8", newline="") as fh:
        w = _csv.DictWriter(fh, fieldnames=list(COLUMNS))
        w.writeheader()
        w.writerow(
            {"office_code": office, "event": "ARCHIVE_REVIEWED", "id_no": id_no, "event_date": day, "result": "PASS"}
        )
    rep = apply_feedback_files([f], push.wh)
    assert rep.files[0].refused == 0, rep.lines()


@pytest.fixture(scope="module")
def moves(tmp_path_factory):
    """November: reviewed (archive pre-review recorded by 640104), notified (still NOTIFIED), resident
    (170, NOTIFIED) at 640104; incoming's benefit place is Shaanxi (its only segment there).  December:
    the three move to 640105/640106, incoming's place becomes Ningxia (a later segment at home).  Built
    once (module scope): the tests that only read it share it, a test that writes takes ``moves_copy``."""
    push = Push(tmp_path_factory.mktemp("moves"))
    reviewed = person(11, birth_date="19670315")
    notified = person(12, birth_date="19670415")
    resident = person(
        13, birth_date="19670515", insurance_type="170", person_type="", employer_uscc="", employer_name=""
    )
    incoming = person(14, birth_date="19670615")
    nov = [reviewed, notified, resident, incoming]
    segs = [segment(p["id_no"]) for p in nov[:3]] + [segment(incoming["id_no"], region="610102", end="202012")]
    run_push_month(push, "2026-11", nov, segs)
    assert push.q("SELECT count(*) FROM ledger_entries WHERE id_no = ?", [incoming["id_no"]]) == [(0,)]
    _archive_reviewed(push, "640104", reviewed["id_no"], "2026-11-10")
    dec = [
        dict(reviewed, insured_region="640105"),
        dict(notified, insured_region="640105"),
        dict(resident, insured_region="640106"),
        incoming,
    ]
    segs = [segment(p["id_no"]) for p in nov[:3]] + [
        segment(incoming["id_no"], region="610102", end="201012"),
        segment(incoming["id_no"], region="640104", start="201101", end="202012"),
    ]
    run_push_month(push, "2026-12", dec, segs)
    return push, {"reviewed": reviewed, "notified": notified, "resident": resident, "incoming": incoming}


@pytest.fixture
def moves_copy(moves, tmp_path):
    """``moves`` copied into the test's own folder (warehouse and outputs), for a test that writes."""
    push, persons = moves
    shutil.copytree(push.tmp, tmp_path / "world")
    copy = Push(tmp_path / "world")
    copy.seq = push.seq
    return copy, persons


def _letter_of(push: Push, id_no: str) -> tuple[str, str, str]:
    """(office folder, file name, text) of the one letter of December about id_no"""
    found = [
        (office, i) for office, texts in _letters(push, "2026-12").items() for i, t in enumerate(texts) if id_no in t
    ]
    assert len(found) == 1, found
    office, i = found[0]
    files = sorted((push.tmp / "out" / "2026-12" / "letters" / office).glob("*.html"))
    return office, files[i].name, files[i].read_text(encoding="utf-8")


def test_a_letter_keeps_the_official_words_where_the_old_office_did_the_pre_review(moves):
    push, p = moves
    office, _, text = _letter_of(push, p["reviewed"]["id_no"])
    assert office == "640105" and "银川市兴庆区社会保险事业管理中心：" in text
    assert "临退人员档案预审结果协调函" in text and OFFICIAL in text
    assert "尚未" not in text and "没有其在你处" not in text


def test_a_letter_says_the_pre_review_was_not_done_where_the_entry_left_notified(moves):
    push, p = moves
    office, _, text = _letter_of(push, p["notified"]["id_no"])
    assert office == "640105"
    assert "原在你处进行了退休预审" not in text and "退休预审结果" not in text, "asks for a pre-review never done"
    assert "转出你处时办理环节为“已告知”，尚未进行档案预审" in text
    assert "请你处将已收集的该参保人档案材料（扫描版）转发我处；未收集的，请函复告知。" in text
    assert "企业职工基本养老保险退休手续" in text


def test_a_residents_letter_asks_for_no_employees_archive_pre_review(moves):
    push, p = moves
    office, _, text = _letter_of(push, p["resident"]["id_no"])
    assert office == "640106"
    assert "临退人员预服务情况协调函" in text and "临退人员档案预审结果协调函" not in text
    assert "兹有城乡居民基本养老保险参保人" in text and "城乡居民基本养老保险待遇领取手续" in text
    assert "企业职工" not in text and "档案预审" not in text and "退休预审结果" not in text
    assert "转出你处时办理环节为“已告知”" in text


def test_a_move_into_ningxia_asks_the_other_province_for_what_it_holds(moves):
    push, p = moves
    office, _, text = _letter_of(push, p["incoming"]["id_no"])
    assert office == "640104" and "陕西省省级社会保险经办机构：" in text
    assert "原在你处进行了退休预审" not in text, "the ledger has no record of the other province's work"
    assert "经核定，其基本养老保险待遇领取地已变更为我区" in text
    assert "我处没有其在你处进行退休预审的记录：如你处已为其进行退休预审，请将退休预审结果" in text
    assert "未进行的，请将你处掌握的该参保人档案材料（扫描版）转发我处，或函复告知。" in text
    assert "待遇领取地变更为我区" in text


def test_a_rerun_writes_the_same_letters_whatever_the_new_office_did_since(moves_copy):
    """The letter states the stage the entry left the old office in (its move's transition): the new
    office's pre-review recorded since does not rewrite it, nor its id, on a rerun of the month."""
    from pipelines.monthly import run_month

    push, p = moves_copy
    base = push.tmp / "out" / "2026-12" / "letters"
    before = {f.relative_to(base): f.read_bytes() for f in base.rglob("*.html")}
    assert len(before) == 4
    _archive_reviewed(push, "640105", p["notified"]["id_no"], "2026-12-03")
    run_month("2026-12", push.wh, push.tmp / "out", validate=False)
    assert {f.relative_to(base): f.read_bytes() for f in base.rglob("*.html")} == before
