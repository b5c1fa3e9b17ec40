"""Issue 16: the office's worklist.xlsx (工作台账, 反馈, 填报说明) and feedback sent back in it.

The shipped sample's 2026-11 is run once (module fixture); the workbook is checked against the
office's CSV, filled in with openpyxl as an officer would and applied, and compared with the same
rows sent as a CSV; every whole-file refusal and the ID number a spreadsheet turned into a number
are shown; LibreOffice Calc converts every sheet back to CSV and every ID number survives.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import zipfile
from pathlib import Path

import duckdb
import openpyxl
import pytest

from support.soffice import read_csv as _csv_rows, sheets_as_csv
from support.worklist import P_MI, worklist_row
from pipelines import DATA_DIR, labels
from pipelines.feedback import COLUMNS, FeedbackFileRefused, apply_feedback_files
from pipelines.feedback.xlsx import read_workbook
from pipelines.ingest import ingest_batches, load_applications
from pipelines.ledger import CLOSED_STAGES
from pipelines.monthly import run_month
from pipelines.outputs import WORKLIST_COLUMNS
from pipelines.xlsx import FEEDBACK_SHEET, HELP_SHEET, WORKLIST_SHEET, write_workbook
from support.feedback import settled

SAMPLE = DATA_DIR / "sample"
COLS = [c.strip() for c in WORKLIST_COLUMNS.split(",")]


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("xlsx")
    wh, out = tmp / "w.duckdb", tmp / "out"
    # Great Expectations is not what is tested here: left out, the file runs in half the time
    assert not ingest_batches([SAMPLE / "push" / "2026-11-full"], wh, validate=False).refused
    load_applications(sorted((SAMPLE / "applications").glob("*.csv")), wh)
    run_month("2026-11", wh, out, validate=False)
    return tmp, wh, out / "2026-11" / "worklists"


def _busiest_office(folder: Path) -> str:
    return max(
        (p.parent.name for p in folder.glob("*/worklist.csv")),
        key=lambda o: len(_csv_rows(folder / o / "worklist.csv")),
    )


# ------------------------------------------------------------------------------------------ writing


def test_every_office_has_its_workbook_with_the_csv_rows_as_text(month):
    _, _, folder = month
    offices = sorted(p.parent.name for p in folder.glob("*/worklist.csv"))
    assert offices and all((folder / o / "worklist.xlsx").exists() for o in offices)
    for office in offices:
        rows = _csv_rows(folder / office / "worklist.csv")
        wb = openpyxl.load_workbook(folder / office / "worklist.xlsx")
        assert wb.sheetnames == [WORKLIST_SHEET, FEEDBACK_SHEET, HELP_SHEET]
        ws = wb[WORKLIST_SHEET]
        got = [list(r) for r in ws.iter_rows(values_only=True)]
        assert got[0] == rows[0]  # the CSV's Chinese headers, in its order
        assert len(got) == len(rows)  # the same rows
        idx = {c: i for i, c in enumerate(COLS)}
        for csv_row, cells in zip(rows[1:], ws.iter_rows(min_row=2)):
            for col in (
                "id_no",
                "office_code",
                "benefit_region",
                "birth_month",
                "statutory_age_month",
                "due_date",
                "stage_since",
                "responsible_officer",
                "flexible_earliest_month",
            ):
                cell = cells[idx[col]]
                if csv_row[idx[col]]:
                    assert cell.data_type == "s" and cell.value == csv_row[idx[col]], (office, col)
                    assert cell.number_format == "@"
            assert cells[idx["months_to_statutory"]].data_type == "n"
        # the office's persons only
        assert {c.value for c in ws["G"][1:]} <= {office}


def test_codes_are_chinese_labels_and_evidence_is_chinese(month):
    _, wh, folder = month
    office = _busiest_office(folder)
    ws = openpyxl.load_workbook(folder / office / "worklist.xlsx", read_only=True)[WORKLIST_SHEET]
    rows = list(ws.iter_rows(values_only=True))
    head = rows[0]
    at = {h: i for i, h in enumerate(head)}
    flags = {v for r in rows[1:] for v in (r[at["预警标识"]] or "").split("；") if v}
    assert flags and flags <= {e["zh"] for e in labels.table()["flag"].values()}
    assert {r[at["办理环节"]] for r in rows[1:]} <= {e["zh"] for e in labels.table()["stage"].values()}
    assert {r[at["是否超期"]] for r in rows[1:]} <= {"是", "否"}
    evidence = [r[at["预警依据"]] for r in rows[1:] if r[at["预警依据"]]]
    assert evidence
    for e in evidence:  # no English words left (codes of place rules are labelled too)
        assert not re.search(r"[A-Za-z]{3,}", e), e


def test_every_evidence_of_the_month_reads_in_chinese(month):
    """The translation covers every kind of evidence the screening writes (all offices, all flags)."""
    _, wh, _ = month
    con = duckdb.connect(str(wh), read_only=True)
    rows = con.execute("SELECT DISTINCT code, evidence FROM flags").fetchall()
    con.close()
    assert {c for c, _ in rows} >= {"INSUFFICIENT_YEARS", "KEY_INFO_MISSING", "PAST_AGE_NOT_RETIRED"}
    for code, ev in rows:
        zh = labels.evidence_zh(f"{code}: {ev}")
        assert not re.search(r"[A-Za-z]{3,}", zh), (code, ev, zh)
    # SQL and Python give the same text
    sample = [f"{c}: {e}" for c, e in rows[:50]]
    con = duckdb.connect()
    got = [con.execute(f"SELECT {labels.evidence_zh_sql('?::VARCHAR')}", [s]).fetchall()[0][0] for s in sample]
    assert got == [labels.evidence_zh(s) for s in sample]


def test_the_guarded_translation_gives_the_same_texts_as_every_rule_applied(month):
    """labels.evidence_zh_query (the writer's: a rule skipped where its required piece of text is
    missing) gives what evidence_zh gives, on every evidence text of the month's worklists, on every
    flag's own evidence, and on texts each holding one rule's piece without matching it."""
    _, wh, _ = month
    con = duckdb.connect(str(wh), read_only=True)
    texts = [
        r[0]
        for r in con.execute("SELECT DISTINCT flag_evidence FROM worklist_rows WHERE flag_evidence <> ''").fetchall()
    ]
    texts += [f"{c}: {e}" for c, e in con.execute("SELECT DISTINCT code, evidence FROM flags").fetchall()]
    con.close()
    texts += [f"x{labels.required_literal(p)}y" for p, _ in labels.evidence_rules()]  # the piece, no match
    texts += ["", "ARREARS: arrears_months=3 | KEY_INFO_MISSING: phone missing; hukou_region missing"]
    assert len(texts) > 100
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT unnest(?::VARCHAR[]) AS en", [texts])
    got = dict(con.execute(labels.evidence_zh_query("SELECT DISTINCT en FROM t")).fetchall())
    con.close()
    assert got == {t: labels.evidence_zh(t) for t in set(texts)}


@pytest.mark.parametrize(
    "pattern, literal",
    [
        (r" \((\d+) months\)", " months)"),  # escaped punctuation is literal, a group is not
        (r"(^| \| )ARREARS: ", "ARREARS: "),
        (r" \| ", " | "),
        ("a|b", ""),  # an alternation outside a group: nothing is required
        ("(a|b)cd", "cd"),
        ("(?i)abc", ""),  # a flag: the case may differ
        ("x{4}", ""),  # a counted repetition: not its digits
        ("ab{2,3}cd", "cd"),
        ("ab?c", "a"),  # an optional character ends a run
        ("ab+c", "ab"),  # a repeated one is there once, and ends the run
        ("a[bc]d", "a"),  # a class is skipped whole, ] first included
        ("a[]x]bcd", "bcd"),
        (r"\d+-\d+", "-"),
        (r"a\\b", "a\\b"),
        # escapes whose characters are not the text (the nineteenth session's review): nothing
        (r"\x41bc", ""),
        (r"\101bc", ""),
        (r"\012x", ""),
        (r"\u0041bc", ""),
        (r"\pLx", ""),
        (r"\PLx", ""),
        ("[[:alpha:]]x", ""),
        (r"\Qab\E*", ""),
        (r"\Q(\Ea|b\Q)\Exyz", ""),
    ],
)
def test_the_piece_every_match_holds(pattern, literal):
    assert labels.required_literal(pattern) == literal


def test_every_rule_has_a_piece_and_every_match_holds_it():
    """Each evidence rule is guarded (none falls back to running on every text), and on texts made to
    match it, the match holds the piece."""
    examples = [
        "projected 146 months (counted 146, not contributing) < minimum 180 for 2023",
        "projected 171 months (counted 150 + 21 to come) < minimum 180 for 2027",
        "deemed_status=2 (pending), deemed_months=empty",
        "deemed_status=2 (pending), deemed_months=12",
        "segments not merged: 620100 2001-01..2003-12 relation_status=2",
        "640100 2001-01..2003-12 overlaps 620100 2002-01..2002-06 (6 months)",
        "hukou_region missing; phone missing; phone is not a valid mobile",
        "person_type missing (110 woman; original age taken at 50)",
        "employer missing (neither employer_uscc nor employer_name); deemed_region missing for 24 deemed months",
        "birth_date 1966-01-02 vs ID number 1966-02-01",
        "gender=1 vs ID number gender digit 2",
        "arrears_months=3",
        "computed 640000 (R1_HUKOU) vs ministry 620000",
        "statutory age month 2026-01 is before 2026-12, retired=0",
    ]
    examples += [f"{c}: x | {c}: y" for c in labels.table()["flag"]]
    examples += [f"（{c}）" for c in labels.table()["place_rule"]]
    for pattern, _ in labels.evidence_rules():
        piece = labels.required_literal(pattern)
        assert piece, pattern
        matches = [m.group(0) for e in examples for m in re.finditer(pattern, e)]
        assert matches, pattern
        assert all(piece in m for m in matches), (pattern, piece)


def test_the_example_of_the_issue():
    assert (
        labels.evidence_zh(
            "INSUFFICIENT_YEARS: projected 146 months (counted 146, not contributing) < minimum 180 for 2023"
        )
        == "缴费年限不足：预计缴费146个月（已计146个月，未在缴费）少于2023年最低缴费180个月"
    )
    assert labels.label("flag", "YEARS_UNCONFIRMED") == "缴费年限未确认"


def test_layout_header_filter_print(month):
    _, _, folder = month
    wb = openpyxl.load_workbook(folder / _busiest_office(folder) / "worklist.xlsx")
    for name in (WORKLIST_SHEET, FEEDBACK_SHEET):
        ws = wb[name]
        assert ws.freeze_panes in ("C2", "D2")
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:")
        assert ws.page_setup.orientation == "landscape" and str(ws.page_setup.paperSize) == "9"
        assert ws.print_title_rows == "$1:$1"
    ws = wb[WORKLIST_SHEET]
    widths = {k: d.width for k, d in ws.column_dimensions.items()}
    assert widths["A"] >= 18  # an ID number fits
    overdue = [r for r in ws.iter_rows(min_row=2) if r[COLS.index("overdue")].value == "是"]
    plain = [r for r in ws.iter_rows(min_row=2) if r[COLS.index("overdue")].value == "否"]
    if overdue:
        assert overdue[0][0].fill.fgColor.rgb != (plain[0][0].fill.fgColor.rgb if plain else None)


def _table(tmp: Path, wh: Path, rows: list[dict]) -> duckdb.DuckDBPyConnection:
    """A connection with a ``worklist_rows`` of the warehouse's schema holding ``rows``."""
    con = duckdb.connect(str(tmp / "t.duckdb"))
    con.execute(f"ATTACH '{wh}' AS src (READ_ONLY)")
    con.execute("CREATE OR REPLACE TABLE worklist_rows AS SELECT * FROM src.worklist_rows LIMIT 0")
    con.execute("DETACH src")
    for r in rows:
        cols = ", ".join(r)
        con.execute(f"INSERT INTO worklist_rows ({cols}) VALUES ({', '.join('?' for _ in r)})", list(r.values()))
    return con


