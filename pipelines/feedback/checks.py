"""The checks of one row on its own (docs/feedback-format.md), before any state is looked at.

:func:`check_row` decodes the Chinese labels, checks the columns every row has (office, event,
ID number, date), then the event's own columns through :data:`CHECKS` (event → check), and
leaves the parsed values in the row under ``_``-keys (``_date``, ``_months``, ``_items``,
``_counted``, ``_elected_mi``); the day and the elected month are read by :mod:`.dates` and left in
the row as ``YYYY-MM-DD``/``YYYY-MM``, the form its ``row_key`` compares.  A failed check raises ``_Refuse('MALFORMED' …)`` (or
``UNKNOWN_EVENT``, ``WRONG_OFFICE``): the reasons name the column, never its value.
"""

from __future__ import annotations

import hashlib
import re
from .. import labels, months
from ..identifiers import parse_id_no
from .dates import read_day, read_month
from .format import (
    ARCHIVE_CONCLUSIONS,
    ARCHIVE_ITEMS,
    COLUMNS,
    CONFIRMERS,
    EVENTS,
    FREE_TEXT,
    MERGE_STATUSES,
    OBJECTION_ITEMS,
    OFFICE,
    REQUIRED_COLUMNS,
    _Refuse,
    same_text,
)

_INT = re.compile(r"^[0-9]{1,4}$")


def _items(raw: str | None, vocab: dict) -> list[str]:
    if raw is None:
        return []
    parts = [p.strip().upper() for p in raw.split(";")]
    parts = [p for p in parts if p]
    bad = [p for p in parts if p not in vocab]
    if bad:
        raise _Refuse(
            "MALFORMED",
            f"items: {len(bad)} code(s) not in the documented list",
            text="MALFORMED.items",
            column="items",
            n=len(bad),
        )
    seen: list[str] = []
    for p in parts:
        if p not in seen:
            seen.append(p)
    return seen


def _need(row: dict, *cols: str) -> None:
    for c in cols:
        if row.get(c) is None:
            raise _Refuse(
                "MALFORMED",
                f"{c} is required for {row['event']}",
                text="MALFORMED.required",
                column=c,
                event=row["event"],
            )


def _int(row: dict, col: str, required: bool) -> int | None:
    v = row.get(col)
    if v is None:
        if required:
            _need(row, col)
        return None
    if not _INT.match(v) or int(v) > 1200:
        raise _Refuse(
            "MALFORMED", f"{col} must be a whole number of months 0..1200", text="MALFORMED.months", column=col
        )
    return int(v)


def _enum(row: dict, col: str, values, required: bool) -> str | None:
    v = row.get(col)
    if v is None:
        if required:
            _need(row, col)
        return None
    v = v.upper()
    if v not in values:
        raise _Refuse(
            "MALFORMED", f"{col} must be one of {'/'.join(values)}", text="MALFORMED.one_of", column=col, values=values
        )
    return v


_DAY_REASONS = {
    "MALFORMED.date_format": "event_date must be a day written year first: YYYY-MM-DD (also YYYY/M/D, YYYY.M.D, YYYY年M月D日)",
    "MALFORMED.date_unreal": "event_date is not a real date",
    "MALFORMED.date_years": "event_date must be within 1900-2099",
}


def _day(cell: str):
    """``event_date`` read (pipelines/feedback/dates.py), or refused saying which form to write."""
    day, why = read_day(cell)
    if day is None:
        raise _Refuse("MALFORMED", _DAY_REASONS[why], text=why, column="event_date")
    return day


# ------------------------------------------------------------------ the event's own columns


def _officer_assigned(row: dict) -> None:
    _need(row, "officer_id")


def _archive_reviewed(row: dict) -> None:
    row["result"] = _enum(row, "result", ("PASS", "FAIL"), True)
    row["_items"] = _items(row["items"], ARCHIVE_ITEMS)
    if row["result"] == "FAIL" and not row["_items"]:
        raise _Refuse(
            "MALFORMED",
            "items must list the missing or doubtful items when result is FAIL",
            text="MALFORMED.fail_items",
            column="items",
        )
    if row.get("pre_review_office") is not None and not OFFICE.match(row["pre_review_office"]):
        raise _Refuse(
            "MALFORMED",
            "pre_review_office must be 6 digits",
            text="MALFORMED.office_digits",
            column="pre_review_office",
        )


def _years_confirmed(row: dict) -> None:
    row["_months"] = _int(row, "months", True)


def _relations_merged(row: dict) -> None:
    row["merge_status"] = _enum(row, "merge_status", ("MERGED", "NOT_NEEDED"), False) or "MERGED"


