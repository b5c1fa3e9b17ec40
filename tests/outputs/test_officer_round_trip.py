"""The officer's round trip through a real spreadsheet program: worklist.xlsx edited in LibreOffice
Calc and saved, then ``feedback`` (docs/feedback-format.md "Workbook"; docs/decisions.md, issue 16,
"the officer's round trip").

One ``soffice --headless`` is started for the module and driven through UNO by
``tests/support/lo_officer.py`` under the system interpreter (Debian packages libreoffice-calc and
python3-uno, installed by .ci/run). The officer types events into the 反馈 sheet of an office's
worklist.xlsx (written by the pipeline's own writer for a hand-made warehouse of four persons):
dates, an elected month, numbers, the drop-downs' Chinese labels, items joined by ；, a note, an ID
number typed into an empty row, a row copied and pasted, the rows sorted and filtered, a column
widened, a sheet added; saved as .xlsx, .ods and .xls. Every event must be applied as meant or
refused row by row with a reason saying what to do; nothing may be lost silently.
"""

from __future__ import annotations

import json
from datetime import date
import os
import shutil
import signal
import subprocess
from pathlib import Path

import openpyxl
import pytest

from pipelines import labels, xlsx
from pipelines.feedback import FeedbackFileRefused, apply_feedback_files
from pipelines.ledger import CLOSED_STAGES
from pipelines.outputs import WORKLIST_COLUMNS
from support.feedback import Wh, settled
from support.worklist import P_MI, worklist_row

SYSTEM_PYTHON = "/usr/bin/python3"
DRIVER = Path(__file__).resolve().parents[1] / "support" / "lo_officer.py"
XLSX, ODS, XLS, CSV = "Calc MS Excel 2007 XML", "calc8", "MS Excel 97", "Text - txt - csv (StarCalc)"
SHEET = xlsx.FEEDBACK_SHEET
OFFICE = "640104"


def _missing() -> str | None:
    if shutil.which("soffice") is None:
        return "LIBREOFFICE MISSING: install the Debian package libreoffice-calc (.ci/run installs it)"
    if not Path(SYSTEM_PYTHON).exists() or subprocess.run([SYSTEM_PYTHON, "-c", "import uno"]).returncode:
        return "PYTHON-UNO MISSING: install the Debian package python3-uno (.ci/run installs it)"
    return None