def _row(i: int, **kw) -> dict:
    return worklist_row(i, **kw)


def test_formula_cells_stay_text_and_rows_past_the_limit_go_on_a_second_sheet(month, tmp_path):
    _, wh, _ = month
    rows = [_row(i) for i in range(1, 13)]
    rows[0]["name"] = '=HYPERLINK("http://x","y")'
    rows[1]["name"] = "+1+2"
    rows[2]["overdue"] = True
    rows[3]["stage"] = "RETIRED"  # closed: in 工作台账, not in 反馈
    con = _table(tmp_path, wh, rows)
    path = tmp_path / "w.xlsx"
    n = write_workbook(con, P_MI, "640104", path, columns=COLS, max_rows=5, closed_stages=CLOSED_STAGES)
    con.close()
    assert n == 12
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [
        WORKLIST_SHEET,
        f"{WORKLIST_SHEET}(2)",
        f"{WORKLIST_SHEET}(3)",
        FEEDBACK_SHEET,
        f"{FEEDBACK_SHEET}(2)",
        f"{FEEDBACK_SHEET}(3)",
        HELP_SHEET,
    ]
    ids = []
    for name in wb.sheetnames[:3]:
        ws = wb[name]
        assert [c.value for c in ws[1]][0] == "公民身份号码"  # each part has the header
        ids += [r[0] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert ids == [r["id_no"] for r in rows]
    first = wb[WORKLIST_SHEET]
    assert first["B2"].data_type == "s" and first["B2"].value.startswith("=HYPERLINK")
    assert first["B2"].quotePrefix and first["B3"].quotePrefix
    fb = [
        r[1]
        for n in (FEEDBACK_SHEET, f"{FEEDBACK_SHEET}(2)", f"{FEEDBACK_SHEET}(3)")
        for r in wb[n].iter_rows(min_row=2, values_only=True)
    ]
    assert fb == [r["id_no"] for r in rows if r["stage"] != "RETIRED"]


def test_feedback_sheet_has_dropdowns_from_the_label_table(month):
    _, _, folder = month
    wb = openpyxl.load_workbook(folder / _busiest_office(folder) / "worklist.xlsx")
    ws, help_ws = wb[FEEDBACK_SHEET], wb[HELP_SHEET]
    head = [c.value for c in ws[1]]
    assert head[:5] == ["经办机构代码", "公民身份号码", "姓名", "当前环节", "办结时限"]
    assert set(head[5:]) == {labels.table()["feedback_column"][c]["zh"] for c in COLUMNS} - {
        "经办机构代码",
        "公民身份号码",
    }
    lists = {}
    for dv in ws.data_validations.dataValidation:
        if dv.type == "list":
            col = re.match(r"[A-Z]+", str(dv.sqref)).group(0)
            ref = dv.formula1.split("!")[1].replace("$", "")
            lists[head[openpyxl.utils.column_index_from_string(col) - 1]] = [
                c.value for row in help_ws[ref] for c in row
            ]
    t = labels.table()
    assert lists["事件"] == [e["zh"] for e in t["event"].values()]
    assert lists["归集状态"] == [e["zh"] for e in t["merge_status"].values()]
    assert lists["确认方"] == [e["zh"] for e in t["confirmer"].values()]
    assert lists["缺失或存疑材料"] == [e["zh"] for e in t["item"].values()]
    assert set(lists) == {"事件", "结果", "归集状态", "档案结论", "确认方", "缺失或存疑材料"}
    text = "\n".join(str(c.value) for row in help_ws.iter_rows() for c in row if c.value)
    for e in t["event"].values():  # what each event needs, in Chinese
        assert e["zh"] in text and e["help"] in text


def test_labels_agree_with_the_parser_vocabularies():
    from pipelines import feedback
    from pipelines.ledger import STAGES

    t = labels.table()
    assert list(t["event"]) == list(feedback.EVENTS)
    assert set(t["merge_status"]) == set(feedback.MERGE_STATUSES)
    assert set(t["confirmer"]) == set(feedback.CONFIRMERS)
    assert {c: e["zh"] for c, e in t["item"].items()} == feedback.OBJECTION_ITEMS
    assert set(STAGES) | set(CLOSED_STAGES) <= set(t["stage"])
    assert set(t["feedback_column"]) == set(COLUMNS)
    for domain, entries in t.items():  # a label names one code in its domain (the parser reverses it)
        zh = [e["zh"] for e in entries.values()]
        assert len(zh) == len(set(zh)), domain


# ------------------------------------------------------------------------------------------ reading


def _fill(path: Path, events: list[dict], out: Path, *, labels_for: set[str] = frozenset()) -> Path:
    """Fill the 反馈 sheet as an officer would: the first event of a person in its prefilled row,
    the next ones in new rows below the prefilled ones; codes shown as labels for ``labels_for``."""
    wb = openpyxl.load_workbook(path)
    ws = wb[FEEDBACK_SHEET]
    head = [c.value for c in ws[1]]
    col = {labels.feedback_column(h): i + 1 for i, h in enumerate(head)}
    row_of = {ws.cell(r, 2).value: r for r in range(2, ws.max_row + 1)}
    nxt = ws.max_row + 1
    used = set()
    for ev in events:
        r = row_of[ev["id_no"]] if ev["id_no"] not in used else None
        if r is None:
            r = nxt
            nxt += 1
            ws.cell(r, col["office_code"], ev["office_code"])
            ws.cell(r, col["id_no"], ev["id_no"])
        used.add(ev["id_no"])
        for k, v in ev.items():
            if k in ("office_code", "id_no") or v in (None, ""):
                continue
            if k in labels_for and k in labels.FEEDBACK_VALUE_DOMAINS:
                v = labels.label(labels.FEEDBACK_VALUE_DOMAINS[k], v)
            ws.cell(r, col[k], v)
    wb.save(out)
    return out


def _events(office: str, ids: list[str]) -> list[dict]:
    from support.pushkit import to_conclusion_rows

    evs = []
    for i, id_no in enumerate(ids):
        evs += to_conclusion_rows(office, id_no)[: 2 + i % 3]
    return evs


def _varying(con, table: str) -> str:
    cols = [d[0] for d in con.execute(f"SELECT * FROM {table} LIMIT 0").description]
    return ", ".join(c for c in cols if c in ("source", "recorded_at", "recorded_on"))


def _ledger(wh: Path) -> dict:
    con = duckdb.connect(str(wh), read_only=True)
    out = {
        "entries": con.execute(
            "SELECT entry_id, stage, stage_since, due_date, officer_id FROM ledger_entries ORDER BY entry_id"
        ).fetchall(),
        "transitions": con.execute(
            "SELECT entry_id, from_stage, to_stage, event_date, detail FROM ledger_transitions "
            "ORDER BY entry_id, event_date, to_stage"
        ).fetchall(),
        # the same rows, but not the same file: its name and row numbers (source) and times differ
        "events": con.execute("SELECT * EXCLUDE (source, recorded_at) FROM feedback_events ORDER BY ALL").fetchall(),
        "conclusions": con.execute(
            f"SELECT * EXCLUDE ({_varying(con, 'conclusions')}) FROM conclusions ORDER BY ALL"
        ).fetchall(),
    }
    con.close()
    return out


def _office_ids(folder: Path, office: str, n: int) -> list[str]:
    ws = openpyxl.load_workbook(folder / office / "worklist.xlsx", read_only=True)[FEEDBACK_SHEET]
    return [r[1] for r in ws.iter_rows(min_row=2, values_only=True)][:n]


def _sheet_order(folder: Path, office: str, evs: list[dict]) -> list[dict]:
    """``evs`` reordered as the filled sheet holds them (first events in the prefilled rows' order,
    then the added rows in the order they were added)."""
    order = {i: k for k, i in enumerate(_office_ids(folder, office, 10_000))}
    seen, first, later = set(), [], []
    for ev in evs:
        (later if ev["id_no"] in seen else first).append(ev)
        seen.add(ev["id_no"])
    return sorted(first, key=lambda e: order[e["id_no"]]) + later


def _write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in COLUMNS})
    return path


