"""The office's receipt (回执) of a feedback file (issue 16, eighth session; docs/feedback-format.md "Receipt").

Per file: the counts and every refused row with its row number, event, the reason code's Chinese
label and a Chinese reason saying what to fix, from one table (data/labels.csv, domains ``refusal``
and ``refusal_text``); a file refused whole gets one line.  Privacy: no other office's person.
"""

from __future__ import annotations

import logging
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest

from pipelines import labels
from pipelines.feedback import FeedbackFileRefused, apply_feedback_files
from pipelines.feedback.format import REASONS
from pipelines.feedback.receipts import HEADER, NO_OFFICE, reason_zh, receipt_path
from support.pushkit import make_id
from support.feedback import D0, Wh, path_rows, row

ROOT = Path(__file__).resolve().parents[2]
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def wh(tmp_path):
    return Wh(tmp_path)


def _apply(wh: Wh, rows, name=None, office="640104", **kw):
    path = wh.write(rows, name=name, **kw)
    return path, apply_feedback_files([path], wh.path, wh.settings, office=office, receipts=wh.tmp / "receipts")


def _read(path: Path) -> tuple[dict, list[dict]]:
    """The receipt: its summary lines {label: text} and its table of refused rows."""
    ws = openpyxl.load_workbook(path)["回执"]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    summary, table, head = {}, [], None
    for r in rows[1:]:
        if head is not None:
            if r[0] is None or not str(r[0]).isdigit():
                break
            table.append(dict(zip(head, r)))
        elif tuple(r[: len(HEADER)]) == HEADER:
            head = HEADER
        elif r[0] and r[1]:
            summary[r[0]] = r[1]
    return summary, table


def _xml(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml"))


# ------------------------------------------------------------------------------------------ the table


def _documented_codes() -> set[str]:
    """Every reason code docs/feedback-format.md names under "Refusals": the rows' table and the
    whole-file refusals."""
    text = (ROOT / "docs/feedback-format.md").read_text(encoding="utf-8")
    part = text.split("## Refusals", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `([A-Z_]+)` \|", part, re.M))
    whole = part.split("Whole-file refusals", 1)[1]
    return rows | set(re.findall(r"`([A-Z][A-Z_]+)`", whole)) - {"REFUSED"}


def test_every_documented_reason_code_has_a_chinese_label_and_text():
    codes = _documented_codes()
    assert set(REASONS) <= codes and {"ENCODING", "MIXED_LINE_ENDS", "NOT_XLSX", "TWO_FEEDBACK_SHEETS"} <= codes
    t = labels.table()
    missing = sorted(c for c in codes if c not in t["refusal"] or not HAN.search(t["refusal"][c]["zh"]))
    assert missing == [], f"reason codes without a Chinese label (data/labels.csv, domain refusal): {missing}"
    no_text = sorted(c for c in codes if not HAN.search(t["refusal"][c]["help"]))
    assert no_text == [], f"reason codes without a Chinese text saying what to do: {no_text}"
    # a refusal without a text of its own shows a Chinese text for its code
    assert all(HAN.search(reason_zh(c, None, {})) for c in codes)


def test_every_text_the_code_names_is_in_the_table_and_every_text_is_used():
    src = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "pipelines/feedback").glob("*.py"))
    used = set(re.findall(r'"([A-Z_]+\.[a-z_]+)"', src))
    texts = set(labels.table()["refusal_text"])
    assert used - texts == set(), "texts named in pipelines/feedback without a row in data/labels.csv"
    assert {t for t in texts if "." in t} - used == set(), "texts of data/labels.csv nothing raises"
    assert {t.split(".")[0] for t in texts} <= set(labels.table()["refusal"])


#: a value for every parameter a text may name
PARAMS = dict(
    column="result",
    columns=("counted_months", "merge_status"),
    event="CONFIRMED",
    stage="NOTIFIED",
    values=("PASS", "FAIL"),
    expected="EMPLOYER",
    given="PERSON",
    line=7,
    first=3,
    last=4,
    n=2,
    width=19,
    max=2000,
    names="elected_mnth",
    error="PermissionError",
    mb=400,
    sheet="反馈 (2)",
    month="2027-02",
    earliest="2026-01",
    latest="2029-12",
    need=180,
    have=150,
    day="2026-11-06",
    deadline="2026-11-27",
)


