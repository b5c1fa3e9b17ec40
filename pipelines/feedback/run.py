"""One file's rows decided and applied in order, inside the caller's transaction (rules.md §7).

:class:`FileRun` holds what the rows of one file share — the state read once for all the file's
persons, the rows to insert when the file is decided, the conclusions to tell — and decides each
row (:meth:`FileRun.row`): checked on its own (:mod:`.checks`), matched with a row applied before,
its person's ledger entry found, then handed to its event's handler in :data:`.events.HANDLERS`.
The handlers read and change the state through the helpers below.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date

from .. import DATA_DIR, labels, months
from ..identifiers import parse_id_no
from ..ledger import CLOSED_STAGES, record_transitions
from ..settings import Settings
from ..warehouse import person_key
from .buffers import Buffer
from .checks import check_row, row_key
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
        self._applied_keys: set[str] = set()  # row keys applied by this file (not in feedback_rows yet)

    def insert_rows(self) -> None:
        self.events.insert(self.con)
        self.outcomes.insert(self.con)

    # -- row -------------------------------------------------------------------------

    def row(self, row_no: int, row: dict | str | None) -> tuple[str, str | None, str | None, dict]:
        """Returns (status, reason_code, reason, info for feedback_rows: with ``reason_zh``, the
        Chinese reason of the office's receipt)."""
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
            info["row_key"] = row_key(row, info["person_key"], self.settings.person_key_secret)
            if (
                info["row_key"] in self._applied_keys
                or self.con.execute(sql("files", "row_applied_before"), {"row_key": info["row_key"]}).fetchall()[0][0]
            ):
                raise _Already()
            entry = self._entry(row, info)
            info["entry_id"] = entry.entry_id
            source = f"feedback:{self.safe_name}#{row_no}"
            HANDLERS[row["event"]](self, row, entry, source)
            self._record_event(row, entry, source)
            self._applied_keys.add(info["row_key"])
            return "APPLIED", None, None, info
        except _Already:
            return "ALREADY_APPLIED", None, None, info
        except _Refuse as r:
            info["reason_zh"] = r.reason_zh
            if info["event"] is None and isinstance(row, dict) and row.get("event") in EVENTS:
                info["event"] = row["event"]  # a row refused by its own checks: its event, for the receipt
            return "REFUSED", r.code, r.reason, info

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
        """Run the statement ``name`` of ``sql/feedback/<file>.sql`` with DuckDB parameters."""
        return self.con.execute(sql(file, name), params).fetchall()

    def insert_conclusion(self, e: Entry, version: int, issued_on: date, values: dict, source: str) -> None:
        """A new version of the entry's conclusion (``values``: counted_months, merge_status,
        archive_conclusion, base_data), told by a RESULT notice when the file is decided."""
        self.execute(
            "conclusions", "insert", entry_id=e.entry_id, version=version, issued_on=issued_on, source=source, **values
        )
        self.result_notices.append((e.entry_id, issued_on))

    def receive(self, e: Entry, c: dict, d: date) -> None:
        """The result of conclusion ``c`` received on ``d``: the objection deadline runs from then."""
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
        told = self.execute("conclusions", "told", id_no=e.id_no, reference_mi=reference_mi)[0][0]
        if not told:
            self.result_notices.append((e.entry_id, c["issued_on"]))