def test_round_trip_gives_the_ledger_of_the_same_csv(month, tmp_path):
    _, wh, folder = month
    office = _busiest_office(folder)
    ids = _office_ids(folder, office, 6)
    evs = _events(office, ids)
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    shutil.copyfile(wh, a)
    shutil.copyfile(wh, b)
    book = _fill(
        folder / office / "worklist.xlsx",
        evs,
        tmp_path / f"feedback-{office}.xlsx",
        labels_for={"event", "merge_status", "archive_conclusion", "result"},
    )
    rep_x = apply_feedback_files([book], a)
    rep_c = apply_feedback_files([_write_csv(tmp_path / "same.csv", _sheet_order(folder, office, evs))], b)
    fx, fc = rep_x.files[0], rep_c.files[0]
    assert fx.status == "APPLIED" and fx.rows == len(evs) and fx.refused == 0  # prefilled rows are not rows
    assert (fx.rows, fx.accepted, fx.refused) == (fc.rows, fc.accepted, fc.refused)
    assert _ledger(a) == _ledger(b)
    # the row numbers are the sheet's rows minus one
    _, records = read_workbook(book)
    ws = openpyxl.load_workbook(book, read_only=True)[FEEDBACK_SHEET]
    filled = [i for i, r in enumerate(ws.iter_rows(min_row=2, values_only=True), start=1) if r[5]]
    assert [n for n, _ in records] == filled
    # applying the workbook again changes nothing
    assert apply_feedback_files([book], a).files[0].status == "ALREADY_APPLIED"