@pytest.mark.parametrize("key", sorted(labels.table()["refusal_text"]))
def test_every_text_renders_in_chinese_with_its_parameters(key):
    code = key.split(".")[0]
    text = reason_zh(code, key, PARAMS)
    assert "{" not in text and HAN.search(text)
    # codes and column names come out as their labels, never as English
    assert not re.search(r"\b(months|CONFIRMED|NOTIFIED|EMPLOYER|PASS|counted_months)\b", text), text


def test_a_text_without_its_parameter_falls_back_to_the_codes_generic_text():
    assert reason_zh("LATE_OBJECTION", None, {}) == labels.table()["refusal"]["LATE_OBJECTION"]["help"]
    assert reason_zh("MALFORMED", "MALFORMED.no_such_text", {}) == labels.table()["refusal_text"]["MALFORMED"]["zh"]


# ------------------------------------------------------------------------------------------ receipts


def test_receipt_lists_every_refused_row_in_chinese(wh, caplog):
    own = wh.person()
    early = wh.person()
    elsewhere = wh.person(office="640105")
    rows = [
        row(own, "ARCHIVE_REVIEWED", D0, result="PASS"),  # 1 applied
        row(own, "YEARS_CONFIRMED", D0 + timedelta(days=1)),  # 2 months missing
        row(own, "CONFIRMED", D0 + timedelta(days=2), confirmer="EMPLOYER"),  # 3 no conclusion
        row(own, "NO_SUCH_EVENT", D0),  # 4
        row(elsewhere, "ARCHIVE_REVIEWED", D0, result="PASS", office_code="640104"),  # 5 another office's person
        row(early, "RETIRED", D0 - timedelta(days=40)),  # 6 before the entry was opened
        row(own, "ARCHIVE_REVIEWED", D0, result="PASS", office_code="640105"),  # 7 another office's row
        row(own, "ARCHIVE_REVIEWED", D0, result="MAYBE"),  # 8 not one of the codes
    ]
    # a valid ID number without any entry: the same text as another office's person
    unknown = row(own, "YEARS_CONFIRMED", D0, months="300", id_no=make_id(prefix="640104", birth="19661115", seq=987))
    rows.append(unknown)  # 9 no entry at all
    caplog.set_level(logging.INFO)
    path, rep = _apply(wh, rows, name="fb-640104-2026-11.csv")
    f = rep.files[0]
    assert (f.rows, f.accepted, f.refused) == (9, 1, 8), rep.lines()
    receipt = receipt_path(wh.tmp / "receipts", "640104", path.name)
    assert receipt == wh.tmp / "receipts/640104/fb-640104-2026-11.回执.xlsx" and receipt.is_file()
    summary, table = _read(receipt)
    assert summary["经办机构"] == "640104" and summary["文件"] == path.name and summary["处理结果"] == "已处理"
    assert summary["行数"] == "共9行：已处理1行，此前已处理、本次未重复处理0行，退回8行"
    by = {int(r["序号"]): r for r in table}
    assert sorted(by) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert all(r["表格行"] == str(n + 1) for n, r in by.items())
    ev, col = labels.label("event", "YEARS_CONFIRMED"), labels.label("feedback_column", "months")
    assert by[2]["事件"] == ev and by[2]["说明（请按此改正）"] == f"“{ev}”须填写“{col}”"
    assert by[2]["退回原因"] == "格式不符" and by[2]["原因代码"] == "MALFORMED"
    assert (
        by[3]["原因代码"] == "IMPOSSIBLE_TRANSITION"
        and labels.label("stage", "ARCHIVE_REVIEWED") in by[3]["说明（请按此改正）"]
    )
    assert by[4]["原因代码"] == "UNKNOWN_EVENT" and by[4]["事件"] in ("", None)
    assert by[6]["原因代码"] == "DATE_OUT_OF_ORDER" and "2026-11" in by[6]["说明（请按此改正）"]
    assert by[7]["原因代码"] == "WRONG_OFFICE"
    assert by[8]["说明（请按此改正）"].startswith("“" + labels.label("feedback_column", "result") + "”须为以下之一：")
    assert labels.label("result", "PASS") in by[8]["说明（请按此改正）"]
    # every reason is Chinese (no English text of the warehouse)
    assert all(HAN.search(r["说明（请按此改正）"]) and " is " not in r["说明（请按此改正）"] for r in table)
    # the office's own persons (a row that found its ledger entry) are named by their ID number (as text) ...
    assert by[3]["公民身份号码"] == own.id_no and by[6]["公民身份号码"] == early.id_no
    # (also a row refused by its own checks: a missing column, an unknown event or code, another office's code)
    assert by[2]["公民身份号码"] == by[4]["公民身份号码"] == by[7]["公民身份号码"] == by[8]["公民身份号码"] == own.id_no
    ws = openpyxl.load_workbook(receipt)["回执"]
    assert all(c.data_type == "s" for r in ws.iter_rows() for c in r if c.value == own.id_no)
    # ... another office's person is not: the same code and text as an ID number without any entry
    assert by[5]["原因代码"] == by[9]["原因代码"] == "UNKNOWN_PERSON"
    assert (by[5]["说明（请按此改正）"], by[5]["公民身份号码"]) == (by[9]["说明（请按此改正）"], by[9]["公民身份号码"])
    assert by[5]["公民身份号码"] in ("", None)
    xml = _xml(receipt)
    assert elsewhere.id_no not in xml and "测试3" not in xml  # neither its ID number nor its name
    # the warehouse keeps the English reason (the division's) and the Chinese one the receipt shows
    got = wh.q("SELECT reason, reason_zh FROM feedback_rows WHERE row_no = 2")[0]
    assert got[0] == "months is required for YEARS_CONFIRMED" and got[1] == by[2]["说明（请按此改正）"]
    # the log names the receipt, never an ID number
    assert "receipt written: 640104/" in caplog.text
    assert all(p.id_no not in caplog.text for p in (own, early, elsewhere)) and unknown["id_no"] not in caplog.text


