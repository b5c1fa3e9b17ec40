"""The offices' declaration lists as a workbook (seventeenth session): ``declarations/<office>/declarations.xlsx``
beside the CSV and Parquet (outputs.md declarations; rules.md §6), for the county officer.

Before it, an officer had the CSV only: opened in a spreadsheet the 18-digit ID numbers became
``6.40522196701039E+017``, the decision, stage, source and channel were codes and the reason English.
The workbook holds the CSV's rows in its order, the ID numbers as text, labels for codes, the reason in
Chinese (composed in SQL, sql/declare/35_office_book.sql) and a 说明 sheet of what each decision asks.
"""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipelines import SQL_DIR
from pipelines.declare import DECLARATIONS_COLUMNS, write_declaration_books
from pipelines.tabular import dictionary
from support.declare import D, DM, confirm, declare
from support.feedback import D0, Wh, path_rows, row
from support.soffice import read_csv as _csv, sheets_as_csv

OFFICE, OTHER, EMPTY = "640104", "640202", "640100"


def _sheet(path: Path, name: str = "申报名单"):
    return openpyxl.load_workbook(path)[name]


def _rows(path: Path, name: str = "申报名单") -> list[tuple]:
    return list(_sheet(path, name).iter_rows(values_only=True))


@pytest.fixture(scope="module")
def declared(tmp_path_factory):
    """One office with every decision and reason of a real screening, another office's person, and
    an office with nobody; declared once (its warehouse kept undeclared too, for the CLI and DAG test)."""
    tmp = tmp_path_factory.mktemp("declxlsx")
    wh = Wh(tmp)
    p = {
        "declared": wh.person(S=D + 1),
        "consult": wh.person(S=D + 2),
        "elected": wh.person(S=D + 6),
        "notified": wh.person(S=D + 1),
        "reviewed": wh.person(S=D + 2),
        "objection": wh.person(S=D + 3),
        "other": wh.person(S=D + 2, office=OTHER),
    }
    confirm(wh, [p["declared"], p["elected"], p["other"]])
    rows = path_rows(p["consult"], "CONFIRMED", CONCLUSION_ISSUED={"counted_months": 150})
    rows += [row(p["elected"], "ELECTED_MONTH", D0 + timedelta(days=8), elected_month="2027-02")]
    rows += [row(p["reviewed"], "ARCHIVE_REVIEWED", D0, result="PASS")]
    rows += path_rows(p["objection"], "RESULT_RECEIVED") + [
        row(p["objection"], "OBJECTION_FILED", D0 + timedelta(days=6))
    ]
    assert wh.apply(rows).refused == 0
    before = tmp / "undeclared.duckdb"
    shutil.copyfile(wh.path, before)
    declare(wh)
    return wh, p, tmp / "out" / DM / "declarations", before


def test_every_office_gets_the_workbook_of_its_csv_rows_ids_as_text(declared):
    _, _, base, _ = declared
    offices = sorted(d.name for d in base.iterdir())
    assert len(offices) == 29
    heads = [dictionary()[c] for c in DECLARATIONS_COLUMNS]
    for office in offices:
        ours = _csv(base / office / "declarations.csv")
        ws = _sheet(base / office / "declarations.xlsx")
        got = [[c.value for c in r] for r in ws.iter_rows()]
        assert got[0] == ours[0] == heads
        assert len(got) == len(ours), office
        for g, o in zip(got[1:], ours[1:]):
            # every ID number, office code, month and officer exactly as in the CSV (text, never a number)
            for c in ("id_no", "name", "office_code", "retirement_month", "statutory_age_month", "responsible_officer"):
                i = DECLARATIONS_COLUMNS.index(c)
                assert g[i] == (o[i] or None), (office, c)
            for c in ("counted_contribution_months", "min_contribution_months"):  # counts are numbers
                i = DECLARATIONS_COLUMNS.index(c)
                assert g[i] == int(o[i]), (office, c)
        for cell in ws["A"][1:]:
            assert cell.data_type == "s" and cell.number_format == "@" and len(cell.value) == 18
        # only the office's own persons
        assert {r[2] for r in got[1:]} <= {office}