def test_csv_with_chinese_headers_and_labels_is_applied_as_with_codes(month, tmp_path):
    _, wh, folder = month
    office = _busiest_office(folder)
    evs = _events(office, _office_ids(folder, office, 3))
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    shutil.copyfile(wh, a)
    shutil.copyfile(wh, b)
    t = labels.table()["feedback_column"]
    path = tmp_path / "zh.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([t[c]["zh"] for c in COLUMNS])
        for r in evs:
            w.writerow(
                [
                    labels.label(labels.FEEDBACK_VALUE_DOMAINS[c], r.get(c))
                    if c in labels.FEEDBACK_VALUE_DOMAINS and r.get(c)
                    else r.get(c, "")
                    for c in COLUMNS
                ]
            )
    assert apply_feedback_files([path], a).files[0].refused == 0
    assert apply_feedback_files([_write_csv(tmp_path / "codes.csv", evs)], b).files[0].refused == 0
    assert _ledger(a) == _ledger(b)


def test_items_as_labels_are_codes():
    row = {"event": "档案预审完成", "result": "不通过", "items": "工作经历材料；服兵役材料、OTHER"}
    import unicodedata

    row["items"] = unicodedata.normalize("NFKC", row["items"])
    labels.decode_feedback_row(row)
    assert row == {"event": "ARCHIVE_REVIEWED", "result": "FAIL", "items": "WORK_HISTORY;MILITARY_SERVICE;OTHER"}