def test_file_without_refusals_says_so(wh):
    p = wh.person()
    path, _ = _apply(wh, path_rows(p, "RELATIONS_MERGED"))
    summary, table = _read(receipt_path(wh.tmp / "receipts", "640104", path.name))
    assert table == [] and summary["怎么办"] == "全部行均已处理，没有退回的行"
    assert summary["行数"].startswith("共3行：已处理3行")


def test_same_file_twice_keeps_its_receipt_and_a_copy_says_it_was_not_applied_again(wh):
    p = wh.person()
    path, _ = _apply(wh, [row(p, "ARCHIVE_REVIEWED", D0, result="PASS"), row(p, "CONFIRMED", D0)])
    receipt = receipt_path(wh.tmp / "receipts", "640104", path.name)
    first, mtime = receipt.read_bytes(), receipt.stat().st_mtime_ns
    rep = apply_feedback_files([path], wh.path, wh.settings, office="640104", receipts=wh.tmp / "receipts")
    assert rep.files[0].status == "ALREADY_APPLIED"
    assert receipt.read_bytes() == first and receipt.stat().st_mtime_ns == mtime  # the same file, untouched
    # a receipt lost is written again, the same
    receipt.unlink()
    apply_feedback_files([path], wh.path, wh.settings, office="640104", receipts=wh.tmp / "receipts")
    assert receipt.read_bytes() == first
    # the same bytes under another name: its own receipt, not applied again, the first time's results
    copy = wh.tmp / "again.csv"
    copy.write_bytes(path.read_bytes())
    apply_feedback_files([copy], wh.path, wh.settings, office="640104", receipts=wh.tmp / "receipts")
    summary, table = _read(receipt_path(wh.tmp / "receipts", "640104", "again.csv"))
    assert (
        summary["处理结果"].startswith(f"与已处理的文件“{path.name}”完全相同")
        and "本次未重复处理" in summary["处理结果"]
    )
    assert [r["原因代码"] for r in table] == ["MALFORMED"]
    assert _read(receipt)[0]["处理结果"] == "已处理"  # the first file's receipt is not changed


