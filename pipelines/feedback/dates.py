"""The days and months of a feedback row as county officers write them (docs/feedback-format.md
"Columns"; docs/decisions.md, 2026-12-07): the one reader of ``event_date`` and ``elected_month``.

Both readers (CSV and the 反馈 sheet) hand the cell over NFKC-normalised and trimmed (full-width
``２０２６／１２／３`` is ``2026/12/3``), a date cell of a workbook as ``YYYY-MM-DD`` (``YYYY-MM`` in
``elected_month``); :func:`.checks.check_row` reads it here and stores the ISO form, so a row sent as
``2026/12/3`` and again as ``2026-12-03`` is the same row ("Applying twice").

Read: the year first, four digits, then month and day, separated by one of ``-`` ``/`` ``.`` used
throughout (``2026-12-03``, ``2026/12/3``, ``2026.12.3``, ``2026-12-3``), or written
``2026年12月3日``; after a day, a time of day a spreadsheet may add (``2026-12-03 00:00:00``,
``2026/12/3 0:00``) is passed over.  A month: ``2027-02``, ``2027/2``, ``2027.02`` (two digits after a dot: ``2027.1`` may be a spreadsheet's 2027.10),
``2027年2月``.
Refused (``MALFORMED``, the reason naming the forms to write): a day or month first
(``12/3/2026`` is 3 December or 12 March), a two-digit year, a month where a day is needed and a day
where a month is, ``20261203``; a date that does not exist (``2026/2/30``, ``2026/13/1``:
``date_unreal``) and years outside 1900–2099 (``date_years``, the push's years).
"""

from __future__ import annotations

import re
from datetime import date

from .. import months

#: a time of day after a day: ``0:00``, ``00:00:00``, ``00:00:00.000`` (a space or ``T`` before it)
_TIME = r"(?:[ T]+(?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]+)?)?)?"
_DAY = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})" + _TIME)
_DAY_ZH = re.compile(r"([0-9]{4})\s*年\s*([0-9]{1,2})\s*月\s*([0-9]{1,2})\s*日" + _TIME)
#: after a dot, two digits only: a spreadsheet's General cell turns ``2027.10`` into the number 2027.1,
#: which would read as January; ``2027.1`` is refused (write ``2027-10`` or ``2027年10月``)
_MONTH = re.compile(r"([0-9]{4})(?:[-/]([0-9]{1,2})|\.([0-9]{2}))")
_MONTH_ZH = re.compile(r"([0-9]{4})\s*年\s*([0-9]{1,2})\s*月")


def read_day(cell: str | None) -> tuple[date | None, str | None]:
    """``(day, None)``, or ``(None, text)``: the ``refusal_text`` key of why it is no day
    (``MALFORMED.date_format``, ``MALFORMED.date_unreal``, ``MALFORMED.date_years``)."""
    m = (_DAY.fullmatch(cell) or _DAY_ZH.fullmatch(cell)) if isinstance(cell, str) else None
    if m is None:
        return None, "MALFORMED.date_format"
    g = [int(x) for x in m.groups() if x.isdigit()]
    try:
        day = date(*g)
    except ValueError:
        return None, "MALFORMED.date_unreal"
    if not months.YEARS[0] <= day.year <= months.YEARS[1]:  # the years the push accepts (push-format.md)
        return None, "MALFORMED.date_years"
    return day, None


def read_month(cell: str | None) -> tuple[int | None, str | None]:
    """``(month index, None)``, or ``(None, 'MALFORMED.month_format')``."""
    m = (_MONTH.fullmatch(cell) or _MONTH_ZH.fullmatch(cell)) if isinstance(cell, str) else None
    parts = [int(x) for x in m.groups() if x is not None] if m else []
    if len(parts) != 2 or not 1 <= parts[1] <= 12:
        return None, "MALFORMED.month_format"
    return months.month_index(*parts), None
