"""The handlers of a conclusion's receipt, confirmation and objections (rules.md §7, seed notice 二(五), 五).

Part of :data:`.events.HANDLERS` (see :mod:`.events` for what a handler gets and does).  The
objection deadline is ``objection_working_days`` working days after the day the result was
received (:func:`.deadlines.objection_deadline`); an objection in time suspends a confirmation.
"""

from __future__ import annotations

from .format import OBJECTION_ITEMS, _Already, _Refuse
from .run import Entry, FileRun

_OPEN = ("INCOMPLETE", "ACCEPTED")


def result_received(run: FileRun, row: dict, e: Entry, source: str) -> None:
    c = run.conclusion(e)
    if c is None:
        raise _Refuse(
            "IMPOSSIBLE_TRANSITION",
            f"no conclusion has been issued (stage {e.stage})",
            text="IMPOSSIBLE_TRANSITION.no_conclusion",
            stage=e.stage,
            event=row["event"],
        )
    if c["received_on"] is not None:
        if c["received_on"] == row["_date"]:
            raise _Already()
        raise _Refuse(
            "CONFLICTING_RECORD",
            f"the result was recorded as received on {c['received_on'].isoformat()}",
            day=c["received_on"].isoformat(),
        )
    if row["_date"] < c["issued_on"]:
        raise _Refuse(
            "DATE_OUT_OF_ORDER",
            "received before the conclusion was issued",
            text="DATE_OUT_OF_ORDER.received_before_issue",
        )
    run.receive(e, c, row["_date"])


def _expected_confirmer(run: FileRun, e: Entry) -> str | None:
    """EMPLOYER for insurance type 110 with an employer, else PERSON (rules.md §7); None: unknown."""
    r = run.person_fact("confirmer", e.id_no)
    if r is None:
        return None
    return "EMPLOYER" if r[0] == 110 and (r[1] or r[2]) else "PERSON"


def confirmed(run: FileRun, row: dict, e: Entry, source: str) -> None:
    c = run.conclusion(e)
    if c is None:
        raise _Refuse(
            "IMPOSSIBLE_TRANSITION",
            f"no conclusion to confirm (stage {e.stage})",
            text="IMPOSSIBLE_TRANSITION.no_conclusion",
            stage=e.stage,
            event=row["event"],
        )
    run.stage_in(e, ("CONCLUDED",), row["event"])
    obj = run.objection(e)
    if obj and obj["status"] in _OPEN:
        raise _Refuse("OBJECTION_PENDING", "an objection is open: it must be resolved first")
    expected = _expected_confirmer(run, e)
    if expected is not None and row["confirmer"] != expected:
        raise _Refuse(
            "WRONG_CONFIRMER",
            f"confirmation must be by {expected}, not {row['confirmer']}",
            expected=expected,
            given=row["confirmer"],
        )
    if row["_date"] < c["issued_on"] or (c["received_on"] and row["_date"] < c["received_on"]):
        raise _Refuse(
            "DATE_OUT_OF_ORDER",
            "confirmed before the conclusion was issued or received",
            text="DATE_OUT_OF_ORDER.confirmed_before",
        )
    run.check_after_last_move(row, e)
    if c["received_on"] is None:
        # confirming shows the result was received that day
        run.receive(e, c, row["_date"])
    run.execute(
        "conclusions",
        "confirm",
        day=row["_date"],
        confirmer=row["confirmer"],
        entry_id=e.entry_id,
        version=c["version"],
    )
    run.move(e, "CONFIRMED", row["_date"], f"conclusion v{c['version']} confirmed by {row['confirmer']}", source)


