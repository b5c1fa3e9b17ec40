"""The offline notices list as a workbook (seventeenth session): ``notifications/<office>/offline.xlsx``
beside ``offline.csv`` (outputs.md; rules.md §5), for the county officer who hands the notices to the
employer or the township.

Before it, the officer had the CSV only: in a spreadsheet the ID numbers and an all-digit 统一社会信用代码
became ``6.40104E+17``, the kind and the channel were codes, 线下告知原因 English ("phone is not a valid
mobile") and the notice's text one endless line.
"""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest

from pipelines.identifiers import uscc_check_char
from pipelines.notify_files import OFFLINE_COLUMNS
from pipelines.tabular import dictionary
from support.ledger import Push, run_push_month
from support.pushkit import make_id, person
from support.soffice import read_csv as _csv, sheets_as_csv

MONTH = "2026-11"


def _digits_uscc() -> str:
    """A valid credit code of 18 digits (GB 32100): the kind a spreadsheet turns into a number."""
    for n in range(1000):
        first17 = f"91640100{n:09d}"
        if uscc_check_char(first17).isdigit():
            return first17 + uscc_check_char(first17)
    raise AssertionError("no all-digit code")


USCC = _digits_uscc()


def _p(n: int, office: str = "640104", **kw) -> dict:
    p = person(n, birth_date="19660815", arrears_months=2, insured_region=office, **kw)  # in scope by a flag
    p["id_no"] = make_id(prefix=office, birth="19660815", seq=n, gender=1)
    return p


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("offline")
    push = Push(tmp)
    ps = {
        "employer": _p(1, phone="", employer_uscc=USCC, employer_name="宁夏数字有限公司"),
        "township": _p(
            2,
            phone="0951-5012345",
            insurance_type="170",
            person_type="",
            employer_uscc="",
            employer_name="",
            hukou_region="640105",
        ),
        "formula": _p(3, phone="", employer_name="=SUM(1,2)有限公司"),
        "sms": _p(4),
        "other": _p(5, office="640202", hukou_region="640202", phone=""),
        "sms_only_office": _p(6, office="640105", hukou_region="640105"),
    }
    run_push_month(push, MONTH, list(ps.values()))
    return push, ps, tmp / "out" / MONTH / "notifications"


def _rows(path: Path, sheet: str = "线下告知") -> list[tuple]:
    return list(openpyxl.load_workbook(path)[sheet].iter_rows(values_only=True))


def test_the_workbook_holds_the_csv_rows_ids_and_credit_codes_as_text(month):
    _, ps, base = month
    offices = sorted(d.name for d in base.iterdir())
    assert {"640104", "640202", "640105"} <= set(offices)
    for office in offices:
        ours = _csv(base / office / "offline.csv")
        ws = openpyxl.load_workbook(base / office / "offline.xlsx")["线下告知"]
        got = [[c.value for c in r] for r in ws.iter_rows()]
        assert got[0] == ours[0] == [dictionary()[c] for c in OFFLINE_COLUMNS]
        assert len(got) == len(ours), office
        for g, o in zip(got[1:], ours[1:]):
            for c in ("notice_id", "id_no", "name", "employer_name", "employer_uscc", "township_hint", "text"):
                i = OFFLINE_COLUMNS.index(c)
                # (the CSV writes a leading apostrophe before a formula's first character; the workbook's
                # cell is text with Excel's quote prefix instead)
                assert g[i] == (re.sub(r"^'(?=[=+\-@])", "", o[i]) or None), (office, c)
        for row in ws.iter_rows(min_row=2):
            for c in ("id_no", "employer_uscc"):
                cell = row[OFFLINE_COLUMNS.index(c)]
                assert cell.value is None or (cell.data_type == "s" and cell.number_format == "@"), c
    mine = {r[2]: r for r in _rows(base / "640104" / "offline.xlsx")[1:]}
    assert set(mine) == {ps["employer"]["id_no"], ps["township"]["id_no"], ps["formula"]["id_no"]}
    assert mine[ps["employer"]["id_no"]][6] == USCC and USCC.isdigit()  # 18 digits, every one kept
    # only the office's own persons
    assert [r[2] for r in _rows(base / "640202" / "offline.xlsx")[1:]] == [ps["other"]["id_no"]]


