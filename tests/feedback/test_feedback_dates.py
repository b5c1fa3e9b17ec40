"""The dates and months county officers type (sixteenth session; docs/feedback-format.md "Columns",
"What officers need to know"; docs/decisions.md 2026-12-07).

发生日期 and 选定退休年月 are read in the forms typed every day in Chinese offices — four-digit year
first, then month and day, separated by ``-``, ``/`` or ``.`` (one of them), or written 年月日 — in
full-width characters too, with a time a spreadsheet may add after a day; they are stored as the
ISO day/month, so a row sent once as ``2026/12/3`` and again as ``2026-12-03`` is the same row.
Whatever is ambiguous (day or month first, a two-digit year) or not a real date is refused, the
reason saying which form to write.  The CSV and the .xlsx paths read them alike.
"""

from __future__ import annotations

from datetime import date

import openpyxl
import pytest

from pipelines import labels
from pipelines.feedback import apply_feedback_files
from pipelines.feedback.dates import read_day, read_month
from support.feedback import Wh, row

DAY = date(2026, 12, 3)

ACCEPTED_DAYS = [
    "2026-12-03",
    "2026/12/3",
    "2026/12/03",
    "2026.12.3",
    "2026.12.03",
    "2026-12-3",
    "2026年12月3日",
    "2026年12月03日",
    "2026 年 12 月 3 日",
    "２０２６／１２／３",  # full width (NFKC)
    "２０２６年１２月３日",
    "２０２６－１２－０３",
    "  2026/12/3  ",
    "2026-12-03 00:00:00",  # a spreadsheet's day with its midnight
    "2026/12/3 0:00",
    "2026-12-03T00:00:00",
    "'2026/12/3",  # LibreOffice's text mark kept in the cell
]

REFUSED_DAYS = [
    ("12/3/2026", "date_format"),  # month or day first: ambiguous
    ("3/12/2026", "date_format"),
    ("03-12-2026", "date_format"),
    ("26/12/3", "date_format"),  # a two-digit year
    ("2026/12-3", "date_format"),  # two separators
    ("2026年12月", "date_format"),  # a month where a day is needed
    ("2026-12", "date_format"),
    ("2026/12", "date_format"),
    ("20261203", "date_format"),
    ("2026年12月3", "date_format"),
    ("2026-12-03 25:00", "date_format"),  # not a time
    ("2026/12/3 下午", "date_format"),
    ("2026/13/1", "date_unreal"),
    ("2026/2/30", "date_unreal"),
    ("2026年2月29日", "date_unreal"),
    ("2026-00-10", "date_unreal"),
    ("1899/12/31", "date_years"),
    ("2100年1月1日", "date_years"),
    ("٢٠٢٦/١٢/٣", "date_format"),  # other scripts' digits are no ASCII digits after NFKC
]

ACCEPTED_MONTHS = [
    "2027-02",
    "2027/2",
    "2027/02",
    "2027.02",
    "2027-2",
    "2027年2月",
    "２０２７年２月",
    "２０２７／２",
]
REFUSED_MONTHS = [
    "2/2027",
    "02-2027",
    "27/2",
    "2027/13",
    "2027-00",
    "2027年",
    "2027/2/1",
    "2027年2月1日",
    "202702",
    # a spreadsheet's General cell turns 2027.10 into the number 2027.1: one digit after a dot is
    # October as often as January, so it is refused (review of the sixteenth session)
    "2027.2",
    "2027.1",
]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_october_typed_with_a_dot_and_turned_into_a_number_is_not_read_as_january(tmp_path, kind):
    """2027.10 in a General cell is stored as 2027.1: read as 2027-01 it would declare the person in
    the wrong month (rules.md §6). Refused instead, naming the forms to write."""
    wh = Wh(tmp_path)
    p = wh.person()
    rows = [row(p, "ELECTED_MONTH", DAY, elected_month="2027.1")]
    if kind == "xlsx":
        head = ["office_code", "event", "id_no", "event_date", "elected_month"]
        path = _book(tmp_path / "fb.xlsx", head, [[r.get(c) for c in head[:-1]] + [2027.1] for r in rows])
    else:
        path = wh.write(rows)
    f = _apply(wh, path).files[0]
    assert f.refused == 1
    assert wh.q("SELECT reason_code FROM feedback_rows") == [("MALFORMED",)]
    assert wh.one("SELECT elected_retirement_mi FROM ledger_entries WHERE entry_id = ?", [p.entry_id]) is None


@pytest.mark.parametrize("typed", ACCEPTED_DAYS)
def test_a_day_written_year_first_is_read(typed):
    import unicodedata

    # the readers NFKC-normalise and trim every cell that is not free text and drop one apostrophe
    cell = unicodedata.normalize("NFKC", typed).strip().lstrip("'")
    assert read_day(cell) == (DAY, None)


@pytest.mark.parametrize("typed,why", REFUSED_DAYS)
def test_an_ambiguous_or_unreal_day_is_refused(typed, why):
    import unicodedata

    day, text = read_day(unicodedata.normalize("NFKC", typed).strip())
    assert day is None and text == f"MALFORMED.{why}"


@pytest.mark.parametrize("typed", ACCEPTED_MONTHS)
def test_a_month_written_year_first_is_read(typed):
    import unicodedata

    assert read_month(unicodedata.normalize("NFKC", typed)) == (2027 * 12 + 1, None)


