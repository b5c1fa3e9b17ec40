"""A made-up national calendar of 2027 for tests: NOT the State Council's arrangement (the real one
is the division's to enter in data/calendar/overrides.csv). It holds 元旦 on Friday 1 January, so
that the deadlines of results received in December and January are those of the real arrangement's
first weeks, and twelve more days off on Mondays–Fridays from April on, far from them: a year marked
complete needs at least 13 (pipelines/workdays.py, 全国年节及纪念日放假办法 第二条、第六条)."""

from __future__ import annotations

from datetime import date

DAYS_OFF_2027 = (
    date(2027, 1, 1),
    date(2027, 4, 5),
    date(2027, 5, 3),
    date(2027, 5, 4),
    date(2027, 5, 5),
    date(2027, 6, 9),
    date(2027, 9, 15),
    date(2027, 10, 1),
    *(date(2027, 10, d) for d in range(4, 9)),
)

ROWS_2027 = tuple(f"{d.isoformat()},holiday,national,TEST day off" for d in DAYS_OFF_2027) + (
    "2027,complete,national,TEST calendar (not the State Council's)",
)


def text_2027() -> str:
    """The rows of the test calendar of 2027, one a line (to append to an overrides file)."""
    return "".join(r + "\n" for r in ROWS_2027)