def objection_filed(run: FileRun, row: dict, e: Entry, source: str) -> None:
    c = run.conclusion(e)
    if c is None:
        raise _Refuse(
            "IMPOSSIBLE_TRANSITION",
            f"no conclusion to object to (stage {e.stage})",
            text="IMPOSSIBLE_TRANSITION.no_conclusion",
            stage=e.stage,
            event=row["event"],
        )
    run.stage_in(e, ("CONCLUDED", "CONFIRMED", "DECLARED"), row["event"])
    obj = run.objection(e)
    if obj and obj["status"] == "ACCEPTED":
        raise _Refuse(
            "OBJECTION_PENDING", "an accepted objection is under review", text="OBJECTION_PENDING.under_review"
        )
    if obj and obj["status"] == "INCOMPLETE":
        _supplement(run, row, e, obj)
    else:
        _new_objection(run, row, e, c, obj, source)


def _supplement(run: FileRun, row: dict, e: Entry, obj: dict) -> None:
    """Material sent for the open (incomplete) objection: lateness was judged at filing."""
    items = row["_items"]
    listed = (obj.get("notice_items") or obj["missing_items"]).split(";")
    if any(i not in listed for i in items):
        raise _Refuse("NEW_MISSING_ITEMS")
    if row["_date"] < obj["filed_on"]:
        raise _Refuse(
            "DATE_OUT_OF_ORDER", "supplement before the objection was filed", text="DATE_OUT_OF_ORDER.supplement_before"
        )
    key = {"entry_id": e.entry_id, "objection_no": obj["objection_no"]}
    if items:
        # the very items still missing: the material is as it was (no write: a row sent again that
        # restates them changes nothing, FileRun.would_change; docs/decisions.md, probe-a)
        if set(items) != set((obj["missing_items"] or "").split(";")):
            run.execute("objections", "still_missing", missing_items=";".join(items), **key)
    else:
        run.execute("objections", "accept", day=row["_date"], **key)


def _timeliness(run: FileRun, row: dict, c: dict) -> str:
    """ON_TIME, NOT_RECEIVED_YET or DEADLINE_UNKNOWN for an objection to conclusion ``c``; LATE_OBJECTION refused."""
    if c["received_on"] is None:
        return "NOT_RECEIVED_YET"
    if row["_date"] < c["received_on"]:
        # before a receipt taken from a later confirmation (_check_objection_date): before the
        # receipt day held, so before the deadline that runs from it
        return "ON_TIME"
    # (deadlines the calendar has learnt since are filled in by refresh_deadlines first)
    if c["objection_deadline"] is None:
        run.warn(
            "an objection was accepted as on time because its deadline falls in a year "
            "the working-day calendar does not know yet"
        )
        return "DEADLINE_UNKNOWN"
    if row["_date"] > c["objection_deadline"]:
        raise _Refuse(
            "LATE_OBJECTION",
            f"filed after the deadline {c['objection_deadline'].isoformat()}",
            deadline=c["objection_deadline"].isoformat(),
        )
    return "ON_TIME"


def _check_objection_date(run: FileRun, row: dict, e: Entry, c: dict) -> None:
    """An objection is dated against the conclusion it objects to and its receipt, never against the
    entry's later stage changes (rules.md §7: 15 working days from receipt; docs/decisions.md): one
    filed at the counter in time and reported after the confirmation or the declaration is taken.
    Dated before the current version was issued, it concerned a version superseded since: refused,
    never moved onto the newer version (whose values may be the very correction).  A receipt day
    taken from a confirmation (no RESULT_RECEIVED: :meth:`.run.FileRun.receipt_reported`) is a
    stand-in: an objection dated before it is taken, whichever was reported first."""
    if row["_date"] < c["issued_on"] and c["version"] > 1:
        raise _Refuse(
            "DATE_OUT_OF_ORDER",
            f"objection before the current conclusion (version {c['version']}, issued "
            f"{c['issued_on'].isoformat()}): the version it concerned has been superseded",
            text="DATE_OUT_OF_ORDER.objection_superseded",
            day=c["issued_on"].isoformat(),
        )
    before_receipt = c["received_on"] and row["_date"] < c["received_on"] and run.receipt_reported(e, c)
    if row["_date"] < c["issued_on"] or before_receipt:
        raise _Refuse(
            "DATE_OUT_OF_ORDER",
            "objection before the conclusion was issued or received",
            text="DATE_OUT_OF_ORDER.objection_before",
        )