def _conclusion_issued(row: dict) -> None:
    row["_counted"] = _int(row, "counted_months", True)
    row["merge_status"] = _enum(row, "merge_status", MERGE_STATUSES, True)
    row["archive_conclusion"] = _enum(row, "archive_conclusion", ARCHIVE_CONCLUSIONS, True)
    _need(row, "base_data")


def _confirmed(row: dict) -> None:
    row["confirmer"] = _enum(row, "confirmer", CONFIRMERS, True)


def _objection_filed(row: dict) -> None:
    row["_items"] = _items(row["items"], OBJECTION_ITEMS)


def _objection_resolved(row: dict) -> None:
    row["result"] = _enum(row, "result", ("UPHELD", "REJECTED"), True)
    if row["result"] != "UPHELD":
        _need(row, "reason", "basis", "remedy")
        return
    row["_counted"] = _int(row, "counted_months", False)
    row["merge_status"] = _enum(row, "merge_status", MERGE_STATUSES, False)
    row["archive_conclusion"] = _enum(row, "archive_conclusion", ARCHIVE_CONCLUSIONS, False)
    if all(row.get(c) is None for c in ("counted_months", "merge_status", "archive_conclusion", "base_data")):
        raise _Refuse(
            "MALFORMED",
            "an UPHELD objection needs the corrected data (counted_months, merge_status, archive_conclusion or base_data)",
            text="MALFORMED.upheld_data",
            columns=("counted_months", "merge_status", "archive_conclusion", "base_data"),
        )


def _elected_month(row: dict) -> None:
    _need(row, "elected_month")
    mi, why = read_month(row["elected_month"])
    if mi is None:
        raise _Refuse(
            "MALFORMED",
            "elected_month must be a month written year first: YYYY-MM (also YYYY/M, YYYY.MM, YYYY年M月)",
            text=why,
            column="elected_month",
        )
    row["_elected_mi"] = mi
    row["elected_month"] = months.format_month(mi)  # as stored and compared (row_key): 2027/2 is 2027-02


#: event → the check of its own columns (RESULT_RECEIVED and RETIRED have none)
CHECKS = {
    "OFFICER_ASSIGNED": _officer_assigned,
    "ARCHIVE_REVIEWED": _archive_reviewed,
    "YEARS_CONFIRMED": _years_confirmed,
    "RELATIONS_MERGED": _relations_merged,
    "CONCLUSION_ISSUED": _conclusion_issued,
    "CONFIRMED": _confirmed,
    "OBJECTION_FILED": _objection_filed,
    "OBJECTION_RESOLVED": _objection_resolved,
    "ELECTED_MONTH": _elected_month,
}


def check_row(row: dict, offices: frozenset, office: str | None) -> None:
    """Check ``row`` on its own (in place: codes upper-cased, parsed values under ``_``-keys).

    ``offices``: the responsible offices (rules.md §3); ``office``: the one the file is bound to."""
    labels.decode_feedback_row(row)  # Chinese labels → codes
    for c in REQUIRED_COLUMNS:
        if row.get(c) is None:
            raise _Refuse("MALFORMED", f"{c} is empty", text="MALFORMED.empty", column=c)
    row["event"] = row["event"].upper()
    if row["event"] not in EVENTS:
        raise _Refuse("UNKNOWN_EVENT")
    if not OFFICE.match(row["office_code"]):
        raise _Refuse("MALFORMED", "office_code must be 6 digits", text="MALFORMED.office_digits", column="office_code")
    if row["office_code"] not in offices:
        raise _Refuse(
            "MALFORMED",
            "office_code is not one of the responsible offices (rules.md §3)",
            text="MALFORMED.office_unknown",
        )
    if row["office_code"] != office:
        raise _Refuse("WRONG_OFFICE")
    info = parse_id_no(row["id_no"])
    if info is None:
        raise _Refuse("MALFORMED", "id_no is not a valid ID number (GB 11643)", text="MALFORMED.id_invalid")
    row["id_no"] = info.id_no
    row["_date"] = _day(row["event_date"])
    row["event_date"] = row["_date"].isoformat()  # as stored and compared (row_key): 2026/12/3 is 2026-12-03
    check = CHECKS.get(row["event"])
    if check is not None:
        check(row)


def row_key(row: dict, pkey: str, secret: str) -> str:
    """The keyed hash of a checked row's content (``feedback_rows.row_key``): a row sent again —
    same person, event, date, office and data — has the same key."""
    # free text as compared (NFKC): the key of a row applied while every cell was stored NFKC-normalised
    value = lambda c: same_text(row[c]) if c in FREE_TEXT else str(row[c])  # noqa: E731
    parts = [secret, pkey] + ["" if row.get(c) is None else value(c) for c in COLUMNS if c != "id_no"]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
