"""Months: the text ``'YYYY-MM'`` ↔ the month index ``Y*12 + (M-1)`` of rules.md's preamble.

Every month the pipeline reads or writes goes through here: the commands' ``--month``, a
manifest's ``data_month``, a DAG run's ``month`` param, feedback's ``elected_month``, the push's
``YYYYMM`` segment months, the outputs' folders and columns.  One pattern checks them all
(:data:`MONTH`); the callers differ only in the years they accept (:data:`YEARS` for what comes
in from outside: the CLI's months and the manifests') and in whether the dash is written.
"""

from __future__ import annotations

import re
from datetime import date

#: The one month pattern (used with ``fullmatch``): ``YYYY-MM``, or ``YYYYMM`` (the push's segment
#: months) where the dash is left out.  ASCII digits only: ``\\d`` takes any Unicode digit ("٢٠٢٦-11").
MONTH = re.compile(r"([0-9]{4})(-?)(0[1-9]|1[0-2])")
#: The years of the pipeline's month arithmetic (the push's birth dates, the CLI's and the
#: manifests' months): 0001-01 or 9999-12 would become the month every later push is compared with.
YEARS = (1900, 2099)


def split(value, *, dash: bool | None = True, years: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """``(year, month)`` of a month text, or None when ``value`` is not one.

    ``dash``: True for ``YYYY-MM``, False for ``YYYYMM``, None for either.  ``years``: the
    inclusive range of years accepted (None: any four digits).  The text is taken as it is (no
    trimming): a caller that accepts surrounding blanks strips first.
    """
    m = MONTH.fullmatch(value) if isinstance(value, str) else None
    if m is None or (dash is not None and (m.group(2) == "-") != dash):
        return None
    year, month = int(m.group(1)), int(m.group(3))
    if years is not None and not years[0] <= year <= years[1]:
        return None
    return year, month


def is_month(value, *, years: tuple[int, int] | None = None) -> bool:
    """``value`` is a ``YYYY-MM`` month (of ``years``, when given)."""
    return split(value, years=years) is not None


def month_index(year: int, month: int) -> int:
    """The month index ``Y*12 + (M-1)`` of rules.md's preamble (whole-month arithmetic)."""
    if not 1 <= month <= 12:
        raise ValueError(f"month {month} is not 1..12")
    return year * 12 + (month - 1)


def parse_month(value: str | date) -> int:
    """``'YYYY-MM'`` (blanks around it allowed), or a date (its month), to a month index."""
    if isinstance(value, date):
        return month_index(value.year, value.month)
    ym = split(value.strip()) if isinstance(value, str) else None
    if ym is None:
        raise ValueError(f"not a YYYY-MM month: {value!r}")
    return month_index(*ym)


def parse_yyyymm(value: str) -> int:
    """``'YYYYMM'`` (the push format's months) to a month index."""
    ym = split(value.strip(), dash=False) if isinstance(value, str) else None
    if ym is None:
        raise ValueError(f"not a YYYYMM month: {value!r}")
    return month_index(*ym)


def format_month(mi: int) -> str:
    """A month index as ``'YYYY-MM'`` (the outputs' month format)."""
    return f"{mi // 12:04d}-{mi % 12 + 1:02d}"


def format_yyyymm(mi: int) -> str:
    """A month index as ``'YYYYMM'`` (the push format's segment months)."""
    return f"{mi // 12:04d}{mi % 12 + 1:02d}"


def format_month_zh(value) -> str:
    """A month as ``YYYY年M月`` (the notices' texts): from a month index, ``'YYYY-MM'``, ``'YYYYMM'`` or a date."""
    if isinstance(value, date):
        return f"{value.year}年{value.month}月"
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a month: {value!r}")
    if isinstance(value, int):
        return f"{value // 12}年{value % 12 + 1}月"
    ym = split(str(value).strip(), dash=None)
    if ym is None:
        raise ValueError(f"not a month: {value!r}")
    return f"{ym[0]}年{ym[1]}月"


def month_of(d: date) -> int:
    """The month index of a day."""
    return d.year * 12 + d.month - 1


def first_day(mi: int) -> date:
    """The first day of a month index."""
    return date(mi // 12, mi % 12 + 1, 1)