@pytest.mark.parametrize("typed", REFUSED_MONTHS)
def test_an_ambiguous_month_or_a_day_where_a_month_is_needed_is_refused(typed):
    assert read_month(typed) == (None, "MALFORMED.month_format")


# ------------------------------------------------------------------------------ through the readers


def _apply(wh: Wh, path, office="640104"):
    return apply_feedback_files([path], wh.path, wh.settings, office=office, receipts=wh.tmp / "receipts")


def _book(path, head: list[str], rows: list[list]) -> object:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "反馈"
    ws.append([labels.label("feedback_column", c) for c in head])
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


FORMS = ["2026/12/3", "2026.12.3", "2026-12-3", "2026年12月3日", "２０２６／１２／３", "2026-12-03 00:00:00"]


def _file(wh, tmp_path, rows: list[dict], kind: str):
    """The rows as the office sends them: a CSV, or the 反馈 sheet of a workbook."""
    if kind == "csv":
        return wh.write(rows)
    head = ["office_code", "event", "id_no", "event_date", "result", "elected_month"]
    return _book(tmp_path / "fb.xlsx", head, [[r.get(c) for c in head] for r in rows])


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_natural_forms_are_applied_alike_by_csv_and_xlsx_and_stored_as_iso(tmp_path, kind):
    wh = Wh(tmp_path)
    people = [wh.person() for _ in FORMS]
    rows = [row(p, "ARCHIVE_REVIEWED", DAY, result="PASS") | {"event_date": f} for p, f in zip(people, FORMS)]
    a = people[0]
    rows.append(row(a, "ELECTED_MONTH", DAY, elected_month="2027年2月") | {"event_date": "2026年12月3日"})
    f = _apply(wh, _file(wh, tmp_path, rows, kind)).files[0]
    assert (f.rows, f.refused) == (len(rows), 0), wh.q("SELECT row_no, reason FROM feedback_rows")
    assert wh.q("SELECT DISTINCT event_date FROM feedback_events") == [(DAY,)]
    assert wh.q("SELECT DISTINCT event_date FROM feedback_rows") == [(DAY,)]
    assert wh.one("SELECT elected_retirement_mi FROM ledger_entries WHERE entry_id = ?", [a.entry_id]) == 2027 * 12 + 1
    assert all(wh.stage(p) == "ARCHIVE_REVIEWED" for p in people)


def test_a_row_sent_as_2026_12_3_and_again_as_2026_12_03_is_the_same_row(tmp_path):
    """Applying twice compares a row with rows applied before: the date as read, not as typed."""
    wh = Wh(tmp_path)
    p = wh.person()
    first = [
        row(p, "ARCHIVE_REVIEWED", DAY, result="PASS") | {"event_date": "2026/12/3"},
        row(p, "ELECTED_MONTH", DAY, elected_month="2027/2") | {"event_date": "2026年12月3日"},
    ]
    assert _apply(wh, wh.write(first)).files[0].refused == 0
    again = [
        row(p, "ARCHIVE_REVIEWED", DAY, result="PASS"),
        row(p, "ELECTED_MONTH", DAY, elected_month="2027-02"),
        row(p, "ARCHIVE_REVIEWED", DAY, result="PASS") | {"event_date": "2026.12.03"},
    ]
    f = _apply(wh, wh.write(again)).files[0]
    # the third row is the file's second identical row: one applied before, so it is a re-review
    assert (f.rows, f.already_applied, f.refused) == (3, 2, 0), wh.q("SELECT row_no, status, reason FROM feedback_rows")
    assert wh.one("SELECT count(*) FROM feedback_events WHERE event = 'ELECTED_MONTH'") == 1


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_ambiguous_dates_are_refused_saying_which_form_to_write(tmp_path, kind):
    wh = Wh(tmp_path)
    p = wh.person()
    bad_days = ["12/3/2026", "3/12/2026", "26/12/3", "2026/13/1", "2026/2/30", "2026年12月", "2100/1/1"]
    rows = [row(p, "ARCHIVE_REVIEWED", DAY, result="PASS") | {"event_date": d} for d in bad_days]
    rows.append(row(p, "ELECTED_MONTH", DAY, elected_month="2/2027"))
    rows.append(row(p, "ELECTED_MONTH", DAY, elected_month="2027年2月3日"))
    f = _apply(wh, _file(wh, tmp_path, rows, kind)).files[0]
    assert (f.rows, f.refused) == (len(rows), len(rows))
    got = wh.q("SELECT reason_code, reason, reason_zh FROM feedback_rows ORDER BY row_no")
    assert {c for c, _, _ in got} == {"MALFORMED"}
    day_col, month_col = labels.label("feedback_column", "event_date"), labels.label("feedback_column", "elected_month")
    for _, reason, zh in got[:3] + got[5:6]:  # not a form read: the forms to write
        assert "YYYY-MM-DD" in reason and f"“{day_col}”" in zh and "2026-12-03" in zh and "2026年12月3日" in zh
        assert "年份" in zh
    assert "not a real date" in got[3][1] and "not a real date" in got[4][1]
    assert "1900" in got[6][2]
    for _, reason, zh in got[7:]:
        assert "YYYY-MM" in reason and f"“{month_col}”" in zh and "2027-02" in zh and "2027年2月" in zh
    assert wh.one("SELECT count(*) FROM feedback_events") == 0 and wh.stage(p) == "NOTIFIED"
