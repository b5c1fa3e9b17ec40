"""Working days for the objection deadline (rules.md §7, policy.md §8).

A working day is Monday to Friday, less the State Council's public holidays and
Ningxia's own (开斋节, 古尔邦节 — set each year by the regional government under
全国年节及纪念日放假办法 第四条), plus the adjusted working weekends (调休).

Sources of the calendar, in order of precedence for a day:

1. ``data/calendar/overrides.csv`` rows of scope ``ningxia`` (regional computations only);
2. ``data/calendar/overrides.csv`` rows of scope ``national``;
3. ``chinese_calendar`` (the State Council's notices, 2004–2026 in version 1.11);
4. Monday to Friday.

A year is *known* nationally when ``chinese_calendar`` covers it or the file has the row
``YYYY,complete,national,…``; any other year raises :class:`UnknownCalendarYear`,
never a guess. A year without ``YYYY,complete,ningxia,…`` is computed with whatever
Ningxia days are entered (usually none: the national calendar) and a warning that
says so. The file format is described in ``data/calendar/README.md``.

Periods counted in days start the next day (民法典 第二百零一条): ``add_working_days``
never counts the start day itself.
"""

from __future__ import annotations

import csv
import logging
import re
import time
import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import chinese_calendar

from . import DATA_DIR, PROJECT_ROOT
from .errors import RetirePrepError, UnknownCalendarYear

log = logging.getLogger(__name__)

OVERRIDES_FILE = DATA_DIR / "calendar" / "overrides.csv"
README_FILE = DATA_DIR / "calendar" / "README.md"

KINDS = ("holiday", "workday", "complete")
SCOPES = ("national", "ningxia")

#: ``YYYY-MM-DD``; also ``YYYY/M/D`` and ``YYYY-M-D``: a year first is unambiguous, and Excel or WPS
#: on Chinese Windows saves a date cell of the file as ``2027/1/1`` (docs/decisions.md, sixteenth session)
_DATE = re.compile(r"^([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})$")
_YEAR = re.compile(r"^[0-9]{4}$")
#: The State Council's days off of a year, from 2025 on: 13 (全国年节及纪念日放假办法 第二条: 元旦 1,
#: 春节 4, 清明节 1, 劳动节 2, 端午节 1, 中秋节 1, 国庆节 3), each one falling on a weekend made up on a
#: working day (第六条), so at least 13 days off fall on Monday–Friday.  A year marked complete with fewer
#: is half entered: its deadlines would come too early and an objection in time would be refused.
_MIN_WEEKDAYS_OFF = 13
_MIN_WEEKDAYS_OFF_FROM = 2025


def _shown(path: Path) -> str:
    """A path for messages: relative to the project when inside it."""
    try:
        return Path(path).resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


class RegionalCalendarWarning(UserWarning):
    """Ningxia's own days for a year are not (fully) entered: national calendar used."""


class CalendarFileError(RetirePrepError):
    """A malformed row in the calendar override file."""


def _library_years() -> tuple[int, int]:
    days = chinese_calendar.holidays
    return min(days).year, max(days).year


