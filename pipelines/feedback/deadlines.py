"""Objection deadlines and the RESULT notices of conclusions issued (rules.md §5, §7; seed notice 五(一)(二)).

Objection deadlines are ``settings.objection_working_days`` working days after the day the result
was received (:func:`pipelines.workdays.add_working_days`).  A deadline in a year no calendar
covers is never guessed: it is kept as NULL (``CALENDAR_UNKNOWN``), a warning says so, and it is
filled in as soon as the calendar knows the year, and a deadline computed before the calendar's
regional rows for its year were entered is computed again (:func:`refresh_deadlines`, on every
later ``feedback``, ``declare`` and monthly run).
"""

from __future__ import annotations

import logging
import re
import warnings
from datetime import date

from .. import months
from ..errors import UnknownCalendarYear
from ..settings import Settings
from .queries import sql

log = logging.getLogger(__name__)


def objection_deadline(received: date, settings: Settings) -> tuple[date | None, list[str]]:
    """The last day to object: ``objection_working_days`` working days after ``received``.

    Returns (deadline, warnings); deadline is None when a year reached is not in any
    calendar (rules.md §7: never guess).  Regional-calendar warnings are returned too.
    """
    from .. import workdays

    msgs: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            d = workdays.add_working_days(received, settings.objection_working_days)
        except UnknownCalendarYear as exc:
            d = None
            year = re.search(r"calendar of ([0-9]{4})", str(exc))
            msgs.append(
                f"objection deadline not computed: the working-day calendar of "
                f"{year.group(1) if year else 'a year reached'} is not known (data/calendar/overrides.csv); "
                f"kept open, objections accepted as on time until it is entered"
            )
    for w in caught:
        text = str(w.message)
        msgs.append(text.split(";")[0] + "; national calendar used")
    return d, msgs


def notice_month(con, event_mi: int) -> int:
    """The batch month of a notice caused by feedback or declare: the event's month, or the first
    month whose run has not started when that month's run is done or under way (its files are
    written, or may be: an Airflow run writes the office files outside the writers' pool, so
    feedback can be applied between its stages; a notice put into that month would be in no file)."""
    last = con.execute(sql("result_notices", "last_run")).fetchall()[0][0]
    return event_mi if last is None else max(event_mi, last + 1)


def refresh_deadlines(con, settings: Settings) -> int:
    """Compute every current conclusion's deadline again from its day of receipt: one kept open
    (CALENDAR_UNKNOWN) that the calendar now knows, and one computed before the calendar's rows for
    its year were entered (a national-calendar deadline that Ningxia's own holidays, 开斋节 and
    古尔邦节, move later: rules.md §7), so that an objection is judged, and the worklist shows its
    deadline, on the calendar as it is now.  One computation per distinct day of receipt (a few
    hundred a year), one UPDATE.  Returns how many deadlines changed."""
    days = [r[0] for r in con.execute(sql("conclusions", "received_days")).fetchall()]
    if not days:
        return 0
    deadlines = [objection_deadline(d, settings)[0] for d in days]
    return con.execute(sql("conclusions", "set_deadlines"), {"days": days, "deadlines": deadlines}).fetchall()[0][0]


def refresh_deadlines_unless_unreadable(con, settings: Settings) -> tuple[int, str | None]:
    """:func:`refresh_deadlines` for the month's run and the declaration screening, which do not
    stop for the calendar file: one that cannot be read (the division editing it: a bad row, a
    half-entered year) leaves the deadlines as they are and returns the warning, also logged
    (docs/decisions.md, sixteenth session); ``feedback`` stops on it instead."""
    from ..workdays import CalendarFileError

    try:
        return refresh_deadlines(con, settings), None
    except CalendarFileError as exc:
        msg = f"objection deadlines not recomputed, the working-day calendar file is not readable: {exc}"
        log.warning("%s", msg)
        return 0, msg


def issue_result_notices(con, items: list[tuple[str, date]], settings: Settings) -> int:
    """RESULT notices (rules.md §5: "a comprehensive conclusion was issued"): one per conclusion
    issued (CONCLUSION_ISSUED, or a new version after an upheld objection), reference month = the
    month of issue.  The text states the objection period (``objection_working_days`` working days
    from receiving the result): the day of receipt is not known when the notice is issued."""
    if not items:
        return 0
    from .. import notify

    con.execute(sql("result_notices", "create_source"))
    for entry_id, issued in items:
        mi = months.month_of(issued)
        con.execute(
            sql("result_notices", "add_source"),
            {"entry_id": entry_id, "reference_mi": mi, "issue_mi": notice_month(con, mi)},
        )
    total = 0
    for (issue_mi,) in con.execute(sql("result_notices", "issue_months")).fetchall():
        rows = sql("result_notices", "rows_of_month", objection_days=settings.objection_working_days)
        con.execute(rows, {"issue_mi": issue_mi})
        total += notify.issue_notices(con, "RESULT", "_fb_result_rows", issue_mi, settings) or 0
    return total
