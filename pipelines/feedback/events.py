"""One handler per feedback event (rules.md §7, seed notice 二(三)–(五), 五), in :data:`HANDLERS`.

A handler ``(run, row, entry, source)`` gets a row already checked on its own (:mod:`.checks`)
and the open ledger entry of its person; it checks the row against the entry's state, then
changes the state through ``run`` (:class:`.run.FileRun`), or raises ``_Refuse`` (the row is
refused, nothing of it kept) or ``_Already`` (it restates what is recorded).  Stage moves are
recorded with ``source`` (``feedback:<file>#<row>``).  The handlers of the conclusion's receipt,
confirmation and objections are in :mod:`.objections`.
"""

from __future__ import annotations

from .. import months
from .format import EVENTS, _Already, _Refuse, same_text
from .objections import confirmed, objection_filed, objection_resolved, result_received
from .run import Entry, FileRun

# Stages of an open entry that may still receive a stage event from feedback.
_PIPELINE_STAGES = ("ENROLLED", "NOTIFIED")


def officer_assigned(run: FileRun, row: dict, e: Entry, source: str) -> None:
    if row["officer_id"] not in run.roster.get(e.office_code, set()):
        raise _Refuse("UNKNOWN_OFFICER")
    run.execute("entries", "set_officer", officer_id=row["officer_id"], entry_id=e.entry_id, row_id=e.row_id)


def _simple_stage(run: FileRun, row: dict, e: Entry, source: str, target: str, prev: tuple, detail: str) -> None:
    """A stage event that only moves the entry on (restating the stage reached is no move)."""
    run.stage_in(e, prev + (target,), row["event"])
    run.check_after_last_move(row, e)
    if e.stage != target:
        run.move(e, target, row["_date"], detail, source)


def archive_reviewed(run: FileRun, row: dict, e: Entry, source: str) -> None:
    detail = f"archive pre-review {row['result']}" + (f" ({';'.join(row['_items'])})" if row["_items"] else "")
    _simple_stage(run, row, e, source, "ARCHIVE_REVIEWED", _PIPELINE_STAGES, detail)
    office = row.get("pre_review_office") or e.office_code
    run.execute("entries", "set_pre_review_office", pre_review_office=office, entry_id=e.entry_id, row_id=e.row_id)


def years_confirmed(run: FileRun, row: dict, e: Entry, source: str) -> None:
    detail = f"contribution months confirmed: {row['_months']}"
    _simple_stage(run, row, e, source, "YEARS_CONFIRMED", ("ARCHIVE_REVIEWED",), detail)


def relations_merged(run: FileRun, row: dict, e: Entry, source: str) -> None:
    _simple_stage(run, row, e, source, "RELATIONS_MERGED", ("YEARS_CONFIRMED",), f"relations {row['merge_status']}")


def conclusion_issued(run: FileRun, row: dict, e: Entry, source: str) -> None:
    cur = run.conclusion(e)
    values = {
        "counted_months": row["_counted"],
        "merge_status": row["merge_status"],
        "archive_conclusion": row["archive_conclusion"],
        "base_data": row["base_data"],
    }
    same = lambda k, v: same_text(cur[k]) == same_text(v) if k == "base_data" else cur[k] == v  # noqa: E731
    if cur is not None and row["_date"] == cur["issued_on"] and all(same(k, v) for k, v in values.items()):
        # the conclusion in force restated (its day, its values; the note aside): already recorded,
        # never a re-issue superseding it and its receipt (docs/feedback-format.md Events; decisions.md)
        raise _Already()
    run.stage_in(e, ("RELATIONS_MERGED", "CONCLUDED", "CONFIRMED"), row["event"])
    run.check_after_last_move(row, e)
    obj = run.objection(e)
    if obj and obj["status"] in ("INCOMPLETE", "ACCEPTED"):
        raise _Refuse("OBJECTION_PENDING", "an objection is open: resolve it with OBJECTION_RESOLVED")
    version = 1
    if cur is not None:
        if row["_date"] < cur["issued_on"]:
            raise _Refuse(
                "DATE_OUT_OF_ORDER",
                "event_date before the current conclusion",
                text="DATE_OUT_OF_ORDER.before_conclusion",
            )
        run.execute(
            "conclusions", "supersede", day=row["_date"], reason="reissued", entry_id=e.entry_id, version=cur["version"]
        )
        version = cur["version"] + 1
    run.insert_conclusion(e, version, row["_date"], values, source)
    if e.stage != "CONCLUDED":
        detail = (
            f"conclusion v{version}: {row['_counted']} months, "
            f"relations {row['merge_status']}, archive {row['archive_conclusion']}"
        )
        run.move(e, "CONCLUDED", row["_date"], detail, source)


