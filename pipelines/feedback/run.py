"""One file's rows decided and applied in order, inside the caller's transaction (rules.md §7).

:class:`FileRun` holds what the rows of one file share — the state read once for all the file's
persons, the rows to insert when the file is decided, the conclusions to tell — and decides each
row (:meth:`FileRun.row`): checked on its own (:mod:`.checks`), matched with a row applied before,
its person's ledger entry found, then handed to its event's handler in :data:`.events.HANDLERS`.
The handlers read and change the state through the helpers below.

A row identical to rows applied before (same person, office, event, date and data, ``note``
included: its ``row_key``) is taken as sent again — ``ALREADY_APPLIED``, nothing changes — when it is
the n-th such row of its file and at least n identical rows were applied before, from any file
(docs/feedback-format.md "Applying twice"; docs/decisions.md).  When the row, applied now, would
change the entry's pre-service — move its stage, or record a receipt, an objection or its material,
a resolution, a conclusion (the handler run *dry*: :meth:`FileRun.would_change`) — it carries
``SENT_AGAIN`` and the office's receipt says why it was not applied and that a genuine repeat needs
a note.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date

from .. import DATA_DIR, labels, months
from ..contract import shown_file_name
from ..identifiers import parse_id_no
from ..ledger import CLOSED_STAGES, record_transitions
from ..settings import Settings
from ..warehouse import person_key
from .buffers import Buffer
from .checks import check_row, row_key
from .dates import read_day
from .deadlines import objection_deadline
from .format import EVENTS, _Already, _Refuse, _Why
from .queries import sql
from .report import FeedbackReport

_SAFE_NAME = re.compile(r"[^\w.\-]")


def _safe_name(name: str) -> str:
    return _SAFE_NAME.sub("_", name)[:120] or "file"


def _officers() -> dict[str, set[str]]:
    """The active officers of each office (data/officers.csv)."""
    roster: dict[str, set[str]] = {}
    with open(DATA_DIR / "officers.csv", encoding="utf-8-sig", newline="") as fh:
        for r in csv.DictReader(fh):
            if str(r.get("active", "1")).strip() in ("1", "true", "True", ""):
                roster.setdefault(r["office_code"].strip(), set()).add(r["officer_id"].strip())
    return roster


def _one_dict(cur) -> dict | None:
    r = cur.fetchone()
    return None if r is None else dict(zip([d[0] for d in cur.description], r))


@dataclass
class Entry:
    entry_id: str
    id_no: str
    office_code: str
    stage: str
    opened_mi: int
    closed_mi: int | None
    row_id: int  # its rowid in ledger_entries (the table has no index: issue 19, ninth session)

    @property
    def opened_on(self) -> date:
        return months.first_day(self.opened_mi)


class _WouldChange(Exception):
    """Raised by a write in a dry run (:meth:`FileRun.would_change`): the handler would change the state."""


#: the writes that set a value of the entry (officer, pre-review office, elected month): restated by
#: an identical row, no change of the pre-service (a dry run passes over them)
_RESTATING = frozenset(
    {("entries", "set_officer"), ("entries", "set_pre_review_office"), ("entries", "set_elected_month")}
)


class FileRun:
    """Decides and applies the rows of one file inside the caller's transaction."""

    def __init__(
        self,
        con,
        settings: Settings,
        report: FeedbackReport,
        file_name: str,
        sha: str,
        records: list[tuple[int, dict | str | None]] = (),
        office: str | None = None,
    ):
        from ..validate import office_codes

        self.con, self.settings, self.report = con, settings, report
        self.office = office  # the office the file is bound to (None: rows with no valid office only)
        self._ids = sorted(
            {
                info.id_no
                for _, r in records
                if isinstance(r, dict) and r.get("id_no")
                for info in [parse_id_no(r["id_no"])]
                if info is not None
            }
        )
        self._last_moves = self._load_last_moves()
        self._entry_rows = self._load_entry_rows(self._ids)
        self._by_person: dict[str, dict] = {}  # read-only facts of the file's persons, read once (person_fact)
        self._offices = frozenset(office_codes(settings))
        self.file_name, self.sha = file_name, sha
        self.safe_name = _safe_name(file_name)
        self.roster = _officers()
        self.result_notices: list[tuple[str, date]] = []  # (entry_id, day the conclusion was issued)
        # feedback_events and feedback_rows are written when the file is decided (insert_rows)
        self.events = Buffer(con, "feedback_events")
        self.outcomes = Buffer(con, "feedback_rows")
        self._seen: dict[str, int] = {}  # row key -> the rows of this file with it so far (a re-send is counted)
        self._dry = False  # a handler run dry (would_change): nothing written
        # the rows of the file taken as sent again: (place in outcomes, the place of the row repeated
        # in the order applied, row key, SENT_AGAIN), and the row keys the file applied
        self._resent: list[tuple[int, tuple, str, bool]] = []
        self._applied: set[str] = set()
        self.sent_again = 0  # the file's rows left with SENT_AGAIN (settle_sent_again)
        # the rows refused by their own checks with a valid ID number: (place in outcomes, ID number)
        self._unmatched: list[tuple[int, str]] = []

    def insert_rows(self) -> None:
        self.settle_sent_again()
        self._own_entries()
        self.events.insert(self.con)
        self.outcomes.insert(self.con)

    # -- row -------------------------------------------------------------------------

    def decide(self, row_no: int, row: dict | str | None) -> tuple[str, str | None, str | None]:
        """Decide the row and keep its outcome (``feedback_rows``, inserted with :meth:`insert_rows`):
        returns (status, reason_code, reason)."""
        status, code, reason, info, repeated = self.row(row_no, row)
        if status == "REFUSED" and info["person_key"] is None and isinstance(row, dict):
            self._not_looked_up(row, info)
        if repeated is not None:
            self._resent.append((len(self.outcomes.rows), repeated, info["row_key"], code == "SENT_AGAIN"))
        elif status == "APPLIED":
            self._applied.add(info["row_key"])
        self.outcomes.add(
            file_sha256=self.sha,
            file_name=self.file_name,
            row_no=row_no,
            **info,
            status=status,
            reason_code=code,
            reason=reason,
        )
        return status, code, reason

    def _not_looked_up(self, row: dict, info: dict) -> None:
        """A row refused by its own checks (MALFORMED, UNKNOWN_EVENT, WRONG_OFFICE), before its person
        was looked up: its day when it is one, for the receipt, and its valid ID number kept aside
        (never stored) for :meth:`_own_entries`.  No ``person_key``: the row is no person's event (it
        counts in no person's order, ``receipt_file``'s ``out_of_order``)."""
        info["event_date"] = row.get("_date") or read_day(row.get("event_date"))[0]
        id_info = parse_id_no(row["id_no"]) if isinstance(row.get("id_no"), str) else None
        if id_info is not None and self.office is not None:
            self._unmatched.append((len(self.outcomes.rows), id_info.id_no))

    def _own_entries(self) -> None:
        """The rows refused by their own checks whose ID number names an entry of the file's office
        get that entry (``feedback_rows.entry_id``): the office's receipt shows their ID number, as
        for a row that found it (docs/feedback-format.md "Receipt").  One query for the file
        (sql/feedback/entries.sql ``entries_of_persons``: the entry a row would find — the open one,
        else the latest — by the rowids read for the file); another office's person, or no entry:
        nothing, as for UNKNOWN_PERSON."""
        ids = sorted({id_no for _, id_no in self._unmatched})
        rows = [r for i in ids for r in self._entry_rows.get(i, [])]
        if rows:
            found = self.con.execute(sql("entries", "entries_of_persons"), {"rows": rows, "ids": ids}).fetchall()
            own = {id_no: entry_id for id_no, entry_id, office in found if office == self.office}
            for i, id_no in self._unmatched:
                if id_no in own:
                    self.outcomes.change(i, entry_id=own[id_no])
        self._unmatched = []

    def settle_sent_again(self) -> None:
        """Once the file is decided, a ``SENT_AGAIN`` row says nothing more (a plain re-send) when the
        file holds the repeat itself — an identical row of the file applied after it (its n-th) — or
        replays what came after the row it repeats — a later row of the file taken as sent again
        repeats a row applied after that one (a county's cumulative file sent again)."""
        latest = None  # the latest place repeated by the rows after this one
        for i, repeated, key, hinted in reversed(self._resent):
            if hinted and (key in self._applied or (latest is not None and latest > repeated)):
                self.outcomes.change(i, reason_code=None, reason=None, reason_zh=None)
                hinted = False
            self.sent_again += hinted
            latest = repeated if latest is None else max(latest, repeated)
        self._resent = []

    def row(self, row_no: int, row: dict | str | None) -> tuple[str, str | None, str | None, dict, tuple | None]:
        """Returns (status, reason_code, reason, info for feedback_rows: with ``reason_zh``, the
        Chinese reason of the office's receipt; for a row taken as sent again, the place of the row it
        repeats in the order applied, else None)."""
        from .events import HANDLERS

        info = dict.fromkeys(("row_key", "person_key", "entry_id", "office_code", "event", "event_date", "reason_zh"))
        try:
            if row is None or isinstance(row, str):  # a record that is no row: why, from the reader
                if isinstance(row, _Why):  # with its Chinese text (and the event, for the receipt)
                    event = labels.code_of("event", row.params.get("event"))
                    info["event"] = event.upper() if event and event.upper() in EVENTS else None
                    raise _Refuse("MALFORMED", row, text=row.text, **row.params)
                raise _Refuse("MALFORMED", row or "the record cannot be read as a row", text="MALFORMED.not_a_row")
            check_row(row, self._offices, self.office)
            info.update(
                person_key=person_key(row["id_no"], self.settings),
                office_code=row["office_code"],
                event=row["event"],
                event_date=row["_date"],
            )
            key = info["row_key"] = row_key(row, info["person_key"], self.settings.person_key_secret)
            n = self._seen[key] = self._seen.get(key, 0) + 1
            before = self.con.execute(sql("files", "rows_applied_before"), {"row_key": key}).fetchall()
            if n <= len(before):  # the n-th identical row of the file, n identical rows applied before
                raise self._sent_again(row, info, before[n - 1])
            entry = self._entry(row, info)
            info["entry_id"] = entry.entry_id
            source = f"feedback:{self.safe_name}#{row_no}"
            HANDLERS[row["event"]](self, row, entry, source)
            self._record_event(row, entry, source)
            return "APPLIED", None, None, info, None
        except _Already as a:
            info["reason_zh"] = a.reason_zh
            return "ALREADY_APPLIED", a.code, a.reason, info, a.repeated
        except _Refuse as r:
            info["reason_zh"] = r.reason_zh
            if info["event"] is None and isinstance(row, dict) and row.get("event") in EVENTS:
                info["event"] = row["event"]  # a row refused by its own checks: its event, for the receipt
            return "REFUSED", r.code, r.reason, info, None

    def _sent_again(self, row: dict, info: dict, earlier: tuple) -> _Already:
        """A row taken as sent again (``earlier``: the identical row applied before that it repeats,
        its file name, row number, day applied and time recorded).  ``SENT_AGAIN`` when it would change
        the entry's pre-service now: then the office is told that it was not applied, and why (unless
        :meth:`settle_sent_again` finds the file holds the repeat, or replays what came after)."""
        from .events import HANDLERS

        file_name, row_no, applied_on, recorded_at = earlier
        try:
            e = self._entry(row, {})
        except _Refuse:  # no open entry of the office's: nothing the row could do now
            return _Already(repeated=(recorded_at, row_no))
        if not self.would_change(HANDLERS[row["event"]], row, e):
            return _Already(repeated=(recorded_at, row_no))
        info["entry_id"] = e.entry_id  # the office's own person: its receipt may name the ID number
        shown = shown_file_name(file_name)
        return _Already(
            "SENT_AGAIN",
            f"identical to row {row_no} of {shown} applied on {applied_on.isoformat()}: taken as sent again, "
            f"not applied; a {row['event']} that happened again needs a note",
            day=applied_on.isoformat(),
            file=shown,
            row=row_no,
            event=row["event"],
            repeated=(recorded_at, row_no),
        )

    def would_change(self, handler, row: dict, e: Entry) -> bool:
        """Whether ``handler`` would take ``row`` now and change the entry's pre-service (a stage move,
        a conclusion's receipt or version, an objection, its material or resolution).  The handler is
        run *dry*: its checks as always, its first write (:meth:`execute`, :meth:`move`,
        :meth:`receive`, :meth:`insert_conclusion`) stopping it — every handler checks before it
        writes — except the writes that restate a value of the entry (:data:`_RESTATING`), passed over."""
        self._dry = True
        try:
            handler(self, row, e, "dry run")
        except _WouldChange:
            return True
        except (_Refuse, _Already):
            return False
        finally:
            self._dry = False
        return False

    def warn(self, msg: str) -> None:
        """A warning of the report (none in a dry run: nothing was done)."""
        if not self._dry:
            self.report.warn(msg)

    def _entry(self, row: dict, info: dict) -> Entry:
        if row["id_no"] not in self._entry_rows:  # never for a checked row (its id_no is one of _ids)
            self._entry_rows.update(self._load_entry_rows([row["id_no"]]))
        rows = self._entry_rows[row["id_no"]]
        r = None
        if rows:
            params = {"rows": rows, "id_no": row["id_no"]}
            r = self.con.execute(sql("entries", "entry_of_person"), params).fetchone()
        if r is None or r[2] != row["office_code"]:
            # another office's person is refused exactly as an ID number without any entry, and
            # before "closed": an office learns nothing about another office's persons
            raise _Refuse("UNKNOWN_PERSON")
        e = Entry(*r)
        info["entry_id"] = e.entry_id  # the office's own person: its receipt may name the ID number
        if e.closed_mi is not None:
            raise _Refuse("ENTRY_CLOSED", f"the ledger entry is closed ({e.stage})", stage=e.stage)
        if row["_date"] < e.opened_on:
            raise _Refuse(
                "DATE_OUT_OF_ORDER",
                f"event_date before the entry was opened ({months.format_month(e.opened_mi)})",
                text="DATE_OUT_OF_ORDER.before_opened",
                month=months.format_month(e.opened_mi),
            )
        return e

    def _record_event(self, row: dict, e: Entry, source: str) -> None:
        self.events.add(
            entry_id=e.entry_id,
            event=row["event"],
            event_date=row["_date"],
            office_code=row["office_code"],
            officer_id=row.get("officer_id"),
            result=row.get("result"),
            months=row.get("_months"),
            items=";".join(row.get("_items") or []) or None,
            counted_months=row.get("_counted"),
            merge_status=row.get("merge_status"),
            archive_conclusion=row.get("archive_conclusion"),
            base_data=row.get("base_data"),
            elected_mi=row.get("_elected_mi"),
            confirmer=row.get("confirmer"),
            pre_review_office=row.get("pre_review_office"),
            reason=row.get("reason"),
            basis=row.get("basis"),
            remedy=row.get("remedy"),
            note=row.get("note"),
            source=source,
        )

    # -- state -----------------------------------------------------------------------

    def _load_last_moves(self) -> dict[str, date]:
        """The day of the last stage change of every entry of the file's persons, read in one pass
        over ledger_transitions (a query per row scanned it: ≈ 13 ms a row at 1,000,000 persons).
        Kept current by :meth:`move`, the only writer of transitions while the file applies.
        Feedback applies to open entries only, so a closing in an entry's history was undone by a
        reopening (sql/ledger/05_reopen.sql): neither move counts, the county's work dated before
        the wrong closing is in order."""
        if not self._ids:
            return {}
        params = {"ids": self._ids, "closed_stages": list(CLOSED_STAGES)}
        return dict(self.con.execute(sql("entries", "last_moves"), params).fetchall())

    def _load_entry_rows(self, ids: list[str]) -> dict[str, list[int]]:
        """The rowids of the entries of each of ``ids`` in ``ledger_entries`` (none: an empty list),
        read in one pass for the whole file (sql/feedback/entries.sql ``entry_rows``).  The ledger has
        no index (issue 19, ninth session): a query by id_no per row scanned it, a query by rowid reads
        only the row groups that hold the person's entries.  A file inserts and deletes no entry, so
        the rowids hold while it applies."""
        out: dict[str, list[int]] = {i: [] for i in ids}
        if ids:
            out.update(self.con.execute(sql("entries", "entry_rows"), {"ids": list(ids)}).fetchall())
        return out

    def person_fact(self, kind: str, id_no: str) -> tuple | None:
        """A fact of a person of the file (``confirmer``: the current push row; ``screening``: the
        latest screening; sql/feedback/entries.sql ``fact_<kind>``), None when there is none. Read for
        all the file's persons at its first use: a query per row scanned tables that grow every month;
        a feedback file never writes these tables."""
        if kind not in self._by_person:
            rows = self.con.execute(sql("entries", f"fact_{kind}"), {"ids": self._ids}).fetchall()
            self._by_person[kind] = {r[0]: tuple(r[1:]) for r in rows}
        return self._by_person[kind].get(id_no)

    def last_move(self, e: Entry) -> date | None:
        """The day of the entry's last stage change (None: none yet)."""
        return self._last_moves.get(e.entry_id)

    def check_after_last_move(self, row: dict, e: Entry) -> None:
        last = self._last_moves.get(e.entry_id)
        if last is not None and row["_date"] < last:
            raise _Refuse(
                "DATE_OUT_OF_ORDER",
                f"event_date before the entry's last stage change ({last.isoformat()})",
                text="DATE_OUT_OF_ORDER.before_last_move",
                day=last.isoformat(),
            )

    def move(self, e: Entry, to_stage: str, d: date, detail: str, source: str) -> None:
        """Move the entry to ``to_stage`` (pipelines.ledger.record_transitions)."""
        if self._dry:
            raise _WouldChange()
        self.con.execute(sql("entries", "move"), {"entry_id": e.entry_id, "event_date": d, "detail": detail})
        if record_transitions(
            self.con,
            "_fb_move",
            source,
            months.month_of(d),
            self.settings,
            to_stage=to_stage,
            entry_ids=(e.entry_id,),
            entry_rows=(e.row_id,),
        ):
            last = self._last_moves.get(e.entry_id)
            self._last_moves[e.entry_id] = d if last is None else max(last, d)
        e.stage = to_stage

    def stage_in(self, e: Entry, allowed: tuple, event: str) -> None:
        if e.stage not in allowed:
            raise _Refuse(
                "IMPOSSIBLE_TRANSITION", f"{event} is not possible in stage {e.stage}", stage=e.stage, event=event
            )

    def conclusion(self, e: Entry) -> dict | None:
        """The entry's current conclusion (a row of ``conclusions`` as a dict), or None."""
        return _one_dict(self.con.execute(sql("conclusions", "current"), {"entry_id": e.entry_id}))

    def objection(self, e: Entry) -> dict | None:
        """The entry's latest objection (a row of ``objections`` as a dict), or None."""
        return _one_dict(self.con.execute(sql("objections", "latest"), {"entry_id": e.entry_id}))

    def execute(self, file: str, name: str, **params) -> list[tuple]:
        """Run the statement ``name`` of ``sql/feedback/<file>.sql`` with DuckDB parameters: a handler's
        writes (none in a dry run, see :meth:`would_change`)."""
        if self._dry:
            if (file, name) in _RESTATING:
                return []
            raise _WouldChange()
        return self.con.execute(sql(file, name), params).fetchall()

    def insert_conclusion(self, e: Entry, version: int, issued_on: date, values: dict, source: str) -> None:
        """A new version of the entry's conclusion (``values``: counted_months, merge_status,
        archive_conclusion, base_data), told by a RESULT notice when the file is decided."""
        if self._dry:
            raise _WouldChange()
        self.execute(
            "conclusions", "insert", entry_id=e.entry_id, version=version, issued_on=issued_on, source=source, **values
        )
        self.result_notices.append((e.entry_id, issued_on))

    def receipt_reported(self, e: Entry, c: dict) -> bool:
        """Whether the receipt of conclusion ``c`` was reported — a RESULT_RECEIVED of the entry applied
        on its day (in ``feedback_events``, or among this file's rows kept) — rather than taken from a
        confirmation (docs/feedback-format.md "Dates": a stand-in).  One of an older version on that day
        (possible only with a re-issue dated before the older version's receipt) counts as reported:
        an objection before it is refused, as before the stand-in rule."""
        key = (e.entry_id, "RESULT_RECEIVED", c["received_on"])
        at = [self.events.names.index(k) for k in ("entry_id", "event", "event_date")]
        if any(tuple(r[i] for i in at) == key for r in self.events.rows):
            return True
        params = {"entry_id": e.entry_id, "received_on": c["received_on"]}
        return self.con.execute(sql("conclusions", "receipt_reported"), params).fetchone()[0]

    def receive(self, e: Entry, c: dict, d: date) -> None:
        """The result of conclusion ``c`` received on ``d``: the objection deadline runs from then."""
        if self._dry:
            raise _WouldChange()
        deadline, msgs = objection_deadline(d, self.settings)
        for m in msgs:
            self.report.warn(m)
        self.execute(
            "conclusions",
            "receive",
            received_on=d,
            deadline=deadline,
            deadline_status="SET" if deadline else "CALENDAR_UNKNOWN",
            entry_id=e.entry_id,
            version=c["version"],
        )
        # A conclusion never told (issued before RESULT went out at issue, i.e. by an older version
        # of this program) is told now; the notice machinery skips a RESULT already issued.
        reference_mi = months.month_of(c["issued_on"])
        params = {"id_no": e.id_no, "reference_mi": reference_mi}
        told = self.con.execute(sql("conclusions", "told"), params).fetchone()[0]
        if not told:
            self.result_notices.append((e.entry_id, c["issued_on"]))