@pytest.fixture(scope="module")
def calc(tmp_path_factory):
    """One headless LibreOffice for the module; ``calc(jobs)`` runs the driver's jobs in it."""
    why = _missing()
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("calc")
    pipe = f"retireprep_{os.getpid()}_{tmp.name}"
    proc = subprocess.Popen(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp}/profile",
            "--headless",
            "--invisible",
            "--norestore",
            "--nologo",
            "--nodefault",
            f"--accept=pipe,name={pipe};urp;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: ended by its id below, nothing else
    )
    n = [0]

    def run(jobs: list[dict], quit: bool = False) -> list:
        n[0] += 1
        plan = tmp / f"plan{n[0]}.json"
        plan.write_text(json.dumps({"jobs": jobs, "quit": quit}, ensure_ascii=False), encoding="utf-8")
        res = subprocess.run([SYSTEM_PYTHON, str(DRIVER), pipe, str(plan)], capture_output=True, text=True, timeout=180)
        assert res.returncode == 0, res.stderr[-2000:]
        return json.loads(res.stdout)

    yield run
    try:
        run([], quit=True)
        proc.wait(timeout=30)
    except Exception:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A warehouse of five open entries of 640104 (110 with an employer but b, a 170) and the
    office's worklist.xlsx written from them by the pipeline's writer."""
    tmp = tmp_path_factory.mktemp("officer")
    wh = Wh(tmp)
    people = {
        "a": wh.person(),  # 110 with an employer: the whole path, an elected month
        "b": wh.person(itype=170, employer=False),
        "c": wh.person(),
        "d": wh.person(),
        "e": wh.person(),  # nothing to report: its prefilled row is left as it is
    }
    with wh.raw() as con:
        for i, p in enumerate(people.values(), start=1):
            row = worklist_row(i, id_no=p.id_no, entry_id=p.entry_id)
            con.execute(
                f"INSERT INTO worklist_rows ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
            )
        book = tmp / "worklist.xlsx"
        cols = [c.strip() for c in WORKLIST_COLUMNS.split(",")]
        xlsx.write_workbook(con, P_MI, OFFICE, book, columns=cols, closed_stages=CLOSED_STAGES)
    ws = openpyxl.load_workbook(book, read_only=True)[SHEET]
    rows = list(ws.iter_rows(values_only=True))
    col = {labels.feedback_column(h): openpyxl.utils.get_column_letter(i + 1) for i, h in enumerate(rows[0]) if h}
    at = {k: next(i for i, r in enumerate(rows, start=1) if r[1] == p.id_no) for k, p in people.items()}
    return {"wh": wh, "tmp": tmp, "book": book, "people": people, "col": col, "row": at, "last": len(rows)}


def _type(world, r: int, how: str = "type", **cells) -> list:
    return [[how, SHEET, f"{world['col'][c]}{r}", v] for c, v in cells.items()]


#: a person's events up to the conclusion, as an officer types them (labels, dates, free text with
#: Chinese punctuation)
CHAIN = (
    dict(event="档案预审完成", event_date="2026-11-20", result="通过"),
    dict(event="缴费年限确认", event_date="2026-11-21", months="300"),
    dict(event="参保关系归集", event_date="2026-11-23", merge_status="无需归集"),
    dict(
        event="出具综合结论",
        event_date="2026-11-24",
        counted_months="300",
        merge_status="无需归集",
        archive_conclusion="通过",
        base_data="缴费基数6500元；视同缴费36个月",
    ),
)


def _typing(world) -> list:
    """What the officer types (and copies, sorts, filters …) in 反馈; the rows it makes, in order."""
    row, p, n = world["row"], world["people"], world["last"]
    a, b, c, d = (row[k] for k in "abcd")
    do = _type(world, a, **CHAIN[0])
    do += [["copy", SHEET, f"A{a}:V{a}"], ["paste", SHEET, f"A{n + 1}"]]  # a's row again, below
    do += _type(world, n + 1, **CHAIN[1])
    for i, cells in enumerate(
        [
            *CHAIN[2:],
            dict(event="结论已送达", event_date="2026-11-25"),
            dict(event="结论已确认", event_date="2026-11-26", confirmer="参保单位"),
            dict(event="选定退休年月", event_date="2026-11-26", elected_month="2027年2月"),
        ],
        start=n + 2,
    ):
        do += _type(world, i, office_code=OFFICE, id_no=p["a"].id_no, **cells)
    do += _type(
        world,
        b,
        event="档案预审完成",
        event_date="2026/12/3",  # the forms typed every day: read as the day they are
        result="不通过",
        items="工作经历材料；服兵役材料",
        note="档案缺页，已电话告知本人补充",
    )
    do += _type(world, c, event="指定服务责任人", event_date="2026年12月3日", officer_id="640104-03")
    do += _type(world, d, event="档案预审完成", event_date="2026-11-20", result="通过")
    # an ID number typed into an empty row (the column is text: it stays 18 characters)
    do += _type(world, n + 7, office_code=OFFICE, id_no=p["d"].id_no, event="缴费年限确认", event_date="2026-11-22")
    do += _type(world, n + 7, months="250")
    last = n + 7
    do += [["cells", SHEET, f"B{n + 7}:G{n + 7}"]]  # what Calc holds in the row typed
    do += [["cells", SHEET, f"{world['col']['event_date']}{r}"] for r in (b, c)]  # 2026/12/3, 2026年12月3日
    do += [
        ["sort", SHEET, f"A1:V{last}", 1, True],  # by ID number: each person's rows together, in order
        ["filter", SHEET, f"A1:V{last}", 5, "档案预审完成"],  # the other rows hidden, still in the file
        ["width", SHEET, 21, 9000],
        ["add_sheet", "我的记录", "A1", "12月待办：催补材料"],
    ]
    return do


@pytest.fixture(scope="module")
def typed(world, calc):
    """The officer's typing saved as .xlsx, .ods, .xls and the 反馈 sheet as CSV UTF-8 (填报说明 offers it);
    what Calc shows in the typed row."""
    out = {fmt: world["tmp"] / f"typed.{fmt}" for fmt in ("xlsx", "ods", "xls")}
    saves = [["save", str(out["xlsx"]), XLSX], ["save", str(out["ods"]), ODS], ["save", str(out["xls"]), XLS]]
    # 反馈 (sheet 2) as CSV UTF-8, which Calc names typed-反馈.csv
    saves.append(["save", str(world["tmp"] / "typed.csv"), CSV, "44,34,76,1,,0,false,true,false,false,false,2"])
    out["csv"] = world["tmp"] / f"typed-{SHEET}.csv"
    (shown,) = calc([{"open": str(world["book"]), "do": _typing(world) + saves}])
    return out, shown


def _copy(world, tmp: Path):
    tmp.mkdir(parents=True, exist_ok=True)
    wh = Wh.__new__(Wh)
    wh.__dict__.update(world["wh"].__dict__)
    wh.path = tmp / "w.duckdb"
    shutil.copyfile(world["wh"].path, wh.path)
    return wh


def _apply(wh, path: Path):
    return apply_feedback_files([path], wh.path, wh.settings, office=OFFICE, receipts=wh.path.parent / "receipts")


def test_typed_in_calc_every_event_is_applied_as_meant(world, typed, tmp_path):
    """Typed, copied, sorted by ID number, filtered (rows hidden), a column widened, a sheet added: every
    row applied as meant. The note and the conclusion's 待遇核算预备数据 keep their full-width ，；
    (they were NFKC-normalised to , ; like the codes)."""
    (out, shown) = typed
    (typed_row,) = shown[0]
    assert all(kind == "TEXT" for kind, _ in typed_row if kind != "EMPTY")  # the text columns held
    assert typed_row[0][1] == world["people"]["d"].id_no  # 18 characters, as typed
    # the dates typed as officers write them stay text, as typed (no date made of them)
    assert [c[0][0] for c in shown[1:]] == [["TEXT", "2026/12/3"], ["TEXT", "2026年12月3日"]]
    wh = _copy(world, tmp_path)
    f = _apply(wh, out["xlsx"]).files[0]
    assert (f.status, f.rows, f.refused) == ("APPLIED", 11, 0), wh.q("SELECT row_no, reason FROM feedback_rows")
    p = world["people"]
    got = {
        k: wh.q("SELECT stage, officer_id, elected_retirement_mi FROM ledger_entries WHERE entry_id = ?", [v.entry_id])[
            0
        ]
        for k, v in p.items()
    }
    assert got["a"] == ("CONFIRMED", None, 2027 * 12 + 1)
    assert got["b"][0] == "ARCHIVE_REVIEWED" and got["c"][1] == "640104-03" and got["d"][0] == "YEARS_CONFIRMED"
    assert wh.q(
        "SELECT event_date, result, items, note FROM feedback_events WHERE entry_id = ?", [p["b"].entry_id]
    ) == [
        (
            __import__("datetime").date(2026, 12, 3),
            "FAIL",
            "WORK_HISTORY;MILITARY_SERVICE",
            "档案缺页，已电话告知本人补充",
        )
    ]
    assert wh.q("SELECT event_date FROM feedback_events WHERE entry_id = ?", [p["c"].entry_id]) == [
        (date(2026, 12, 3),)
    ]
    assert wh.q("SELECT counted_months, merge_status, archive_conclusion, base_data FROM conclusions") == [
        (300, "NOT_NEEDED", "PASS", "缴费基数6500元；视同缴费36个月")
    ]
    assert (
        wh.one("SELECT months FROM feedback_events WHERE entry_id = ? AND event = 'YEARS_CONFIRMED'", [p["d"].entry_id])
        == 250
    )


def _refused(world, tmp: Path, path: Path) -> tuple[str, str, str]:
    """A file refused whole: (code, English reason, Chinese reason); nothing of it applied."""
    wh = _copy(world, tmp)
    with pytest.raises(FeedbackFileRefused):
        _apply(wh, path)
    ((code, reason, zh),) = wh.q("SELECT reason_code, reason, reason_zh FROM feedback_files")
    assert wh.one("SELECT count(*) FROM feedback_rows") == 0
    return code, reason, zh


def test_the_feedback_sheet_saved_as_csv_is_applied_as_the_workbook(world, typed, tmp_path):
    """填报说明 offers "CSV UTF-8" instead of .xlsx; the CSV of 反馈 was refused whole: its columns 姓名,
    当前环节, 办结时限 (for reading) were unknown columns to the CSV reader, and each prefilled row left
    without an event would have been a row refused "event is empty"."""
    out, _ = typed
    a, b = _copy(world, tmp_path / "a"), _copy(world, tmp_path / "b")
    fc, fx = _apply(a, out["csv"]).files[0], _apply(b, out["xlsx"]).files[0]
    assert (fc.status, fc.rows, fc.accepted, fc.refused) == (fx.status, fx.rows, fx.accepted, fx.refused)
    q = "SELECT * EXCLUDE (source, recorded_at) FROM feedback_events ORDER BY ALL"
    assert a.q(q) == b.q(q) and len(a.q(q)) == 11


def test_saved_as_ods_or_xls_is_refused_saying_save_as_xlsx(world, typed, tmp_path):
    """An .ods was refused as a damaged workbook, "save it again" (as .ods again); in the feedback inbox
    it lay unseen, neither applied nor refused."""
    out, _ = typed
    code, reason, zh = _refused(world, tmp_path, out["ods"])
    assert code == "NOT_XLSX" and "OpenDocument" in reason and "damaged" not in reason
    assert ".ods" in zh and "Excel 2007-365" in zh and "另存为" in zh  # the Save As filter LibreOffice names
    code, reason, zh = _refused(world, tmp_path, out["xls"])
    assert code == "NOT_XLSX" and ".xls" in reason and "另存为" in zh and "Excel 2007-365" in zh


def _not_typed(world) -> list:
    """Cells that reach 反馈 otherwise than by typing: ``setFormula`` (a macro, an add-in: Calc's
    number detection without the cell's text format), Paste Special › values only of a date (a
    number in a text cell), a date pasted whole (its date format comes with it); and the apostrophe
    an officer used to Excel types before an ID number (Calc keeps it in a text cell)."""
    row, p, n = world["row"], world["people"], world["last"]
    a, d = row["a"], row["d"]
    do = [["add_sheet", "草稿", "C1", "草稿"]]
    do += [["type", "草稿", "A1", "2027-02-01"], ["type", "草稿", "A2", "2026-11-20"]]  # dates (General cells)
    do += _type(world, a, "formula", event="档案预审完成", event_date="2026-11-20", result="通过")
    do += _type(
        world, n + 1, "formula", office_code=OFFICE, event="缴费年限确认", event_date="2026-11-21", months="300"
    )
    do += _type(world, n + 1, id_no=p["a"].id_no)
    do += _type(world, n + 2, "formula", office_code=OFFICE, event="选定退休年月", event_date="2026-11-21")
    do += _type(world, n + 2, id_no=p["a"].id_no)
    do += [["copy", "草稿", "A1"], ["paste_values", SHEET, f"{world['col']['elected_month']}{n + 2}"]]
    do += _type(world, d, event="档案预审完成", result="通过")
    do += [["copy", "草稿", "A2"], ["paste", SHEET, f"{world['col']['event_date']}{d}"]]
    do += _type(world, n + 3, office_code=OFFICE, id_no="'" + p["b"].id_no, event="档案预审完成")
    do += _type(world, n + 3, event_date="'2026-11-20", result="通过")
    do += _type(world, n + 4, "formula", id_no=p["c"].id_no)  # an 18-digit number: its last digits lost
    do += _type(
        world, n + 4, office_code=OFFICE, event="指定服务责任人", event_date="2026-11-20", officer_id="640104-01"
    )
    cells = [f"{world['col'][c]}{r}" for c, r in (("event_date", a), ("elected_month", n + 2), ("event_date", d))]
    return do + [["cells", SHEET, c] for c in cells + [f"B{n + 3}", f"B{n + 4}"]]


@pytest.fixture(scope="module")
def not_typed(world, calc):
    book = world["tmp"] / "not-typed.xlsx"
    copy = world["tmp"] / "sheet-copy.xlsx"
    n, a = world["last"], world["row"]["a"]
    sheet_copy = [["copy_sheet", SHEET, "12月反馈"]]
    sheet_copy += _type(world, a, event="档案预审完成", event_date="2026-11-20", result="通过")
    sheet_copy += [
        ["type", "12月反馈", f"{world['col'][c]}{n + 1}", v]
        for c, v in (
            ("office_code", OFFICE),
            ("id_no", world["people"]["c"].id_no),
            ("event", "指定服务责任人"),
            ("event_date", "2026-11-20"),
            ("officer_id", "640104-01"),
        )
    ]
    shown, _ = calc(
        [
            {"open": str(world["book"]), "do": _not_typed(world) + [["save", str(book), XLSX]]},
            {"open": str(world["book"]), "do": sheet_copy + [["save", str(copy), XLSX]]},
        ]
    )
    return book, copy, [c[0][0] for c in shown]


def test_dates_that_became_numbers_and_an_apostrophe_are_read_as_meant(world, not_typed, tmp_path):
    book, _, shown = not_typed
    # what the officer sees: the dates made numbers show as numbers; the apostrophe stays in the cell
    assert shown[0] == ["VALUE", "46346"] and shown[1] == ["VALUE", "46419"] and shown[2] == ["VALUE", "2026-11-20"]
    assert shown[3] == ["TEXT", "'" + world["people"]["b"].id_no] and shown[4][0] == "VALUE"
    wh = _copy(world, tmp_path)
    f = _apply(wh, book).files[0]
    refused = wh.q("SELECT row_no, reason_code, reason FROM feedback_rows WHERE status = 'REFUSED'")
    assert (f.rows, f.refused) == (6, 1), refused
    assert refused[0][1] == "MALFORMED" and "format the column as text" in refused[0][2]  # the 18-digit number
    p = world["people"]
    stage = lambda k: wh.q(  # noqa: E731
        "SELECT stage, elected_retirement_mi FROM ledger_entries WHERE entry_id = ?", [p[k].entry_id]
    )[0]
    assert stage("a") == ("YEARS_CONFIRMED", 2027 * 12 + 1)
    assert stage("b")[0] == stage("d")[0] == "ARCHIVE_REVIEWED"
    dates = wh.q(
        "SELECT event, event_date::VARCHAR FROM feedback_events WHERE entry_id = ? ORDER BY 2", [p["a"].entry_id]
    )
    assert dates == [
        ("ARCHIVE_REVIEWED", "2026-11-20"),
        ("YEARS_CONFIRMED", "2026-11-21"),
        ("ELECTED_MONTH", "2026-11-21"),
    ]


def test_a_renamed_copy_of_the_feedback_sheet_is_not_left_out(world, not_typed, tmp_path):
    """Calc copies 反馈 as 反馈_2; renamed 12月反馈 and filled in, its rows were not read: the file was
    reported applied with the rows of 反馈 only."""
    _, copy, _ = not_typed
    code, reason, zh = _refused(world, tmp_path, copy)
    # the office's receipt names the sheet; the English reason (the log) does not (privacy probe)
    assert code == "TWO_FEEDBACK_SHEETS" and "12月反馈" not in reason and "12月反馈" in zh


# ------------------------------------------------------------------ the same rules without LibreOffice


def _sheet_book(path: Path, cells: list[dict], epoch=None) -> Path:
    wb = openpyxl.Workbook()
    if epoch is not None:
        wb.epoch = epoch
    ws = wb.active
    ws.title = SHEET
    head = ["office_code", "event", "id_no", "event_date", "elected_month"]
    ws.append([labels.label("feedback_column", c) for c in head])
    for r in cells:
        ws.append([r.get(c) for c in head])
    wb.save(path)
    return path


def test_a_number_in_a_date_column_is_a_day_within_2000_to_2099_in_the_books_date_system(tmp_path):
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    from pipelines.feedback.xlsx import read_workbook

    base = {"office_code": OFFICE, "event": "RETIRED", "id_no": "x" * 18}
    rows = [46346, 46346.75, 300, 2027, 20261120, 36525, 73051]
    _, got = read_workbook(_sheet_book(tmp_path / "a.xlsx", [{**base, "event_date": v} for v in rows]))
    assert [r["event_date"] for _, r in got] == [
        "2026-11-20",
        "2026-11-20",
        "300",
        "2027",
        "20261120",
        "36525",  # 1999-12-31: before 2000, no day anyone means here
        "73051",  # 2100-01-01
    ]
    _, got = read_workbook(_sheet_book(tmp_path / "b.xlsx", [{**base, "elected_month": 46419}]))
    assert got[0][1]["elected_month"] == "2027-02"
    # a workbook in the 1904 date system (Excel for Mac's old default): its own serials
    _, got = read_workbook(_sheet_book(tmp_path / "c.xlsx", [{**base, "event_date": 46346 - 1462}], CALENDAR_MAC_1904))
    assert got[0][1]["event_date"] == "2026-11-20"


def test_the_apostrophe_before_a_cell_is_the_spreadsheets_text_mark_in_csv_too(tmp_path):
    """A CSV saved from Calc keeps the apostrophe typed into a text cell ('640104…)."""
    wh = Wh(tmp_path)
    p = wh.person()
    path = tmp_path / "fb.csv"
    path.write_text(
        f"office_code,event,id_no,event_date,result\r\n'{OFFICE},'档案预审完成,'{p.id_no},'2026-11-20,＇通过\r\n",
        encoding="utf-8",
    )
    f = _apply(wh, path).files[0]
    assert (f.rows, f.refused) == (1, 0) and wh.stage(p) == "ARCHIVE_REVIEWED"


def test_the_inbox_refuses_an_ods_loudly_instead_of_leaving_it_unseen(world, typed, tmp_path, monkeypatch):
    from pipelines import orchestration
    from pipelines.feedback.xlsx import SUFFIXES

    assert set(SUFFIXES) | {".csv"} == set(orchestration.FEEDBACK_SUFFIXES)
    out, _ = typed
    wh = _copy(world, tmp_path)
    inbox = tmp_path / "inbox"
    (inbox / OFFICE).mkdir(parents=True)
    shutil.copyfile(out["ods"], inbox / OFFICE / "12月反馈.ods")
    settled(inbox / OFFICE / "12月反馈.ods")
    monkeypatch.setenv("RETIRE_PREP_OUT", str(tmp_path / "out"))
    with pytest.raises(Exception, match="NOT_XLSX"):
        orchestration.apply_feedback_inbox(inbox, wh.path)
    assert wh.q("SELECT status, reason_code FROM feedback_files") == [("REFUSED", "NOT_XLSX")]
    assert (tmp_path / "out" / "feedback" / OFFICE / "12月反馈.回执.xlsx").is_file()  # what to do, for the office


def test_free_text_is_kept_as_typed_and_a_row_applied_before_is_still_the_same_row(tmp_path):
    wh = Wh(tmp_path)
    p = wh.person()
    typed = "已电话告知，待补（工作经历）；下周复核"
    row = dict(office_code=OFFICE, event="ARCHIVE_REVIEWED", id_no=p.id_no, event_date="2026-11-20", result="PASS")
    assert _apply(wh, wh.write([{**row, "note": typed}])).files[0].accepted == 1
    assert wh.q("SELECT note FROM feedback_events") == [(typed,)]
    # the same row as stored before free text was kept as typed (NFKC): the same row, not applied again
    import unicodedata

    again = _apply(wh, wh.write([{**row, "note": unicodedata.normalize("NFKC", typed)}])).files[0]
    assert (again.accepted, again.already_applied) == (1, 1)


# ------------------------------------------------------------------ sorted by 事件, and the receipt in Calc


def test_rows_sorted_by_event_are_told_on_the_receipt_and_sorting_by_date_mends_them(world, calc, tmp_path):
    """Sorted by 事件 (pinyin: 参保… 出具… 档案… before 缴费…), a person's events come out of order and the
    later ones are refused one by one; the receipt, read in Calc, says why and what to do: sort by
    发生日期 and send the whole file again — which then applies the rest, the rows applied kept."""
    n, a, p = world["last"], world["row"]["a"], world["people"]["a"]
    chain = CHAIN
    do = _type(world, a, **chain[0])
    for i, cells in enumerate(chain[1:], start=n + 1):
        do += _type(world, i, office_code=OFFICE, id_no=p.id_no, **cells)
    last = n + len(chain) - 1
    by_event, by_date = tmp_path / "by-event.xlsx", tmp_path / "by-date.xlsx"
    do += [["sort", SHEET, f"A1:V{last}", 5, True], ["save", str(by_event), XLSX]]
    calc([{"open": str(world["book"]), "do": do}])
    wh = _copy(world, tmp_path)
    f = _apply(wh, by_event).files[0]
    assert (f.rows, f.refused) == (4, 2) and wh.stage(p) == "YEARS_CONFIRMED"
    receipt = wh.path.parent / "receipts" / OFFICE / "by-event.回执.xlsx"
    fix = [["sort", SHEET, f"A1:V{last}", 6, True], ["save", str(by_date), XLSX]]
    (shown,), _ = calc(
        [{"open": str(receipt), "do": [["cells", "回执", "A1:H16"]]}, {"open": str(by_event), "do": fix}]
    )
    text = "\n".join(v for line in shown for _, v in line)
    assert "有1人的事件未按发生日期先后排列" in text and "按“发生日期”升序排序后重新报送整个文件" in text
    kinds = {kind for line in shown for kind, v in line if v == p.id_no}
    assert kinds == {"TEXT"}  # the ID number of the refused rows, as text
    again = _apply(wh, by_date).files[0]
    assert (again.rows, again.refused, again.already_applied) == (4, 0, 2) and wh.stage(p) == "CONCLUDED"


def test_a_row_reported_late_on_purpose_is_not_called_out_of_order(tmp_path):
    """An objection filed at the counter before the confirmation and reported below it is accepted
    (docs/feedback-format.md, Dates): nothing refused, no line about the order on the receipt."""
    from support.feedback import path_rows, row

    wh = Wh(tmp_path)
    p = wh.person()
    rows = path_rows(p, "CONFIRMED")
    received = date.fromisoformat(rows[4]["event_date"])
    rows.append(row(p, "OBJECTION_FILED", received))  # the day before the confirmation
    f = _apply(wh, wh.write(rows, name="late.csv")).files[0]
    assert f.refused == 0 and wh.stage(p) == "CONCLUDED"  # the confirmation suspended
    book = openpyxl.load_workbook(tmp_path / "receipts" / OFFICE / "late.回执.xlsx", read_only=True)
    text = "".join(str(v) for r in book["回执"].iter_rows(values_only=True) for v in r if v)
    assert "排列顺序" not in text and "已处理" in text