def test_labels_and_the_reason_in_chinese_for_each_decision_in_the_officers_order(declared):
    _, p, base, _ = declared
    got = {r[0]: dict(zip(DECLARATIONS_COLUMNS, r)) for r in _rows(base / OFFICE / "declarations.xlsx")[1:]}
    en = {r[0]: dict(zip(DECLARATIONS_COLUMNS, r)) for r in _csv(base / OFFICE / "declarations.csv")[1:]}
    assert set(got) == {x.id_no for k, x in p.items() if k != "other"}
    want = {
        "declared": (
            "可申报",
            "已计缴费300个月，达到2027年最低缴费月数180个月（依据已确认的综合结论第1版）；按法定退休年龄到龄年月",
            "法定退休年月",
            "已申报",
            "短信",
        ),
        "consult": (
            "咨询",
            "已计缴费150个月，不足2027年最低缴费月数180个月（依据已确认的综合结论第1版）；按法定退休年龄到龄年月",
            "法定退休年月",
            "结论已确认",
            "短信",
        ),
        "elected": (
            "可申报",
            "已计缴费300个月，达到2027年最低缴费月数180个月（依据已确认的综合结论第1版）；按本人选定的退休年月",
            "选定退休年月",
            "已申报",
            "短信",
        ),
        "notified": (
            "待跟进",
            "预服务未完成：自2026-11-01起处于“已告知”环节，尚无已确认的综合结论；按法定退休年龄到龄年月",
            "法定退休年月",
            "已告知",
            None,
        ),
        "reviewed": (
            "待跟进",
            "预服务未完成：自2026-11-02起处于“档案已预审”环节，尚无已确认的综合结论；按法定退休年龄到龄年月",
            "法定退休年月",
            "档案已预审",
            None,
        ),
    }
    for key, (decision, reason, source, stage, channel) in want.items():
        r = got[p[key].id_no]
        assert (r["decision"], r["reason"], r["retirement_source"], r["stage"], r["channel"]) == (
            decision,
            reason,
            source,
            stage,
            channel,
        ), (key, en[p[key].id_no]["reason"])
    obj = got[p["objection"].id_no]["reason"]
    assert obj.startswith("预服务未完成：自") and "，有未办结的异议，尚无已确认的综合结论" in obj, obj
    # DECLARATION, then CONSULTATION, then FOLLOW_UP, as the CSV
    order = [r[4] for r in _rows(base / OFFICE / "declarations.xlsx")[1:]]
    assert order == sorted(order, key=["可申报", "咨询", "待跟进"].index)
    assert [r[0] for r in _rows(base / OFFICE / "declarations.xlsx")[1:]] == [
        r[0] for r in _csv(base / OFFICE / "declarations.csv")[1:]
    ]
    assert [r[0] for r in _rows(base / OTHER / "declarations.xlsx")[1:]] == [p["other"].id_no]


def test_an_office_with_nobody_gets_a_workbook_with_its_header_and_its_note_says_so(declared):
    _, _, base, _ = declared
    assert len(_csv(base / EMPTY / "declarations.csv")) == 1
    assert len(_rows(base / EMPTY / "declarations.xlsx")) == 1
    note = dict((r[0], r[1]) for r in _rows(base / EMPTY / "declarations.xlsx", "说明"))
    assert note["本月人数"] == "本月无人需申报、咨询或跟进：名单只有表头。"
    note = dict((r[0], r[1]) for r in _rows(base / OFFICE / "declarations.xlsx", "说明"))
    assert note["本月人数"] == "可申报 2 人；咨询 1 人；待跟进 3 人；共 6 人。"
    # what each decision asks of the officer (rules.md §6)
    assert "已通知本人办理退休申报" in note["可申报"]
    assert "不足" in note["咨询"] and "已通知本人到经办机构咨询" in note["咨询"]
    assert "未通知本人" in note["待跟进"] and "尽快完成预服务" in note["待跟进"]


def test_layout_frozen_header_filter_widths_printable(declared):
    _, _, base, _ = declared
    wb = openpyxl.load_workbook(base / OFFICE / "declarations.xlsx")
    assert wb.sheetnames == ["申报名单", "说明"]
    ws = wb["申报名单"]
    assert ws.freeze_panes == "C2"  # the header and the ID number and name stay on screen
    assert ws.auto_filter.ref == f"A1:N{ws.max_row}"
    assert ws.print_title_rows == "$1:$1" and ws.print_title_cols == "$A:$B"
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    # one page wide (1, the default, is left out of the file), as many pages down as it takes
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1)
    assert ws.page_setup.fitToHeight in (0, "0")
    assert ws.column_dimensions["A"].width >= 20  # an ID number fits
    reason = ws.cell(2, DECLARATIONS_COLUMNS.index("reason") + 1)
    assert reason.alignment.wrap_text and ws.row_dimensions[2].height  # wrapped, its row as high as its lines
    assert wb.properties.title == f"月初退休申报名单 {OFFICE}"