def test_whole_file_refusal_gets_a_one_line_receipt(wh):
    p = wh.person()
    path = wh.write([row(p, "ARCHIVE_REVIEWED", D0, result="PASS")], header=["office_code", "event", "event_date"])
    with pytest.raises(FeedbackFileRefused):
        apply_feedback_files([path], wh.path, wh.settings, office="640104", receipts=wh.tmp / "receipts")
    summary, table = _read(receipt_path(wh.tmp / "receipts", "640104", path.name))
    assert table == []
    assert summary["处理结果"].startswith("整个文件未处理")
    assert summary["原因"] == "表头不符：缺少必填列：公民身份号码；整个文件未处理，请补上这些列后重新报送".replace(
        "公民身份号码", labels.label("feedback_column", "id_no")
    )
    # refused again on the next run: the same receipt (the time of the first refusal)
    first = receipt_path(wh.tmp / "receipts", "640104", path.name).read_bytes()
    with pytest.raises(FeedbackFileRefused):
        apply_feedback_files([path], wh.path, wh.settings, office="640104", receipts=wh.tmp / "receipts")
    assert receipt_path(wh.tmp / "receipts", "640104", path.name).read_bytes() == first


def test_file_of_several_offices_without_office_is_refused_into_the_no_office_folder(wh):
    a, b = wh.person(), wh.person(office="640105")
    path = wh.write([row(a, "ARCHIVE_REVIEWED", D0, result="PASS"), row(b, "ARCHIVE_REVIEWED", D0, result="PASS")])
    with pytest.raises(FeedbackFileRefused):
        apply_feedback_files([path], wh.path, wh.settings, receipts=wh.tmp / "receipts")
    receipt = wh.tmp / "receipts" / NO_OFFICE / f"{path.stem}.回执.xlsx"
    summary, _ = _read(receipt)
    assert summary["原因"].startswith("含多个机构的数据：文件中含有2个经办机构的数据")
    assert a.id_no not in _xml(receipt) and b.id_no not in _xml(receipt)


def test_id_number_a_spreadsheet_turned_into_a_number(wh):
    """Must show 3 of issue 16: refused MALFORMED, told to format the column as text, never matched."""
    p = wh.person()
    book = wh.tmp / "worklist.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "反馈"
    ws.append([labels.label("feedback_column", c) for c in ("office_code", "event", "id_no", "event_date", "result")])
    ws.append(["640104", labels.label("event", "ARCHIVE_REVIEWED"), float(p.id_no[:17]) * 10, D0.isoformat(), "PASS"])
    ws.append(["640104", "ARCHIVE_REVIEWED", p.id_no, D0.isoformat(), "PASS"])
    wb.save(book)
    rep = apply_feedback_files([book], wh.path, wh.settings, office="640104", receipts=wh.tmp / "receipts")
    assert (rep.files[0].refused, rep.files[0].accepted) == (1, 1)
    summary, table = _read(receipt_path(wh.tmp / "receipts", "640104", book.name))
    assert [(r["序号"], r["原因代码"]) for r in table] == [("1", "MALFORMED")]
    r = table[0]
    assert "设置为“文本”格式" in r["说明（请按此改正）"] and r["公民身份号码"] in ("", None)
    assert r["事件"] == labels.label("event", "ARCHIVE_REVIEWED")
    assert wh.q("SELECT entry_id FROM feedback_rows WHERE row_no = 1") == [(None,)]  # never matched


def test_cli_writes_the_receipt_under_out(wh, tmp_path, capsys):
    from pipelines.cli import main

    p = wh.person()
    path = wh.write([row(p, "CONFIRMED", D0, confirmer="EMPLOYER")])
    out = tmp_path / "out"
    assert main(["feedback", "--office", "640104", "--warehouse", str(wh.path), "--out", str(out), str(path)]) == 0
    summary, table = _read(out / "feedback" / "640104" / f"{path.stem}.回执.xlsx")
    assert [r["原因代码"] for r in table] == ["IMPOSSIBLE_TRANSITION"]


