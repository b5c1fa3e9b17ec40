"""The generator's own reading of the contract (push-format.md): used to pick valid rows for an
INCR or an applications file, and by the tests. The pipeline's SQL in ``sql/ingest/`` is the authority."""

from __future__ import annotations

import re
from datetime import date

from ..identifiers import parse_id_no, uscc_valid
from ..months import split
from .codes import OFFICE_CODES, PROVINCES

_DIGITS6 = re.compile(r"^[0-9]{6}$")
_COUNT = re.compile(r"^[0-9]{1,4}$")


def _region_ok(code: str) -> bool:
    return bool(_DIGITS6.match(code)) and int(code[:2]) in PROVINCES


def check_person_row(row: dict, push_type: str = "FULL") -> str | None:
    """Reason code when a persons row breaks the contract, else None (duplicates not seen here)."""
    g = lambda c: (row.get(c) or "").strip()  # noqa: E731
    if parse_id_no(g("id_no")) is None:
        return "BAD_ID_NO"
    op = g("op")
    if push_type == "FULL":
        if op not in ("", "I"):
            return "BAD_OP"
    else:
        if op not in ("I", "U", "D"):
            return "BAD_OP"
        if op == "D":
            return None
    if g("gender") not in ("1", "2"):
        return "BAD_GENDER"
    bd = g("birth_date")
    try:
        if not re.fullmatch(r"[0-9]{8}", bd):
            raise ValueError
        date(int(bd[:4]), int(bd[4:6]), int(bd[6:]))
    except ValueError:
        return "BAD_BIRTH_DATE"
    it, pt = g("insurance_type"), g("person_type")
    if it not in ("110", "170"):
        return "BAD_INSURANCE_TYPE"
    if (it == "110" and pt not in ("", "1", "2", "3")) or (it == "170" and pt != ""):
        return "BAD_PERSON_TYPE"
    if g("insured_region") not in OFFICE_CODES:
        return "UNKNOWN_OFFICE"
    for c in ("hukou_region", "benefit_region_ministry", "deemed_region"):
        if g(c) and not _region_ok(g(c)):
            return "BAD_REGION_CODE"
    if g("employer_uscc") and not uscc_valid(g("employer_uscc").upper()):
        return "BAD_USCC"
    if g("contribution_status") not in ("1", "2", "3"):
        return "BAD_CONTRIBUTION_STATUS"
    if g("retired") not in ("0", "1"):
        return "BAD_RETIRED"
    if g("survival_status") not in ("1", "2", "9"):
        return "BAD_SURVIVAL_STATUS"
    if not _COUNT.match(g("actual_contribution_months")):
        return "BAD_CONTRIBUTION_MONTHS"
    if g("deemed_months") and not _COUNT.match(g("deemed_months")):
        return "BAD_DEEMED_MONTHS"
    if g("deemed_status") not in ("0", "1", "2"):
        return "BAD_DEEMED_STATUS"
    if not _COUNT.match(g("arrears_months")):
        return "BAD_ARREARS_MONTHS"
    return None


def check_segment_row(row: dict) -> str | None:
    """Reason code when a segments row breaks the contract on its own (owner not checked)."""
    g = lambda c: (row.get(c) or "").strip()  # noqa: E731
    if parse_id_no(g("id_no")) is None:
        return "BAD_ID_NO"
    if not _region_ok(g("region_code")):
        return "BAD_REGION_CODE"
    s, e = split(g("start_month"), dash=False), split(g("end_month"), dash=False)
    if not s or not e:
        return "BAD_MONTH"
    if g("end_month") < g("start_month"):
        return "END_BEFORE_START"
    if g("relation_status") not in ("1", "2", "3"):
        return "BAD_RELATION_STATUS"
    return None