def test_labels_and_the_reason_in_chinese_the_text_wrapped(month):
    _, ps, base = month
    rows = {r[2]: dict(zip(OFFLINE_COLUMNS, r)) for r in _rows(base / "640104" / "offline.xlsx")[1:]}
    e, t = rows[ps["employer"]["id_no"]], rows[ps["township"]["id_no"]]
    assert (e["notice_kind"], e["channel"], e["offline_reason"]) == ("预服务告知", "参保单位转告", "无手机号码")
    assert (t["channel"], t["offline_reason"], t["township_hint"]) == (
        "乡镇（街道）转告",
        "手机号码无效（不是有效的手机号码）",
        "640105",
    )
    assert all(
        not re.search(r"[A-Za-z]{3}", r["offline_reason"] + r["channel"] + r["notice_kind"]) for r in rows.values()
    )
    # the officer's order: by channel (EMPLOYER, then TOWNSHIP), kind, ID number — the CSV's
    assert [r[2] for r in _rows(base / "640104" / "offline.xlsx")[1:]] == [
        r[2] for r in _csv(base / "640104" / "offline.csv")[1:]
    ]
    assert [r["channel"] for r in rows.values()].count("参保单位转告") == 2
    ws = openpyxl.load_workbook(base / "640104" / "offline.xlsx")["线下告知"]
    text = ws.cell(2, OFFLINE_COLUMNS.index("text") + 1)
    assert text.alignment.wrap_text and text.value.startswith("【宁夏人社】")
    assert ws.row_dimensions[2].height and ws.row_dimensions[2].height >= 3 * 13.5  # the whole text shows
    assert ws.freeze_panes == "E2" and ws.print_title_cols == "$C:$D"  # ID number and name kept
    assert ws.page_setup.orientation == "landscape" and ws.auto_filter.ref == f"A1:K{ws.max_row}"
    formula = rows[ps["formula"]["id_no"]]["employer_name"]
    assert formula == "=SUM(1,2)有限公司"  # shown as typed, never run
    note = dict((r[0], r[1]) for r in _rows(base / "640104" / "offline.xlsx", "说明"))
    channels = [r[OFFLINE_COLUMNS.index("channel")] for r in _csv(base / "640104" / "offline.csv")[1:]]
    e, t = channels.count("EMPLOYER"), channels.count("TOWNSHIP")
    assert e == 2 and t >= 1
    assert note["本月条数"] == f"参保单位转告 {e} 条；乡镇（街道）转告 {t} 条；共 {e + t} 条。"


def test_an_office_with_sms_only_gets_the_workbook_with_its_header(month):
    _, _, base = month
    assert len(_csv(base / "640105" / "offline.csv")) == 1
    assert len(_rows(base / "640105" / "offline.xlsx")) == 1
    note = dict((r[0], r[1]) for r in _rows(base / "640105" / "offline.xlsx", "说明"))
    assert note["本月条数"] == "本月没有需要线下转告的告知：清单只有表头。"


def test_a_rerun_of_the_month_writes_the_same_bytes(month):
    push, _, base = month
    before = {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}
    assert any(k.endswith("offline.xlsx") for k in before)
    from pipelines.monthly import run_month

    run_month(MONTH, push.wh, push.tmp / "out", validate=False)
    after = {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}
    assert after == before


def test_libreoffice_keeps_every_id_number_and_credit_code(month, tmp_path):
    _, _, base = month
    lo = sheets_as_csv(base / "640104" / "offline.xlsx", tmp_path)["offline-线下告知.csv"]
    ours = _csv(base / "640104" / "offline.csv")
    for c in ("id_no", "employer_uscc", "text"):
        i = OFFLINE_COLUMNS.index(c)
        assert [r[i] for r in lo] == [r[i] for r in ours], c
    assert USCC in [r[OFFLINE_COLUMNS.index("employer_uscc")] for r in lo]