def _files(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_cli_and_dag_task_write_the_same_bytes_and_a_replay_too(declared, tmp_path, monkeypatch):
    """The CLI (``retire-prep declare``) and the DAG's task (``orchestration.declare``) call the same
    function: on copies of one warehouse they write the same files, workbooks included, byte for byte;
    ``--replay`` rewrites them from the stored decisions, the same bytes again."""
    from pipelines import cli, orchestration

    _, _, base, undeclared = declared
    a, b = tmp_path / "cli.duckdb", tmp_path / "dag.duckdb"
    shutil.copyfile(undeclared, a)
    shutil.copyfile(undeclared, b)
    assert cli.main(["declare", "--month", DM, "--warehouse", str(a), "--out", str(tmp_path / "cli")]) == 0
    monkeypatch.setenv("RETIRE_PREP_WAREHOUSE", str(b))
    monkeypatch.setenv("RETIRE_PREP_OUT", str(tmp_path / "dag"))
    orchestration.declare(DM)
    cli_files = _files(tmp_path / "cli" / DM / "declarations")
    assert any(k.endswith(".xlsx") for k in cli_files) and len(cli_files) == 29 * 3
    assert _files(tmp_path / "dag" / DM / "declarations") == cli_files
    assert _files(base) == cli_files  # and the fixture's own run (declare_month)
    assert cli.main(["declare", "--month", DM, "--warehouse", str(a), "--out", str(tmp_path / "cli"), "--replay"]) == 0
    assert _files(tmp_path / "cli" / DM / "declarations") == cli_files


def test_the_workbook_is_swapped_in_with_the_folder_and_a_failed_write_leaves_the_old_one(declared, monkeypatch):
    """The workbook is written into the staging folder with the CSVs and swapped in with them: a
    failure while writing the workbooks leaves the published folder as it was, nothing half written."""
    import pipelines.xlsx_list as xl

    wh, _, base, _ = declared
    before = _files(base)

    def broken(*a, **k):
        raise OSError("disk full (test)")

    monkeypatch.setattr(xl, "_stream", broken)
    with pytest.raises(OSError, match="disk full"):
        declare(wh, replay=True)
    assert _files(base) == before
    assert not list(base.parent.glob(".declarations.partial/*/*.tmp"))  # no half-written workbook left
    monkeypatch.undo()
    declare(wh, replay=True)
    assert _files(base) == before
    assert not (base.parent / ".declarations.partial").exists()


# ------------------------------------------------------------------------ every reason's Chinese text


#: every form of the reason sql/declare/11_decide.sql writes (rules.md §6) → its Chinese in the workbook
VARIANTS = {
    "counted months 284 >= minimum 180 for 2027 (confirmed conclusion v1); elected retirement month": (
        "已计缴费284个月，达到2027年最低缴费月数180个月（依据已确认的综合结论第1版）；按本人选定的退休年月"
    ),
    "counted months 108 < minimum 186 for 2030 (confirmed conclusion v12); statutory month": (
        "已计缴费108个月，不足2030年最低缴费月数186个月（依据已确认的综合结论第12版）；按法定退休年龄到龄年月"
    ),
    "counted months 190 >= minimum 180 for 2027 (screening); statutory month": (
        "已计缴费190个月，达到2027年最低缴费月数180个月（依据筛查数据）；按法定退休年龄到龄年月"
    ),
    "pre-service not complete: stage YEARS_CONFIRMED since 2026-10-09, objection open, no confirmed conclusion; "
    "elected retirement month": (
        "预服务未完成：自2026-10-09起处于“缴费年限已确认”环节，有未办结的异议，尚无已确认的综合结论；按本人选定的退休年月"
    ),
    "pre-service not complete: stage CONCLUDED since 2026-11-30, no confirmed conclusion; statutory month": (
        "预服务未完成：自2026-11-30起处于“已出具综合结论”环节，尚无已确认的综合结论；按法定退休年龄到龄年月"
    ),
    "elected month 2027-02 outside the flexible window (2031-06 to 2036-02) of the latest push data: "
    "to be elected again; elected retirement month": (
        "选定的退休年月2027-02不在最新推送数据的弹性退休区间（2031-06至2036-02）内，需重新选定退休年月；按本人选定的退休年月"
    ),
    "elected month 2027-02 outside the flexible window (none) of the latest push data: to be elected again; "
    "elected retirement month": (
        "选定的退休年月2027-02不在弹性退休区间内（最新推送数据无弹性退休区间），需重新选定退休年月；按本人选定的退休年月"
    ),
    # a form no pattern reads whole: shown as written, never half translated
    "counted months 284 >= minimum 180 for 2027 (a new source); statutory month": (
        "counted months 284 >= minimum 180 for 2027 (a new source); statutory month"
    ),
    "something else entirely": "something else entirely",
}


def test_every_form_of_the_reason_reads_in_chinese(tmp_path):
    """Each form 11_decide.sql composes, with each of its parts (≥ and <, a conclusion's version or the
    screening, an open objection, a window or none, elected or statutory), in Chinese; an unknown
    form stays as written (English) rather than a wrong Chinese text."""
    wh = Wh(tmp_path)
    with wh.raw() as con:
        for i, reason in enumerate(VARIANTS):
            con.execute(
                "INSERT INTO declaration_decisions (month_mi, entry_id, id_no, office_code, retirement_mi, "
                "retirement_source, decision, reason, stage, counted_months, counted_source, min_months, notice_id, "
                "decided_at, name, statutory_age_mi, officer_id, channel, file_columns_stored) VALUES "
                "(?, ?, ?, ?, ?, 'STATUTORY', 'FOLLOW_UP', ?, 'NOTIFIED', 100, 'SCREENING', 180, NULL, now(), "
                "'测试', ?, NULL, NULL, true)",
                [D, f"e{i}", f"64010419661115{i:03d}X", OFFICE, D + 1, reason, D + 1],
            )
    path = tmp_path / "b" / "declarations.xlsx"
    with wh.con() as con:
        assert write_declaration_books(con, D, {OFFICE: path}) == {OFFICE: len(VARIANTS)}
    got = {r[0]: r[5] for r in _rows(path)[1:]}
    with wh.raw() as con:
        by_id = dict(con.execute("SELECT id_no, reason FROM declaration_decisions").fetchall())
    assert {by_id[k]: v for k, v in got.items()} == VARIANTS


def test_the_reasons_patterns_follow_what_the_screening_writes():
    """35_office_book.sql reads the reason 11_decide.sql composes by its wording: a change of wording
    there must come with its pattern here (else the officer reads the English reason). Every fixed piece
    of the screening's reason is one the patterns know."""
    screen = (SQL_DIR / "declare" / "11_decide.sql").read_text(encoding="utf-8")
    reason = screen[screen.index("declaration_decision(") : screen.index("AS reason")]
    pieces = set(re.findall(r"'([^']*)'", reason)) - {"%Y-%m-%d", "ELECTED", "CONCLUSION", ""}
    book = (SQL_DIR / "declare" / "35_office_book.sql").read_text(encoding="utf-8")
    known = {
        "elected month ",
        " outside the flexible window (",
        " to ",
        "none",
        ") of the latest push data: to be elected again",
        "pre-service not complete: stage ",
        " since ",
        ", objection open",
        ", no confirmed conclusion",
        "counted months ",
        " >= ",
        " < ",
        "minimum ",
        " for ",
        " (",
        "confirmed conclusion v",
        "screening",
        ")",
        "; elected retirement month",
        "; statutory month",
    }
    assert pieces == known, f"the screening's reason changed: {pieces ^ known} — update 35_office_book.sql"
    for piece in ("outside the flexible window", "pre-service not complete: stage", "objection open", "counted months"):
        assert piece in book


def test_libreoffice_opens_it_and_every_id_number_survives(declared, tmp_path):
    _, _, base, _ = declared
    sheets = sheets_as_csv(base / OFFICE / "declarations.xlsx", tmp_path)
    lo = sheets["declarations-申报名单.csv"]
    ours = _csv(base / OFFICE / "declarations.csv")
    assert [r[0] for r in lo] == [r[0] for r in ours]  # every ID number, exactly
    assert all(re.fullmatch(r"[0-9]{17}[0-9X]", r[0]) for r in lo[1:])
    assert {r[4] for r in lo[1:]} == {"可申报", "咨询", "待跟进"}
    assert "declarations-说明.csv" in sheets


def test_the_parquet_and_csv_contract_is_unchanged(declared):
    """The workbook is beside the files of the contract, which keep their columns and codes."""
    _, _, base, _ = declared
    cols = [r[0] for r in duckdb.sql(f"DESCRIBE SELECT * FROM '{base / OFFICE / 'declarations.parquet'}'").fetchall()]
    assert tuple(cols) == DECLARATIONS_COLUMNS
    decisions = {r[4] for r in _csv(base / OFFICE / "declarations.csv")[1:]}
    assert decisions == {"DECLARATION", "CONSULTATION", "FOLLOW_UP"}
