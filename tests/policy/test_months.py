"""pipelines.months: the one month pattern and the text ↔ index conversions (rules.md preamble)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from pipelines import months
from pipelines.months import YEARS, first_day, format_month, is_month, month_of, parse_month, parse_yyyymm, split


def test_split_forms_and_years():
    assert split("2026-11") == (2026, 11)
    assert split("202611") is None and split("202611", dash=False) == (2026, 11)
    assert split("2026-11", dash=None) == split("202611", dash=None) == (2026, 11)
    assert split("0001-01") == (1, 1) and split("0001-01", years=YEARS) is None
    assert split("2099-12", years=YEARS) == (2099, 12) and split("2100-01", years=YEARS) is None
    for bad in (
        "2026-13",
        "2026-00",
        "2026-1",
        "26-11",
        " 2026-11",
        "2026-11\n",
        "٢٠٢٦-11",
        "２０２６-11",
        None,
        202611,
    ):
        assert split(bad) is None, bad
        assert not is_month(bad)


def test_parse_and_format_round_trip():
    for mi in (month_of(date(1900, 1, 1)), 2026 * 12 + 10, month_of(date(2099, 12, 31))):
        assert parse_month(format_month(mi)) == mi
        assert first_day(mi).day == 1 and month_of(first_day(mi)) == mi
    assert parse_month(" 2026-11 ") == 2026 * 12 + 10  # blanks around it, as before
    assert parse_month(date(2026, 11, 30)) == 2026 * 12 + 10
    assert parse_yyyymm("196512") == 1965 * 12 + 11


def test_error_messages_unchanged():
    with pytest.raises(ValueError, match=re.escape("not a YYYY-MM month: '2026-13'")):
        parse_month("2026-13")
    with pytest.raises(ValueError, match=re.escape("not a YYYYMM month: '2026-11'")):
        parse_yyyymm("2026-11")


def test_no_other_month_pattern_in_the_pipelines():
    """One pattern for a month (issue 15): no module of pipelines/ compiles its own; a day's pattern
    (YYYYMMDD, YYYY-MM-DD) is not a month's."""
    root = Path(months.__file__).parent
    found = []
    for p in sorted(root.rglob("*.py")):
        if p.name == "months.py":
            continue
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if "0[1-9]|1[0-2]" in line and "[0-9]{2}$" not in line:
                found.append(f"{p.relative_to(root)}:{n}")
    assert not found, f"month patterns outside pipelines/months.py: {found}"