def test_a_receipt_that_cannot_be_written_does_not_stop_the_other_files(wh):
    p, q = wh.person(), wh.person()
    (wh.tmp / "receipts" / "640104").mkdir(parents=True)
    first = wh.write([row(p, "ARCHIVE_REVIEWED", D0, result="PASS")], name="a.csv")
    second = wh.write([row(q, "ARCHIVE_REVIEWED", D0, result="PASS")], name="b.csv")
    receipt_path(wh.tmp / "receipts", "640104", "a.csv").mkdir()  # in the receipt's way: cannot be written
    rep = apply_feedback_files([first, second], wh.path, wh.settings, office="640104", receipts=wh.tmp / "receipts")
    assert [f.status for f in rep.files] == ["APPLIED", "APPLIED"] and wh.stage(q) == "ARCHIVE_REVIEWED"
    assert any("receipt of a.csv was not written" in w for w in rep.warnings)
    assert receipt_path(wh.tmp / "receipts", "640104", "b.csv").is_file()
    # once the way is clear, the next feedback of the file writes it
    receipt_path(wh.tmp / "receipts", "640104", "a.csv").rmdir()
    apply_feedback_files([first], wh.path, wh.settings, office="640104", receipts=wh.tmp / "receipts")
    assert _read(receipt_path(wh.tmp / "receipts", "640104", "a.csv"))[0]["处理结果"] == "已处理"


def test_a_row_refused_by_its_own_checks_shows_the_id_number_of_the_offices_own_person(wh):
    """Refused before the person was looked up (a bad date, a missing column, an unknown code, another
    office's code): the receipt showed no ID number even for the office's own person, and the officer
    could not find the row.  Now it does, when the ID number names an entry of the office; another
    office's person, an unknown or invalid ID number: none, as for UNKNOWN_PERSON (sixteenth session)."""
    own, other = wh.person(), wh.person()
    elsewhere = wh.person(office="640105")
    closed = wh.person(stage="RETIRED")
    invalid = own.id_no[:-1] + ("0" if own.id_no[-1] != "0" else "1")
    unknown = make_id(prefix="640104", birth="19661115", seq=987)
    rows = [
        row(own, "ARCHIVE_REVIEWED", D0, result="PASS") | {"event_date": "11/2/2026"},  # 1 date ambiguous
        row(other, "YEARS_CONFIRMED", D0),  # 2 months missing
        row(own, "NO_SUCH_EVENT", D0),  # 3
        row(own, "ARCHIVE_REVIEWED", D0, result="PASS", office_code="640105"),  # 4 another office's code
        row(elsewhere, "ARCHIVE_REVIEWED", D0, office_code="640104") | {"event_date": "11/2/2026"},  # 5
        row(elsewhere, "YEARS_CONFIRMED", D0, office_code="640104"),  # 6 months missing
        row(own, "ARCHIVE_REVIEWED", D0, result="PASS") | {"id_no": invalid, "event_date": "2026/13/1"},  # 7
        row(own, "YEARS_CONFIRMED", D0) | {"id_no": unknown},  # 8 no entry at all
        row(closed, "YEARS_CONFIRMED", D0),  # 9 the office's own (closed) entry
        row(own, "ARCHIVE_REVIEWED", D0, result="MAYBE") | {"id_no": own.id_no.lower()[:-1] + own.id_no[-1].lower()},
    ]
    path, rep = _apply(wh, rows, name="fb-own.csv")
    assert rep.files[0].refused == 10
    _, table = _read(receipt_path(wh.tmp / "receipts", "640104", path.name))
    by = {int(r["序号"]): r for r in table}
    assert {n: r["原因代码"] for n, r in by.items()} == {
        1: "MALFORMED",
        2: "MALFORMED",
        3: "UNKNOWN_EVENT",
        4: "WRONG_OFFICE",
        5: "MALFORMED",
        6: "MALFORMED",
        7: "MALFORMED",
        8: "MALFORMED",
        9: "MALFORMED",
        10: "MALFORMED",
    }
    shown = {n: r["公民身份号码"] or "" for n, r in by.items()}
    assert shown == {
        1: own.id_no,
        2: other.id_no,
        3: own.id_no,
        4: own.id_no,
        5: "",
        6: "",
        7: "",
        8: "",
        9: closed.id_no,
        10: own.id_no,
    }
    # the day as read, when it was one (never the cell as typed: it could hold anything)
    assert by[1]["发生日期"] in ("", None) and by[2]["发生日期"] == D0.isoformat()
    xml = _xml(receipt_path(wh.tmp / "receipts", "640104", path.name))
    assert elsewhere.id_no not in xml and unknown not in xml and invalid not in xml
    # nothing about these rows changed anything, and the order line is not raised by them
    assert wh.one("SELECT count(*) FROM feedback_events") == 0
    assert wh.q("SELECT count(*) FROM feedback_rows WHERE person_key IS NOT NULL") == [(0,)]