def _new_objection(run: FileRun, row: dict, e: Entry, c: dict, obj: dict | None, source: str) -> None:
    """A new objection: accepted when its material is complete, else INCOMPLETE with the one-time
    notice listing every missing item (seed notice 五(三))."""
    _check_objection_date(run, row, e, c)
    timeliness = _timeliness(run, row, c)
    suspends = e.stage in ("CONFIRMED", "DECLARED")
    no = (obj["objection_no"] + 1) if obj else 1
    items = row["_items"]
    notice = None
    if items:
        notice = (
            "您提交的退休预服务结果异议申诉材料不齐，请一次性补充以下全部材料："
            + "、".join(OBJECTION_ITEMS[i] for i in items)
            + "。"
        )
    run.execute(
        "objections",
        "insert",
        entry_id=e.entry_id,
        objection_no=no,
        conclusion_version=c["version"],
        day=row["_date"],
        deadline=c["objection_deadline"],
        timeliness=timeliness,
        status="INCOMPLETE" if items else "ACCEPTED",
        missing_items=";".join(items) or None,
        missing_notice=notice,
        accepted_on=None if items else row["_date"],
        source=source,
        notice_items=";".join(items) or None,
    )
    if suspends:
        # an objection in time suspends the confirmation: the conclusion must be confirmed again.
        # The stage goes back on the day filed, or on the day of the confirmation or declaration
        # it undoes when that came later (a stage is never left before it was entered).
        run.execute("conclusions", "suspend_confirmation", entry_id=e.entry_id, version=c["version"])
        day = max(row["_date"], run.last_move(e) or row["_date"])
        detail = f"objection {no} filed {row['_date'].isoformat()}: confirmation suspended"
        run.move(e, "CONCLUDED", day, detail, source)


def objection_resolved(run: FileRun, row: dict, e: Entry, source: str) -> None:
    obj = run.objection(e)
    if obj is None or obj["status"] != "ACCEPTED":
        raise _Refuse(
            "NO_ACCEPTED_OBJECTION",
            "no accepted objection to resolve"
            + (" (the open objection still waits for material)" if obj and obj["status"] == "INCOMPLETE" else ""),
            text="NO_ACCEPTED_OBJECTION.incomplete" if obj and obj["status"] == "INCOMPLETE" else None,
        )
    if row["_date"] < obj["accepted_on"]:
        raise _Refuse(
            "DATE_OUT_OF_ORDER", "resolved before the objection was accepted", text="DATE_OUT_OF_ORDER.resolved_before"
        )
    key = {"entry_id": e.entry_id, "objection_no": obj["objection_no"]}
    if row["result"] == "REJECTED":
        run.execute(
            "objections",
            "reject",
            day=row["_date"],
            reason=row["reason"],
            basis=row["basis"],
            remedy=row["remedy"],
            **key,
        )
        return
    c = run.conclusion(e)
    version = c["version"] + 1
    run.execute(
        "conclusions",
        "supersede",
        day=row["_date"],
        reason=f"objection {obj['objection_no']} upheld",
        entry_id=e.entry_id,
        version=c["version"],
    )
    values = {  # the corrected data, the rest as the superseded version had it (told again)
        "counted_months": row["_counted"] if row.get("_counted") is not None else c["counted_months"],
        "merge_status": row.get("merge_status") or c["merge_status"],
        "archive_conclusion": row.get("archive_conclusion") or c["archive_conclusion"],
        "base_data": row.get("base_data") or c["base_data"],
    }
    run.insert_conclusion(e, version, row["_date"], values, source)
    run.execute(
        "objections",
        "uphold",
        day=row["_date"],
        reason=row.get("reason"),
        basis=row.get("basis"),
        new_conclusion_version=version,
        **key,
    )