@dataclass(frozen=True)
class Calendar:
    """The national calendar of ``chinese_calendar`` plus the rows of the override file."""

    path: Path
    library_years: tuple[int, int]
    national: dict  # date -> bool (True: working day)
    ningxia: dict  # date -> bool
    national_complete: frozenset
    ningxia_complete: frozenset

    # -- coverage ---------------------------------------------------------------------

    def national_known(self, year: int) -> bool:
        lo, hi = self.library_years
        return lo <= year <= hi or year in self.national_complete

    def ningxia_known(self, year: int) -> bool:
        return year in self.ningxia_complete

    def check_year(self, year: int) -> None:
        """Raise UnknownCalendarYear when no calendar covers ``year`` (rules.md §7)."""
        if not self.national_known(year):
            lo, hi = self.library_years
            entered = sum(1 for d in self.national if d.year == year)
            partly = (
                f" ({entered} national day(s) of {year} are entered but the year is not marked complete)"
                if entered
                else ""
            )
            raise UnknownCalendarYear(
                f"the working-day calendar of {year} is not known: chinese_calendar "
                f"{getattr(chinese_calendar, '__version__', '')} covers {lo}-{hi} and {_shown(self.path)} "
                f"does not mark {year} as entered{partly}. When the State Council publishes the "
                f"{year} holiday arrangement (国务院办公厅关于{year}年部分节假日安排的通知), add to that file "
                f"one row per day off, e.g. '{year}-01-01,holiday,national,元旦', one row per adjusted "
                f"working weekend day, e.g. '{year}-02-06,workday,national,春节调休', and the row "
                f"'{year},complete,national,<title of the notice>' (columns date,kind,scope,name; "
                f"see {_shown(README_FILE)})"
            )

    def warn_regional(self, year: int) -> None:
        """Warn that ``year`` is computed without Ningxia's own days (rules.md §7)."""
        if self.ningxia_known(year):
            return
        entered = sorted(d for d in self.ningxia if d.year == year)
        what = (
            f"only {len(entered)} Ningxia day(s) are entered and the year is not marked complete"
            if entered
            else "Ningxia's own holidays (开斋节, 古尔邦节) are not entered"
        )
        msg = (
            f"working days of {year}: {what} in {_shown(self.path)}; computing on the national calendar"
            f"{' plus the entered days' if entered else ''}. Add the days of the regional notice as "
            f"'{year}-MM-DD,holiday,ningxia,开斋节' rows and the row '{year},complete,ningxia,<title of "
            f"the notice>' (see {_shown(README_FILE)})"
        )
        warnings.warn(msg, RegionalCalendarWarning, stacklevel=3)
        if year not in _logged_years:
            _logged_years.add(year)
            log.warning(msg)

    # -- days -------------------------------------------------------------------------

    def _national_working(self, d: date) -> bool:
        if d in self.national:
            return self.national[d]
        lo, hi = self.library_years
        if lo <= d.year <= hi:
            return chinese_calendar.is_workday(d)
        return d.weekday() < 5

    def working(self, d: date, *, regional: bool = True) -> bool:
        """Working day, without the year checks (call check_year/warn_regional first)."""
        if regional and d in self.ningxia:
            return self.ningxia[d]
        return self._national_working(d)

    def is_working_day(self, d: date, *, regional: bool = True) -> bool:
        """Working day on this calendar; raises UnknownCalendarYear for an unknown year."""
        self.check_year(d.year)
        if regional:
            self.warn_regional(d.year)
        return self.working(d, regional=regional)


_logged_years: set[int] = set()


def _decode(path: Path, data: bytes) -> str:
    """UTF-8 (BOM or not), else GB18030 — what Excel's and WPS's plain "CSV" saves on Chinese
    Windows, as for the feedback files; anything else (UTF-16 "Unicode text") a clear error."""
    from .contract import decode_csv_text

    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data  # GB18030 would read it, as nonsense
    text, line = decode_csv_text(data, gb18030=not utf16)
    if text is not None:
        return text
    raise CalendarFileError(
        f"{path}, line {line}: the file is neither UTF-8 nor GB18030/GBK (Unicode/UTF-16 text?): "
        "save it as 'CSV UTF-8' (see data/calendar/README.md)"
    )


def _day(where: str, when: str) -> date:
    m = _DATE.match(when)
    if not m:
        raise CalendarFileError(f"{where}: date must be YYYY-MM-DD, not {when!r}")
    try:
        return date(int(m.group(1)), int(m.group(3)), int(m.group(4)))
    except ValueError:
        raise CalendarFileError(f"{where}: {when!r} is not a real date") from None


