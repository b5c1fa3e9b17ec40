"""Identifiers: GB 11643 ID numbers, GB 32100 credit codes, mobile numbers (rules.md §4).

Pure functions; the SQL twins are the macros in ``sql/policy/identifiers.sql`` (the mobile number,
the birth date and gender of a valid ID number) and ``sql/policy/identifiers_checks.sql`` (the ID
number's and the credit code's checks, ingest's), and the two must agree
(tests/policy/test_policy_sql.py).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

# GB 11643-1999 (ISO 7064 MOD 11-2)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)
# What DuckDB's trim() removes (Unicode space separators, Zs), so that the SQL twin agrees.
SPACE_SEPARATORS = " \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"


def id_check_char(first17: str) -> str:
    """GB 11643-1999 check character for the first 17 digits (policy.md §7)."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


@dataclass(frozen=True)
class IdInfo:
    id_no: str  # normalised: upper-case X
    birth_date: date
    gender: int  # 1 male (odd sequence), 2 female


def parse_id_no(raw: str | None) -> IdInfo | None:
    """Validate a Resident Identity Card number (GB 11643-1999).

    18 characters, 17 digits + check character; a lower-case x is read as X;
    the birth date must exist. The address code is *not* checked against
    current codes: every code that was ever valid is accepted (push-format.md).
    Returns None when invalid.
    """
    if raw is None:
        return None
    s = raw.strip(SPACE_SEPARATORS).upper()
    if not _ID_SHAPE.fullmatch(s):
        return None
    if id_check_char(s[:17]) != s[17]:
        return None
    try:
        born = date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return None
    return IdInfo(s, born, 1 if int(s[16]) % 2 == 1 else 2)


# GB 32100-2015 unified social credit code
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character: MOD 31 over the 31-character alphabet (policy.md §7)."""
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_valid(code: str | None) -> bool:
    """True when ``code`` is 18 characters of the GB 32100 alphabet with the right check character."""
    if code is None or len(code) != 18 or any(c not in _USCC_ALPHABET for c in code):
        return False
    return uscc_check_char(code[:17]) == code[17]


_MOBILE = re.compile(r"1[3-9][0-9]{9}", re.ASCII)


def normalize_phone(raw: str | None) -> str | None:
    """The mobile-number rule of rules.md §4 (KEY_INFO_MISSING).

    NFKC-normalise, remove spaces and hyphens, then a leading ``+86`` or
    ``0086``; valid when what is left is ``1[3-9]`` followed by 9 ASCII digits.
    Hyphens are the hyphen-minus ``-`` and U+2010 HYPHEN (NFKC turns the full-width
    hyphen-minus into ``-`` and the non-breaking hyphen U+2011 into U+2010; dashes and
    the minus sign are not hyphens). Returns the normalised number, or None.
    """
    if raw is None:
        return None
    s = unicodedata.normalize("NFKC", raw)
    s = s.replace(" ", "").replace("-", "").replace("\u2010", "")
    if s.startswith("+86"):
        s = s[3:]
    elif s.startswith("0086"):
        s = s[4:]
    return s if _MOBILE.fullmatch(s) else None