def test_an_id_number_made_a_number_is_refused_and_never_matched(month, tmp_path):
    _, wh, folder = month
    office = _busiest_office(folder)
    ids = _office_ids(folder, office, 4)
    a = tmp_path / "a.duckdb"
    shutil.copyfile(wh, a)
    wb = openpyxl.load_workbook(folder / office / "worklist.xlsx")
    ws = wb[FEEDBACK_SHEET]
    digits = [i for i in ids if i[-1] != "X"][:3]
    assert len(digits) == 3
    mangled = {
        digits[0]: int(digits[0][:15] + "000"),  # a number (Excel keeps 15 digits)
        digits[1]: f"{int(digits[1]):.14E}",  # text showing the number in scientific notation
        digits[2]: digits[2][:15],  # fewer than 18 characters
    }
    for r in range(2, ws.max_row + 1):
        idv = ws.cell(r, 2).value
        if idv in mangled:
            ws.cell(r, 2).value = mangled[idv]
            ws.cell(r, 6).value = "指定服务责任人"
            ws.cell(r, 7).value = "2026-11-20"
            ws.cell(r, 8).value = f"{office}-01"
    ws.cell(ws.max_row + 1, 1).value = office  # a good row after them is applied
    last = ws.max_row
    ws.cell(last, 2).value = ids[3]
    ws.cell(last, 6).value = "OFFICER_ASSIGNED"
    ws.cell(last, 7).value = "2026-11-20"
    ws.cell(last, 8).value = f"{office}-01"
    path = tmp_path / "mangled.xlsx"
    wb.save(path)
    before = _ledger(a)["entries"]
    out = apply_feedback_files([path], a).files[0]
    assert (out.rows, out.refused, out.accepted) == (4, 3, 1)
    con = duckdb.connect(str(a), read_only=True)
    refused = con.execute(
        "SELECT reason_code, reason, person_key, entry_id FROM feedback_rows WHERE status = 'REFUSED' ORDER BY row_no"
    ).fetchall()
    con.close()
    assert len(refused) == 3
    for code, reason, pkey, entry in refused:
        assert code == "MALFORMED" and "format the column as text" in reason
        assert pkey is None and entry is None  # never matched to a person
        assert not re.search(r"[0-9]{15}", reason)
    after = _ledger(a)
    assert len(after["events"]) == 1  # only the good row's event
    assert {e for e in after["entries"] if e not in before} <= {
        e for e in after["entries"] if e[0] == after["events"][0][0]
    }