def _check_complete(path: Path, national: dict, complete_at: dict[int, int]) -> None:
    """A national year marked complete that the library does not know holds its days off (see
    _MIN_WEEKDAYS_OFF): a ``complete`` row typed before the days, or a half-entered year, is an error."""
    lo, hi = _library_years()
    for year, line_no in sorted(complete_at.items()):
        if lo <= year <= hi or year < _MIN_WEEKDAYS_OFF_FROM:
            continue
        off = sum(1 for d, working in national.items() if d.year == year and not working and d.weekday() < 5)
        if off < _MIN_WEEKDAYS_OFF:
            raise CalendarFileError(
                f"{path}, line {line_no}: {year} is marked complete (national) but only {off} day(s) off on "
                f"Monday-Friday of {year} are entered; the State Council's arrangement has at least "
                f"{_MIN_WEEKDAYS_OFF} (全国年节及纪念日放假办法 第二条、第六条). Enter every day off and adjusted "
                f"working day of the notice, or remove the '{year},complete,national' row until they are: "
                f"deadlines computed on a half-entered year would come too early"
            )


def _parse_file(path: Path, data: bytes | None) -> tuple[dict, dict, frozenset, frozenset]:
    national: dict[date, bool] = {}
    ningxia: dict[date, bool] = {}
    complete: dict[str, set[int]] = {"national": set(), "ningxia": set()}
    if data is None:
        return national, ningxia, frozenset(), frozenset()
    text = _decode(path, data)
    lines = [
        (i, line)
        for i, line in enumerate(text.splitlines(keepends=True), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        return national, ningxia, frozenset(), frozenset()
    reader = csv.reader([line for _, line in lines])
    header = [h.strip().lower() for h in next(reader)]
    need = ["date", "kind", "scope"]
    complete_at: dict[int, int] = {}
    if header[:3] != need:
        raise CalendarFileError(f"{path}, line {lines[0][0]}: the header must start with date,kind,scope(,name)")
    for (line_no, _), row in zip(lines[1:], reader):
        cells = [c.strip() for c in row] + ["", "", ""]
        when, kind, scope = cells[0], cells[1].lower(), cells[2].lower()
        where = f"{path}, line {line_no}"
        if kind not in KINDS:
            raise CalendarFileError(f"{where}: kind must be one of {', '.join(KINDS)}, not {cells[1]!r}")
        if scope not in SCOPES:
            raise CalendarFileError(f"{where}: scope must be one of {', '.join(SCOPES)}, not {cells[2]!r}")
        if kind == "complete":
            if not _YEAR.match(when):
                raise CalendarFileError(f"{where}: a 'complete' row takes a year YYYY in the date column, not {when!r}")
            complete[scope].add(int(when))
            if scope == "national":
                complete_at.setdefault(int(when), line_no)
            continue
        d = _day(where, when)
        target = national if scope == "national" else ningxia
        working = kind == "workday"
        if d in target and target[d] != working:
            raise CalendarFileError(f"{where}: {when} is entered both as a holiday and as a workday ({scope})")
        target[d] = working
    _check_complete(path, national, complete_at)
    return national, ningxia, frozenset(complete["national"]), frozenset(complete["ningxia"])


@lru_cache(maxsize=8)
def _load(path: Path, data: bytes | None) -> Calendar:
    national, ningxia, nat_c, nx_c = _parse_file(path, data)
    return Calendar(path, _library_years(), national, ningxia, nat_c, nx_c)


def _stat(p: Path) -> tuple[int, int] | None:
    try:
        st = p.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


def _read_settled(p: Path) -> bytes | None:
    """The file's bytes, read again while it changes under the read (the division saving it while a
    command runs: a torn read would be half a calendar); None when there is no file."""
    for _ in range(5):
        before = _stat(p)
        if before is None:
            return None
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            continue  # replaced (saved by renaming a new file over it): read the new one
        if _stat(p) == before and len(data) == before[1]:
            return data
        time.sleep(0.2)
    raise CalendarFileError(f"{p}: the file kept changing while it was read: run the command again once it is saved")


def load_calendar(path: str | Path | None = None) -> Calendar:
    """The calendar: chinese_calendar plus ``path`` (default ``data/calendar/overrides.csv``).

    The file is read on every call (a few kB) and parsed again only when its bytes changed.
    """
    p = Path(path) if path else OVERRIDES_FILE
    return _load(p, _read_settled(p))


def is_working_day(d: date, *, regional: bool = True, calendar: Calendar | None = None) -> bool:
    """Whether ``d`` is a working day (rules.md §7, policy.md §8).

    National calendar (chinese_calendar + override file, 全国年节及纪念日放假办法 and the
    State Council's yearly notices) and, when ``regional``, Ningxia's 开斋节/古尔邦节 days.
    Raises UnknownCalendarYear for a year no calendar covers.
    """
    cal = calendar or load_calendar()
    return cal.is_working_day(d, regional=regional)


def add_working_days(start: date, n: int, *, regional: bool = True, calendar: Calendar | None = None) -> date:
    """The ``n``-th working day after ``start`` (rules.md §7: objection within 15 working days).

    The start day itself is not counted (民法典 第二百零一条); ``n = 0`` returns ``start``.
    Raises UnknownCalendarYear as soon as the count reaches a year no calendar covers;
    warns (RegionalCalendarWarning and the log) when Ningxia's days of a year reached are
    not entered and ``regional`` is true.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    cal = calendar or load_calendar()
    d = start
    left = n
    year = None
    while left > 0:
        d += timedelta(days=1)
        if d.year != year:
            year = d.year
            cal.check_year(year)
            if regional:
                cal.warn_regional(year)
        if cal.working(d, regional=regional):
            left -= 1
    return d


@dataclass(frozen=True)
class Outlook:
    """What the calendar lacks for the objection deadlines of results received in a period."""

    unknown_year: int | None  # the first year reached that no calendar covers (rules.md §7: never guessed)
    open_from: date | None  # results received on or after it get no deadline until that year is entered
    regional_years: tuple[int, ...]  # years reached computed without Ningxia's own days (policy.md §8)


def outlook(first: date, last: date, n: int, *, calendar: Calendar | None = None) -> Outlook:
    """The calendar's outlook for deadlines of ``n`` working days from a receipt in ``[first, last]``:
    the first receipt day whose deadline reaches a year no calendar covers (its deadline is kept
    open, CALENDAR_UNKNOWN), and the years reached without Ningxia's days entered.  Deadlines grow
    with the day of receipt, so the days are tried from ``last`` back only when ``last``'s fails."""
    cal = calendar or load_calendar()

    def deadline(d: date) -> date | None:
        try:
            return add_working_days(d, n, regional=False, calendar=cal)
        except UnknownCalendarYear:
            return None

    end = deadline(last)
    open_from = None
    if end is None:
        open_from = last
        d = last - timedelta(days=1)
        while d >= first and deadline(d) is None:
            open_from, d = d, d - timedelta(days=1)
    reached = range(first.year, (end.year if end else last.year + 1) + 1)
    unknown = next((y for y in reached if not cal.national_known(y)), None)
    regional = tuple(y for y in reached if cal.national_known(y) and not cal.ningxia_known(y))
    return Outlook(unknown, open_from, regional)


def month_outlook(month_mi: int, n: int, *, calendar: Calendar | None = None) -> Outlook:
    """The outlook for results received in month P or the next: P's run warns, and P's report is
    read, until P+1's (docs/operations.md "The working-day calendar, every year")."""
    from .months import first_day

    last = first_day(month_mi + 2) - timedelta(days=1)
    return outlook(first_day(month_mi), last, n, calendar=calendar)


def outlook_warning(o: Outlook, n: int) -> str | None:
    """The division's log line for an outlook (None when the calendar lacks nothing)."""
    parts = []
    if o.unknown_year is not None:
        parts.append(
            f"the working-day calendar of {o.unknown_year} is not entered: results received from "
            f"{o.open_from.isoformat()} on get no {n}-working-day objection deadline (kept open, objections "
            f"accepted as on time) until it is; enter the State Council's {o.unknown_year} arrangement in "
            f"{_shown(OVERRIDES_FILE)}"
        )
    if o.regional_years:
        years = ", ".join(str(y) for y in o.regional_years)
        parts.append(f"Ningxia's own holidays of {years} are not entered: deadlines on the national calendar")
    return "; ".join(parts) + ' (docs/operations.md "The working-day calendar, every year")' if parts else None