def elected_month(run: FileRun, row: dict, e: Entry, source: str) -> None:
    r = run.person_fact("screening", e.id_no)
    if r is None or r[0] != 110 or r[1] is None or r[2] is None:
        raise _Refuse("ELECTION_NOT_ALLOWED")
    mi = row["_elected_mi"]
    if mi < months.month_of(row["_date"]):
        raise _Refuse("ELECTED_MONTH_PAST")
    if not r[1] <= mi <= r[2]:
        text = months.format_month
        raise _Refuse(
            "OUTSIDE_FLEXIBLE_WINDOW",
            f"elected month {text(mi)} outside the flexible window {text(r[1])}..{text(r[2])}",
            month=text(mi),
            earliest=text(r[1]),
            latest=text(r[2]),
        )
    if mi < r[3]:  # before the statutory month
        _check_early_months(run, e, mi, r)
    run.execute("entries", "set_elected_month", elected_mi=mi, entry_id=e.entry_id, row_id=e.row_id)


def _check_early_months(run: FileRun, e: Entry, mi: int, screening: tuple) -> None:
    """rules.md §1: "early retirement also needs the minimum contribution months … to be met by
    then": the counted months (the current conclusion's, else the screening's), plus the months
    until the elected month for a person still contributing (the screening projects to S only
    when contributing: projected > counted)."""
    from ..policy import min_contribution_months

    screened_mi, counted, projected = screening[4], screening[5], screening[6]
    c = run.conclusion(e)
    if c is not None and c["counted_months"] is not None:  # months as of the conclusion's issue
        base, base_mi = c["counted_months"], months.month_of(c["issued_on"])
    else:  # months as of the screening
        base, base_mi = counted, screened_mi
    by_then = base + (max(0, mi - base_mi) if projected > counted else 0)
    need = min_contribution_months(mi // 12, 110)
    if by_then < need:
        raise _Refuse(
            "EARLY_MONTHS_SHORT",
            f"early retirement in {months.format_month(mi)} needs {need} contribution months by then; "
            f"{by_then} expected",
            month=months.format_month(mi),
            need=need,
            have=by_then,
        )


def retired(run: FileRun, row: dict, e: Entry, source: str) -> None:
    run.check_after_last_move(row, e)
    run.move(e, "RETIRED", row["_date"], "retired (county feedback)", source)


#: event → its handler: the one place an event's effect is looked up (docs/feedback-format.md)
HANDLERS = {
    "OFFICER_ASSIGNED": officer_assigned,
    "ARCHIVE_REVIEWED": archive_reviewed,
    "YEARS_CONFIRMED": years_confirmed,
    "RELATIONS_MERGED": relations_merged,
    "CONCLUSION_ISSUED": conclusion_issued,
    "RESULT_RECEIVED": result_received,
    "CONFIRMED": confirmed,
    "OBJECTION_FILED": objection_filed,
    "OBJECTION_RESOLVED": objection_resolved,
    "ELECTED_MONTH": elected_month,
    "RETIRED": retired,
}
assert tuple(HANDLERS) == EVENTS, "every documented event has its handler, in the documented order"