def _refused(wh_src: Path, tmp: Path, path: Path, code: str) -> None:
    a = tmp / f"r-{code}.duckdb"
    shutil.copyfile(wh_src, a)
    before = _ledger(a)
    with pytest.raises(FeedbackFileRefused) as exc:
        apply_feedback_files([path], a)
    assert code in str(exc.value)
    assert len(str(exc.value).splitlines()) == 1
    con = duckdb.connect(str(a), read_only=True)
    files = con.execute("SELECT status, reason_code FROM feedback_files").fetchall()
    rows = con.execute("SELECT count(*) FROM feedback_rows").fetchall()[0][0]
    con.close()
    assert files == [("REFUSED", code)] and rows == 0
    assert _ledger(a) == before  # nothing of it applied


def test_workbooks_refused_whole(month, tmp_path):
    _, wh, folder = month
    office = _busiest_office(folder)
    good = _fill(
        folder / office / "worklist.xlsx", _events(office, _office_ids(folder, office, 2)), tmp_path / "good.xlsx"
    )
    # no 反馈 sheet
    wb = openpyxl.load_workbook(good)
    del wb[FEEDBACK_SHEET]
    wb.save(tmp_path / "nosheet.xlsx")
    _refused(wh, tmp_path, tmp_path / "nosheet.xlsx", "NO_FEEDBACK_SHEET")
    # damaged: the zip cut in half
    data = good.read_bytes()
    (tmp_path / "cut.xlsx").write_bytes(data[: len(data) // 2])
    _refused(wh, tmp_path, tmp_path / "cut.xlsx", "NOT_XLSX")
    # password-protected: Office stores it as an OLE compound file with an EncryptionInfo stream
    ole = bytearray(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    ole += "EncryptionInfo".encode("utf-16-le") + bytes(50) + "EncryptedPackage".encode("utf-16-le") + os.urandom(2000)
    (tmp_path / "locked.xlsx").write_bytes(bytes(ole))
    _refused(wh, tmp_path, tmp_path / "locked.xlsx", "ENCRYPTED")
    # macro-enabled: a VBA project inside, or saved as .xlsm
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(tmp_path / "macro.xlsx", "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, zin.read(item.filename))
        zout.writestr("xl/vbaProject.bin", b"\x00" * 64)
    _refused(wh, tmp_path, tmp_path / "macro.xlsx", "MACRO_ENABLED")
    shutil.copyfile(good, tmp_path / "saved.xlsm")
    _refused(wh, tmp_path, tmp_path / "saved.xlsm", "MACRO_ENABLED")
    # an unknown column
    wb = openpyxl.load_workbook(good)
    wb[FEEDBACK_SHEET].cell(1, 30).value = "备注2"
    wb.save(tmp_path / "badhead.xlsx")
    _refused(wh, tmp_path, tmp_path / "badhead.xlsx", "BAD_HEADER")


def test_a_value_under_no_header_refuses_the_row(month, tmp_path):
    _, wh, folder = month
    office = _busiest_office(folder)
    book = _fill(
        folder / office / "worklist.xlsx", _events(office, _office_ids(folder, office, 1)), tmp_path / "stray.xlsx"
    )
    wb = openpyxl.load_workbook(book)
    ws = wb[FEEDBACK_SHEET]
    ws.cell(2, 40).value = "看这里"
    wb.save(book)
    _, records = read_workbook(book)
    assert records[0] == (1, "a value stands in a column without header")


def test_feedback_inbox_takes_workbooks(month, tmp_path, monkeypatch):
    from pipelines import orchestration

    _, wh, folder = month
    office = _busiest_office(folder)
    a = tmp_path / "a.duckdb"
    shutil.copyfile(wh, a)
    inbox = tmp_path / "inbox"
    (inbox / office).mkdir(parents=True)  # one folder per office (issue 14)
    _fill(folder / office / "worklist.xlsx", _events(office, _office_ids(folder, office, 2)), inbox / office / "b.xlsx")
    (inbox / office / "~$b.xlsx").write_bytes(b"lock file of an open workbook")
    settled(inbox / office / "b.xlsx", inbox / office / "~$b.xlsx")  # uploaded a while ago
    res = orchestration.apply_feedback_inbox(inbox, a)
    assert res["files"] == 1 and any("applied b.xlsx" in line for line in res["report"])


# ------------------------------------------------------------------------------------------ LibreOffice


def test_libreoffice_reads_every_sheet_and_every_id_number(month, tmp_path):
    _, _, folder = month
    office = _busiest_office(folder)
    sheets = sheets_as_csv(folder / office / "worklist.xlsx", tmp_path)
    assert set(sheets) == {f"worklist-{s}.csv" for s in (WORKLIST_SHEET, FEEDBACK_SHEET, HELP_SHEET)}
    ours = _csv_rows(folder / office / "worklist.csv")
    lo = sheets[f"worklist-{WORKLIST_SHEET}.csv"]
    assert len(lo) == len(ours) and lo[0] == ours[0]
    assert [r[0] for r in lo] == [r[0] for r in ours]  # every ID number, exactly
    for col in ("office_code", "benefit_region", "statutory_age_month", "due_date"):
        i = COLS.index(col)
        assert [r[i] for r in lo] == [r[i] for r in ours], col
    fb = sheets[f"worklist-{FEEDBACK_SHEET}.csv"]
    assert [r[1] for r in fb[1:]] == [r[0] for r in ours[1:] if r[COLS.index("stage")] not in CLOSED_STAGES]


# ------------------------------------------------------------------------------------------ GB18030 CSV


def test_a_gbk_csv_saved_by_excel_or_wps_is_read_as_gb18030(month, tmp_path):
    """Decision (docs/decisions.md, issue 16): Excel's and WPS's plain "CSV" on Chinese Windows is
    GBK; it is read as GB18030 with a warning, and gives the ledger of the same file in UTF-8."""
    _, wh, folder = month
    office = _busiest_office(folder)
    evs = _events(office, _office_ids(folder, office, 3))
    for e in evs:
        e["note"] = "经办人核对：档案齐全"
        if e.get("event"):
            e["event"] = labels.label("event", e["event"])
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    shutil.copyfile(wh, a)
    shutil.copyfile(wh, b)
    utf8 = _write_csv(tmp_path / "u.csv", evs)
    gbk = tmp_path / "g.csv"
    gbk.write_bytes(utf8.read_text(encoding="utf-8").encode("gbk"))
    rep = apply_feedback_files([gbk], a)
    assert rep.files[0].status == "APPLIED" and rep.files[0].refused == 0
    assert any("GB18030" in w for w in rep.warnings)
    assert apply_feedback_files([utf8], b).files[0].refused == 0
    assert _ledger(a) == _ledger(b)
    con = duckdb.connect(str(a), read_only=True)
    assert {r[0] for r in con.execute("SELECT note FROM feedback_events").fetchall()} == {
        "经办人核对：档案齐全"
    }  # free text as typed (docs/decisions.md, the officer's round trip)
    con.close()


def test_utf16_is_still_refused(month, tmp_path):
    _, wh, _ = month
    p = tmp_path / "u16.csv"
    p.write_bytes("office_code,event,id_no,event_date\n".encode("utf-16"))
    _refused(wh, tmp_path, p, "ENCODING")


# ------------------------------------------------------------------------------------------ explain


def test_explain_speaks_chinese_by_default_and_english_on_request(month):
    from support.pushkit import run_cli

    _, wh, _ = month
    con = duckdb.connect(str(wh), read_only=True)
    id_no, name = con.execute(
        "SELECT e.id_no, p.name FROM ledger_entries e JOIN person_versions p USING (id_no) "
        "JOIN flags f ON f.id_no = e.id_no AND f.month_mi = ? WHERE p.valid_to_seq IS NULL "
        "ORDER BY e.entry_id LIMIT 1",
        [P_MI],
    ).fetchall()[0]
    codes = [
        c for (c,) in con.execute("SELECT code FROM flags WHERE id_no = ? AND month_mi = ?", [id_no, P_MI]).fetchall()
    ]
    con.close()
    code, zh, _ = run_cli("explain", id_no, "--month", "2026-11", "--warehouse", wh)
    assert code == 0
    for needle in (
        "rules.md §1",
        "rules.md §2",
        "rules.md §3",
        "rules.md §4",
        "rules.md §5",
        "国办发〔2009〕66号",
        "渐进式延迟法定退休年龄",
        "到龄年月",
        "纳入范围",
        "预警",
        "台账",
        "告知",
    ):
        assert needle in zh, needle
    for c in codes:
        assert labels.label("flag", c) in zh
    flags_part = zh.split("预警（rules.md §4）：")[1].split("一人一档台账")[0]
    assert not re.search(r"[a-z]{3,}", flags_part.replace("rules.md", ""))  # the evidence too
    assert id_no not in zh and name not in zh
    code, en, _ = run_cli("explain", id_no, "--month", "2026-11", "--warehouse", wh, "--lang", "en")
    assert code == 0 and "Ages and months (rules.md §1" in en and "Flags (rules.md §4)" in en
    assert id_no not in en


def test_transition_details_in_chinese():
    assert labels.detail_zh("taken in by PUSH;SCREENING") == "因部级推送、筛查预警纳入"
    assert (
        labels.detail_zh("conclusion v1: 300 months, relations NOT_NEEDED, archive PASS")
        == "综合结论第1版：缴费300个月，归集状态无需归集，档案结论通过"
    )
    assert labels.detail_zh("notice PRE_SERVICE-2026-11-0123456789abcdef (SMS)") == "告知：预服务告知（短信）"


def test_the_dag_office_task_writes_the_same_workbook(month, tmp_path):
    """The DAG's per-office task (monthly.stage_run("office_files") → outputs.write_offices_files) writes the
    same worklist.xlsx, byte for byte, as the command line's run — and the same offline.xlsx, made through
    a temporary table on the task's read-only connection (pipelines/xlsx_list.py, twentieth session)."""
    from pipelines import outputs, screen
    from pipelines.monthly import month_context
    from pipelines.settings import load_settings
    from pipelines.warehouse import connect

    _, wh, folder = month
    office = _busiest_office(folder)
    settings = load_settings()
    with connect(wh, read_only=True, settings=settings) as con:
        ctx = month_context(con, "2026-11", settings, replay=True)
        ctx.out = tmp_path
        screen.state_views(con, ctx)
        outputs.write_offices_files(con, ctx, [office], tmp_path / "2026-11")
    assert (tmp_path / "2026-11" / "worklists" / office / "worklist.xlsx").read_bytes() == (
        folder / office / "worklist.xlsx"
    ).read_bytes()
    offline = Path("notifications") / office / "offline.xlsx"
    cli = folder.parent / offline
    assert cli.exists() and len(openpyxl.load_workbook(cli)["线下告知"]["A"]) > 1  # it has offline notices
    assert (tmp_path / "2026-11" / offline).read_bytes() == cli.read_bytes()


def test_a_workbook_cell_is_checked_as_a_csv_cell(month, tmp_path):
    """The CSV path's cell checks (issue 14) hold in the 反馈 sheet too: a bidirectional override or an
    over-long cell refuses its row, with the CSV's reason."""
    _, _, folder = month
    office = _busiest_office(folder)
    evs = _events(office, _office_ids(folder, office, 2))[:2]
    evs[0]["note"] = "\u202e反向文字"
    evs[1]["note"] = "长" * 2001
    book = _fill(folder / office / "worklist.xlsx", evs, tmp_path / "cells.xlsx")
    _, records = read_workbook(book)
    assert [r for _, r in records] == [
        "a cell holds a control character (NUL, escape …): retype the cell",
        "a cell is longer than 2000 characters",
    ]


def test_a_copy_of_the_feedback_sheet_is_not_silently_left_out(month, tmp_path):
    """Review of issue 16: Excel names a copied sheet ``反馈 (2)``, LibreOffice ``反馈_2``; rows an
    officer wrote there were never read and the file was reported applied. The file is refused whole."""
    _, wh, folder = month
    office = _busiest_office(folder)
    good = _fill(
        folder / office / "worklist.xlsx", _events(office, _office_ids(folder, office, 2)), tmp_path / "good.xlsx"
    )
    for name in ("反馈 (2)", "反馈_2", "反馈（2）"):
        wb = openpyxl.load_workbook(good)
        wb.copy_worksheet(wb[FEEDBACK_SHEET]).title = name
        path = tmp_path / f"copy{len(name)}{name[-2]}.xlsx"
        wb.save(path)
        _refused(wh, tmp_path, path, "TWO_FEEDBACK_SHEETS")


def test_a_workbook_that_unpacks_huge_is_refused_before_it_is_read(month, tmp_path):
    """Review of issue 16: a 1 MB workbook whose sharedStrings unpack to 1 GB took 1 GB of memory
    to read; a few MB more and the feedback task is killed. Refused by the sizes in the zip."""
    from pipelines.feedback import xlsx as feedback_xlsx

    _, wh, folder = month
    office = _busiest_office(folder)
    good = _fill(
        folder / office / "worklist.xlsx", _events(office, _office_ids(folder, office, 2)), tmp_path / "good.xlsx"
    )
    limit = feedback_xlsx.MAX_UNPACKED
    big = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item, zin.read(item.filename))
        with zout.open("xl/sharedStrings.xml", "w") as fh:
            chunk = b"A" * (1 << 20)
            for _ in range(limit // len(chunk) + 1):
                fh.write(chunk)
    assert big.stat().st_size < limit // 100
    _refused(wh, tmp_path, big, "NOT_XLSX")


def test_explain_says_in_chinese_why_a_notice_is_not_an_sms(month):
    """Review of issue 16: ``渠道 参保单位转告：no mobile number`` — the reason a notice went offline
    stayed English in the Chinese explanation."""
    from support.pushkit import run_cli

    _, wh, _ = month
    con = duckdb.connect(str(wh), read_only=True)
    id_no = con.execute(
        "SELECT id_no FROM notice_log WHERE offline_reason IS NOT NULL ORDER BY id_no LIMIT 1"
    ).fetchall()[0][0]
    con.close()
    code, zh, _ = run_cli("explain", id_no, "--month", "2026-11", "--warehouse", wh)
    assert code == 0
    part = zh.split("告知（rules.md §5）：")[1]
    assert "no mobile" not in part and "not a valid" not in part
    assert "无手机号码" in part or "手机号码无效" in part
    code, en, _ = run_cli("explain", id_no, "--month", "2026-11", "--warehouse", wh, "--lang", "en")
    assert "no mobile number" in en or "phone is not a valid mobile" in en


def test_a_csv_named_xlsx_is_refused_with_a_hint(month, tmp_path):
    """Review of issue 16: a CSV renamed .xlsx was refused as "damaged, or another kind of file";
    the officer is told it is a text file to send under the name .csv."""
    _, wh, folder = month
    office = _busiest_office(folder)
    path = tmp_path / "renamed.xlsx"
    shutil.copyfile(folder / office / "worklist.csv", path)
    _refused(wh, tmp_path, path, "NOT_XLSX")
    with pytest.raises(FeedbackFileRefused) as exc:
        apply_feedback_files([path], tmp_path / "r-NOT_XLSX.duckdb")
    assert ".csv" in str(exc.value)
