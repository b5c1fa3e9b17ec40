"""The Ningxia offices (rules.md §3), read from ``data/offices.csv`` — the one list of office codes.

Ningdong base has no GB/T 2260 code: its code in force is the setting ``ningdong_code``; the file
lists it under the shipped default (``Settings.ningdong_code``), and :func:`office_codes` puts the
setting's code in its place.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from typing import TYPE_CHECKING

from . import DATA_DIR

if TYPE_CHECKING:  # pragma: no cover
    from .settings import Settings


@lru_cache(maxsize=1)
def listed_office_codes() -> tuple[str, ...]:
    """Every office code of data/offices.csv, in the file's order (Ningdong under its default code)."""
    with open(DATA_DIR / "offices.csv", encoding="utf-8-sig", newline="") as fh:
        return tuple(row["office_code"].strip() for row in csv.DictReader(fh))


def _default_ningdong_code() -> str:
    from dataclasses import fields

    from .settings import Settings

    return next(f.default for f in fields(Settings) if f.name == "ningdong_code")


def fixed_office_codes() -> tuple[str, ...]:
    """The offices with a GB/T 2260 code (28): every listed office but Ningdong, in file order."""
    ningdong = _default_ningdong_code()
    return tuple(c for c in listed_office_codes() if c != ningdong)


def office_codes(settings: "Settings") -> list[str]:
    """The 29 responsible offices (rules.md §3), sorted, Ningdong's code from the settings."""
    return sorted({*fixed_office_codes(), settings.ningdong_code})
