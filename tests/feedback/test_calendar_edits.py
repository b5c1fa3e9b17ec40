"""The working-day calendar file as the division will edit it in January (sixteenth session, an
adversarial probe of the turn of the year): data/calendar/overrides.csv opened and saved in Excel or
WPS, half entered, a ``complete`` row typed before the days. Each either works or stops with a
clear error naming the file and line; no feedback row is lost, and no objection in time is refused
on a half-entered year. The calendars of 2027 here are TEST calendars (support/calendar.py).
"""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from pipelines import workdays
from support import calendar
from support.declare import declare
from support.feedback import Wh, path_rows, row
from support.pushkit import run_cli

SHIPPED = workdays.OVERRIDES_FILE  # data/calendar/overrides.csv (the tests use copies)


@pytest.fixture
def wh(tmp_path):
    return Wh(tmp_path)


@pytest.fixture
def cal(tmp_path, monkeypatch):
    """A copy of the shipped override file, used by every command of the test."""
    p = tmp_path / "overrides.csv"
    shutil.copy(SHIPPED, p)
    monkeypatch.setattr(workdays, "OVERRIDES_FILE", p)
    return p


def _received(wh) -> object:
    p = wh.person()
    rep = wh.apply(path_rows(p, "RESULT_RECEIVED", d0=date(2026, 12, 11)))
    assert rep.refused == 0, rep.lines()
    return p


def _deadline(wh):
    return wh.q("SELECT objection_deadline, deadline_status FROM conclusions")


def _shipped_plus_2027() -> str:
    return SHIPPED.read_text(encoding="utf-8") + calendar.text_2027()


def test_the_file_saved_by_excel_as_plain_csv_is_read(wh, cal):
    """Excel/WPS on Chinese Windows: "CSV" saves GBK (GB18030) with CRLF, and a date cell as 2027/1/1.
    It was an internal error (UnicodeDecodeError) that stopped every feedback and declaration."""
    p = _received(wh)
    text = _shipped_plus_2027().replace("2027-01-01", "2027/1/1").replace("2021-05-13", "2021/5/13")
    cal.write_bytes(text.replace("\n", "\r\n").encode("gb18030"))
    assert wh.apply([row(p, "OBJECTION_FILED", date(2027, 1, 6))]).refused == 0
    assert _deadline(wh) == [(date(2027, 1, 6), "SET")]
    assert wh.q("SELECT timeliness FROM objections") == [("ON_TIME",)]
    with pytest.warns(workdays.RegionalCalendarWarning):  # 2021's Ningxia days are not all entered
        assert not workdays.load_calendar(cal).is_working_day(date(2021, 5, 13))  # 开斋节, read as 2021/5/13


def test_a_unicode_text_file_is_a_clear_error_and_no_row_is_lost(wh, cal, tmp_path):
    p = _received(wh)
    cal.write_bytes(_shipped_plus_2027().encode("utf-16"))
    f = wh.write([row(p, "OBJECTION_FILED", date(2027, 1, 6))], name="fb-jan.csv")
    code, _, err = run_cli("feedback", "--office", "640104", "--warehouse", wh.path, "--out", tmp_path / "out", f)
    assert code == 2 and "internal error" not in err
    assert "overrides.csv" in err and "CSV UTF-8" in err and len(err.strip().splitlines()) == 1
    assert wh.q("SELECT count(*) FROM feedback_files WHERE file_name = 'fb-jan.csv'") == [(0,)]
    cal.write_text(_shipped_plus_2027(), encoding="utf-8")  # saved again as CSV UTF-8
    code, out, err = run_cli("feedback", "--office", "640104", "--warehouse", wh.path, "--out", tmp_path / "out", f)
    assert code == 0, err
    assert wh.q("SELECT status, timeliness FROM objections") == [("ACCEPTED", "ON_TIME")]


@pytest.mark.parametrize(
    "rows_2027",
    [
        ["2027,complete,national,国务院办公厅关于2027年部分节假日安排的通知"],  # the complete row typed first
        ["2027-01-01,holiday,national,元旦", "2027,complete,national,通知"],  # half entered
    ],
)
def test_a_year_marked_complete_without_its_days_refuses_no_objection_in_time(wh, cal, tmp_path, rows_2027):
    """On Monday-Friday alone (or 元旦 alone) the deadline of a result received on 12-15 came a day
    early (2027-01-05): an objection on its true last day was refused LATE_OBJECTION for good."""
    p = _received(wh)
    with open(cal, "a", encoding="utf-8") as fh:
        fh.write("".join(r + "\n" for r in rows_2027))
    f = wh.write([row(p, "OBJECTION_FILED", date(2027, 1, 6))], name="fb-jan.csv")
    code, _, err = run_cli("feedback", "--office", "640104", "--warehouse", wh.path, "--out", tmp_path / "out", f)
    assert code == 2, err
    assert "2027 is marked complete" in err and "overrides.csv, line" in err
    assert wh.q("SELECT count(*) FROM objections") == [(0,)]
    assert _deadline(wh) == [(None, "CALENDAR_UNKNOWN")]  # kept open, not computed on a half year
    cal.write_text(_shipped_plus_2027(), encoding="utf-8")
    code, _, err = run_cli("feedback", "--office", "640104", "--warehouse", wh.path, "--out", tmp_path / "out", f)
    assert code == 0, err
    assert wh.q("SELECT status, timeliness FROM objections") == [("ACCEPTED", "ON_TIME")]


def test_the_declaration_of_the_1st_is_not_stopped_by_a_calendar_being_edited(wh, cal):
    """The month-start screening (rules.md §6) does not use the deadlines; it refreshed them first
    and stopped on a bad row of the file the division was editing on 31 December."""
    from support.declare import confirm

    q = wh.person(S=2026 * 12 + 11 + 2)  # S 2027-02: declared on 2027-01-01 once confirmed
    confirm(wh, [q])
    _received(wh)
    cal.write_text(_shipped_plus_2027() + "2027-02-30,holiday,national,春节\n", encoding="utf-8")
    rep = declare(wh, "2026-12")
    assert rep.counts["DECLARATION"] == 1
    assert any("2027-02-30" in w and "not recomputed" in w for w in rep.warnings)
    assert sorted(_deadline(wh), key=str) == sorted([(date(2026, 11, 27), "SET"), (None, "CALENDAR_UNKNOWN")], key=str)
