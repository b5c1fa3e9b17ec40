"""Working days for the objection deadline (rules.md §7, policy.md §8): pipelines.workdays."""

from __future__ import annotations

import csv
import warnings
from datetime import date, timedelta
from pathlib import Path

import pytest

from pipelines import workdays
from pipelines.errors import UnknownCalendarYear
from pipelines.workdays import (
    CalendarFileError,
    RegionalCalendarWarning,
    add_working_days,
    is_working_day,
    load_calendar,
)
from support.calendar import ROWS_2027

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _vector_rows():
    path = VECTORS / "working_days.csv"
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_calendar(tmp_path: Path, rows: list[str]) -> workdays.Calendar:
    p = tmp_path / "overrides.csv"
    p.write_text("date,kind,scope,name\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return load_calendar(p)


def test_vectors_present():
    assert len(_vector_rows()) >= 10


@pytest.mark.parametrize("row", _vector_rows(), ids=lambda r: r["start"])
def test_working_days_vector(row):
    # the vectors are "national calendar only"
    start, n = date.fromisoformat(row["start"]), int(row["working_days"])
    if row["expected"] == "ERROR":
        with pytest.raises(UnknownCalendarYear) as exc:
            add_working_days(start, n, regional=False)
        msg = str(exc.value)
        assert "2027" in msg and "overrides.csv" in msg
        assert "2027,complete,national" in msg and "holiday,national" in msg
    else:
        assert add_working_days(start, n, regional=False) == date.fromisoformat(row["expected"])


def test_error_vector_raises_also_regionally():
    with pytest.raises(UnknownCalendarYear, match="2027"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RegionalCalendarWarning)
            add_working_days(date(2026, 12, 15), 15)


def test_adjusted_weekends_and_holidays():
    assert is_working_day(date(2026, 1, 4), regional=False)  # Sunday, 调休
    assert is_working_day(date(2026, 2, 14), regional=False)  # Saturday, 调休
    assert is_working_day(date(2026, 10, 10), regional=False)
    assert not is_working_day(date(2026, 1, 10), regional=False)  # ordinary Saturday
    assert not is_working_day(date(2026, 10, 1), regional=False)
    assert not is_working_day(date(2026, 2, 23), regional=False)  # Monday in Spring Festival
    assert is_working_day(date(2026, 3, 2), regional=False)


def test_start_day_not_counted():
    # Friday 2026-01-09: the next working day is Monday the 12th
    assert add_working_days(date(2026, 1, 9), 1, regional=False) == date(2026, 1, 12)
    # a start on a holiday: counting starts the day after
    assert add_working_days(date(2026, 10, 1), 1, regional=False) == date(2026, 10, 8)
    assert add_working_days(date(2026, 10, 1), 0, regional=False) == date(2026, 10, 1)
    with pytest.raises(ValueError):
        add_working_days(date(2026, 10, 1), -1)


def test_year_end_crossing():
    assert add_working_days(date(2025, 12, 30), 2, regional=False) == date(2026, 1, 4)  # Sunday 调休
    assert add_working_days(date(2024, 12, 27), 5, regional=False) == date(2025, 1, 6)


def test_year_before_library_is_unknown():
    with pytest.raises(UnknownCalendarYear, match="2003"):
        is_working_day(date(2003, 6, 2), regional=False)


def test_regional_warning_when_ningxia_not_entered():
    with pytest.warns(RegionalCalendarWarning, match="2026.*national calendar"):
        got = add_working_days(date(2026, 4, 24), 15)
    assert got == date(2026, 5, 19)


def test_shipped_ningxia_days_2021():
    # 2021-05-13/14 (开斋节) are off in Ningxia; nationally Thursday and Friday are working days
    assert add_working_days(date(2021, 5, 12), 1, regional=False) == date(2021, 5, 13)
    with pytest.warns(RegionalCalendarWarning, match="2021"):  # 2021 not marked complete
        assert add_working_days(date(2021, 5, 12), 1) == date(2021, 5, 17)
    with pytest.warns(RegionalCalendarWarning):
        assert not is_working_day(date(2022, 7, 11))


def test_shipped_file_invents_no_later_ningxia_days():
    cal = load_calendar()
    assert cal.path == workdays.OVERRIDES_FILE and cal.path.exists()
    assert all(d.year in (2021, 2022) for d in cal.ningxia)
    assert set(cal.ningxia) == {
        date(2021, 5, 13),
        date(2021, 5, 14),
        date(2021, 7, 19),
        date(2021, 7, 20),
        date(2022, 7, 11),
        date(2022, 7, 12),
    }
    assert cal.national_known(2026) and not cal.national_known(2027)  # known through 2026
    assert (workdays.README_FILE).exists()


def test_new_national_year_from_file(tmp_path):
    rows = ["2027-01-01,holiday,national,元旦"]
    cal = write_calendar(tmp_path, rows)
    # rows without the complete row: still unknown, and the message says so
    with pytest.raises(UnknownCalendarYear, match="not marked complete"):
        add_working_days(date(2026, 12, 15), 15, regional=False, calendar=cal)
    cal = write_calendar(tmp_path, [*ROWS_2027, "2027-01-09,workday,national,test 调休"])
    # Dec 16..31: 12 working days; Jan 1 (Fri) off; Jan 4, 5, 6
    assert add_working_days(date(2026, 12, 15), 15, regional=False, calendar=cal) == date(2027, 1, 6)
    assert is_working_day(date(2027, 1, 9), regional=False, calendar=cal)  # Saturday made working
    assert cal.national_known(2027) and not cal.national_known(2028)  # known through 2027


def test_ningxia_complete_year_no_warning(tmp_path):
    cal = write_calendar(tmp_path, ["2026-03-20,holiday,ningxia,test festival", "2026,complete,ningxia,test notice"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RegionalCalendarWarning)
        assert not is_working_day(date(2026, 3, 20), calendar=cal)
        assert is_working_day(date(2026, 3, 20), regional=False, calendar=cal)
        # Thursday 03-19 + 1 skips the Friday holiday
        assert add_working_days(date(2026, 3, 19), 1, calendar=cal) == date(2026, 3, 23)


def test_national_override_wins_over_library(tmp_path):
    cal = write_calendar(tmp_path, ["2026-01-05,holiday,national,test correction"])
    assert not is_working_day(date(2026, 1, 5), regional=False, calendar=cal)


@pytest.mark.parametrize(
    "row,match",
    [
        ("2027-01-01,vacation,national,x", "kind"),
        ("2027-01-01,holiday,beijing,x", "scope"),
        ("2027.01.01,holiday,national,x", "YYYY-MM-DD"),
        ("2027/01-01,holiday,national,x", "YYYY-MM-DD"),
        ("27/1/1,holiday,national,x", "YYYY-MM-DD"),
        ("2027/2/30,holiday,national,x", "real date"),
        ("2027-02-30,holiday,national,x", "real date"),
        ("2027-01,complete,national,x", "year"),
    ],
)
def test_bad_file_rows(tmp_path, row, match):
    with pytest.raises(CalendarFileError, match=match):
        write_calendar(tmp_path, [row])


def test_conflicting_rows(tmp_path):
    with pytest.raises(CalendarFileError, match="both"):
        write_calendar(tmp_path, ["2027-01-02,holiday,national,x", "2027-01-02,workday,national,y"])


def test_file_with_bom_comments_and_blank_lines(tmp_path):
    p = tmp_path / "overrides.csv"
    p.write_text("\ufeff# comment\ndate,kind,scope,name\n\n# another\n2026-03-20,holiday,ningxia,x\n", encoding="utf-8")
    cal = load_calendar(p)
    assert cal.ningxia == {date(2026, 3, 20): False}


def test_every_library_year_consistent():
    # sanity over the library's whole range: weekdays off only on holidays, weekends on only on 调休
    import chinese_calendar

    d = date(2004, 1, 1)
    while d <= date(2026, 12, 31):
        assert is_working_day(d, regional=False) == chinese_calendar.is_workday(d)
        d += timedelta(days=1)


# -- the calendar's outlook: a year the deadlines will reach, warned before it bites (rules.md §7)


def _complete(tmp_path: Path, *years_national: int, ningxia: tuple[int, ...] = ()) -> workdays.Calendar:
    from support.calendar import ROWS_2027

    assert set(years_national) <= {2027}, "a made-up calendar of 2027 only (tests/support/calendar.py)"
    rows = list(ROWS_2027) if 2027 in years_national else []
    rows += [f"{y},complete,ningxia,test calendar" for y in ningxia]
    return write_calendar(tmp_path, rows)


def test_outlook_names_the_first_receipt_day_whose_deadline_reaches_an_unknown_year(tmp_path):
    cal = _complete(tmp_path)  # chinese_calendar 1.11 alone: through 2026
    assert add_working_days(date(2026, 12, 10), 15, regional=False, calendar=cal) == date(2026, 12, 31)
    o = workdays.outlook(date(2026, 11, 1), date(2026, 12, 31), 15, calendar=cal)
    assert (o.unknown_year, o.open_from, o.regional_years) == (2027, date(2026, 12, 11), (2026,))
    # the same from the month: P = 2026-11 covers results received in November and December
    assert workdays.month_outlook(2026 * 12 + 10, 15, calendar=cal) == o
    text = workdays.outlook_warning(o, 15)
    assert "2027 is not entered" in text and "from 2026-12-11 on" in text and "overrides.csv" in text
    assert "Ningxia's own holidays of 2026" in text


def test_outlook_of_a_period_wholly_in_an_unknown_year(tmp_path):
    cal = _complete(tmp_path)
    o = workdays.outlook(date(2027, 1, 1), date(2027, 2, 28), 15, calendar=cal)
    assert (o.unknown_year, o.open_from, o.regional_years) == (2027, date(2027, 1, 1), ())


def test_outlook_is_quiet_when_the_calendar_knows_every_year_reached(tmp_path):
    cal = _complete(tmp_path, 2027, ningxia=(2026, 2027))
    o = workdays.month_outlook(2026 * 12 + 11, 15, calendar=cal)  # P = 2026-12: into February 2027
    assert o == workdays.Outlook(None, None, ())
    assert workdays.outlook_warning(o, 15) is None
    # months whose deadlines stay in a known year: no unknown year, only the regional days
    plain = _complete(tmp_path)
    o = workdays.month_outlook(2026 * 12 + 8, 15, calendar=plain)  # September and October 2026
    assert (o.unknown_year, o.open_from, o.regional_years) == (None, None, (2026,))
