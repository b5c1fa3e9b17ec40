"""County feedback (``retire-prep feedback FILE...``): rules.md §7, seed notice 二(三)–(五) and 五.

The county offices report what happened to their persons — archive pre-review,
contribution years, relations merged, the comprehensive conclusion, receipt of the
result, confirmation, objections and their review, elected retirement months,
retirement — as flat CSV files, one event per row (``docs/feedback-format.md``).

Each file is applied in **one** transaction.  Rows are decided one by one in file
order (a row sees what the rows above it did), each either applied or refused with
a reason code; ``accepted + refused = rows`` for every file, recorded in
``feedback_files`` / ``feedback_rows``.  A file whose bytes (sha256) were applied
before is not applied again, and a row identical to a row applied before (same
person, event, date, office and data) is accepted as ``ALREADY_APPLIED`` without
changing anything.  Stage moves go through :func:`pipelines.ledger.record_transitions`
with source ``feedback:<file name>#<row>``.

Objection deadlines are ``settings.objection_working_days`` working days after the day
the result was received (:func:`pipelines.workdays.add_working_days`).  A deadline in a
year no calendar covers is never guessed: it is kept as NULL (``CALENDAR_UNKNOWN``),
a warning says so, and an objection filed meanwhile is accepted as on time — nobody
loses a right because our calendar misses a year.  Such deadlines are filled in as soon
as the calendar knows the year (on every later ``feedback`` and ``declare``).

Refusal reasons and log lines never carry an ID number, a name or a phone: they name
the file, the row, the event and the reason code.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from .analysts import refreshes_analysts
from . import DATA_DIR, labels
from . import feedback_xlsx
from .contract import shown_column_names, shown_file_name
from .errors import RetirePrepError, UnknownCalendarYear
from .identifiers import parse_id_no
from .ledger import CLOSED_STAGES, record_transitions
from .settings import Settings, load_settings
from .warehouse import connect, person_key, render_sql, rollback, run_sql

log = logging.getLogger(__name__)

# ------------------------------------------------------------------------------------ format

COLUMNS = (
    "office_code",
    "event",
    "id_no",
    "event_date",
    "officer_id",
    "result",
    "months",
    "items",
    "counted_months",
    "merge_status",
    "archive_conclusion",
    "base_data",
    "elected_month",
    "confirmer",
    "pre_review_office",
    "reason",
    "basis",
    "remedy",
    "note",
)
REQUIRED_COLUMNS = ("office_code", "event", "id_no", "event_date")

EVENTS = (
    "OFFICER_ASSIGNED",
    "ARCHIVE_REVIEWED",
    "YEARS_CONFIRMED",
    "RELATIONS_MERGED",
    "CONCLUSION_ISSUED",
    "RESULT_RECEIVED",
    "CONFIRMED",
    "OBJECTION_FILED",
    "OBJECTION_RESOLVED",
    "ELECTED_MONTH",
    "RETIRED",
)

# Archive pre-review items (seed notice 二(三): 工作经历、服兵役情况、涉刑情形、处分情形 …).
ARCHIVE_ITEMS = {
    "WORK_HISTORY": "工作经历材料",
    "MILITARY_SERVICE": "服兵役材料",
    "CRIMINAL_RECORD": "涉刑情形材料",
    "DISCIPLINARY_RECORD": "处分情形材料",
    "DEEMED_YEARS": "视同缴费年限材料",
    "BIRTH_DATE": "出生日期材料",
    "IDENTITY": "身份信息材料",
    "SPECIAL_WORK": "特殊工种材料",
    "OTHER": "其他材料",
}
# Material of an objection (seed notice 五(二)(三): 异议申诉申请及相关佐证材料), plus the archive items.
OBJECTION_ITEMS = {
    "APPLICATION_FORM": "异议申诉申请",
    "ID_DOCUMENT": "身份证件",
    "EVIDENCE": "相关佐证材料",
    "ARCHIVE_ORIGINAL": "档案原件",
    "AUTHORIZATION": "委托代办证明",
    **ARCHIVE_ITEMS,
}
MERGE_STATUSES = ("MERGED", "NOT_NEEDED", "PENDING")
ARCHIVE_CONCLUSIONS = ("PASS", "FAIL")
CONFIRMERS = ("EMPLOYER", "PERSON")

# Refusal reason codes (docs/feedback-format.md).
REASONS = {
    "MALFORMED": "a field is missing or not in its format",
    "UNKNOWN_EVENT": "the event is not one of the documented events",
    # the same code and text whether the ID number has no entry at all or an entry at another
    # office: a refusal must not tell a sender that a person exists elsewhere (issue 14)
    "UNKNOWN_PERSON": "no ledger entry for this ID number at the row's office",
    "ENTRY_CLOSED": "the person's ledger entry is closed",
    "WRONG_OFFICE": "office_code is not the office the file is from (--office, or its inbox folder)",
    "IMPOSSIBLE_TRANSITION": "the event does not follow from the entry's stage",
    "DATE_OUT_OF_ORDER": "the event date precedes what it depends on",
    "UNKNOWN_OFFICER": "the officer is not on the office's roster",
    "WRONG_CONFIRMER": "confirmation by the wrong party (employer for 110 with an employer, else the person)",
    "OBJECTION_PENDING": "an objection is open",
    "NO_ACCEPTED_OBJECTION": "no accepted objection to resolve",
    "NEW_MISSING_ITEMS": "a supplement names items that the one-time notice did not list",
    "LATE_OBJECTION": "objection filed after the deadline",
    "ELECTION_NOT_ALLOWED": "an elected retirement month is for insurance type 110 only",
    "OUTSIDE_FLEXIBLE_WINDOW": "elected month outside the flexible window of the latest screening",
    "ELECTED_MONTH_PAST": "elected month before the month of the event",
    "EARLY_MONTHS_SHORT": "early retirement before the statutory month without the minimum contribution months by then",
    "CONFLICTING_RECORD": "contradicts what is already recorded",
}

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
_OFFICE = re.compile(r"^[0-9]{6}$")
_INT = re.compile(r"^[0-9]{1,4}$")
_SAFE_NAME = re.compile(r"[^\w.\-]")
# Stages of an open entry that may still receive a stage event from feedback.
_PIPELINE_STAGES = ("ENROLLED", "NOTIFIED")


# ------------------------------------------------------------------------------------ report


@dataclass
class FileOutcome:
    """What happened to one file (no personal data)."""

    file: str
    sha256: str
    status: str  # APPLIED | ALREADY_APPLIED | REFUSED
    rows: int = 0
    accepted: int = 0  # applied + already applied
    refused: int = 0
    already_applied: int = 0
    reasons: dict = field(default_factory=dict)  # reason_code -> rows
    reason: str | None = None  # whole-file refusal
    office: str | None = None  # the office the file is bound to


@dataclass
class FeedbackReport:
    files: list[FileOutcome] = field(default_factory=list)
    notices: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def refused(self) -> int:
        return sum(f.refused for f in self.files)

    @property
    def refused_files(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "REFUSED"]

    def warn(self, msg: str) -> None:
        if msg not in self.warnings:
            self.warnings.append(msg)
            log.info(msg)  # shown by lines(); the calendar's own warnings are logged by workdays

    def lines(self) -> list[str]:
        out = []
        for f in self.files:
            if f.status == "REFUSED":
                out.append(f"REFUSED {f.file}: {f.reason}")
                continue
            head = "already applied, nothing to do: " if f.status == "ALREADY_APPLIED" else "applied "
            bound = f" (office {f.office})" if f.office else ""
            line = (
                f"{head}{f.file}{bound}: {f.rows} rows, {f.accepted} accepted "
                f"({f.already_applied} already applied before), {f.refused} refused"
            )
            if f.reasons:
                line += " [" + ", ".join(f"{k} {v}" for k, v in sorted(f.reasons.items())) + "]"
            out.append(line)
        if self.notices:
            out.append(f"RESULT notices issued: {self.notices}")
        out += [f"warning: {w}" for w in self.warnings]
        return out


class FeedbackFileRefused(RetirePrepError):
    """A feedback file that could not be read as the documented format (refused whole)."""

    def __init__(self, message: str, report: FeedbackReport):
        super().__init__(message)
        self.report = report


class _Refuse(Exception):
    def __init__(self, code: str, reason: str | None = None):
        super().__init__(code)
        self.code = code
        self.reason = reason or REASONS[code]


class _Already(Exception):
    """The row restates what is recorded: accepted, nothing changes."""


# ------------------------------------------------------------------------------------ helpers


def ensure_schema(con, settings: Settings) -> None:
    """The tables and views of sql/warehouse/schema_feedback.sql (idempotent)."""
    run_sql(con, "warehouse/schema_feedback.sql", settings=settings)


def month_of(d: date) -> int:
    return d.year * 12 + d.month - 1


def month_text(mi: int) -> str:
    return f"{mi // 12:04d}-{mi % 12 + 1:02d}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _norm(cell: str | None) -> str | None:
    if cell is None:
        return None
    s = unicodedata.normalize("NFKC", cell).strip()
    return s or None


def _safe_name(name: str) -> str:
    return _SAFE_NAME.sub("_", name)[:120] or "file"


def _items(raw: str | None, vocab: dict) -> list[str]:
    if raw is None:
        return []
    parts = [p.strip().upper() for p in raw.split(";")]
    parts = [p for p in parts if p]
    bad = [p for p in parts if p not in vocab]
    if bad:
        raise _Refuse("MALFORMED", f"items: {len(bad)} code(s) not in the documented list")
    seen: list[str] = []
    for p in parts:
        if p not in seen:
            seen.append(p)
    return seen


def _int(row: dict, col: str, required: bool) -> int | None:
    v = row.get(col)
    if v is None:
        if required:
            raise _Refuse("MALFORMED", f"{col} is required for {row['event']}")
        return None
    if not _INT.match(v) or int(v) > 1200:
        raise _Refuse("MALFORMED", f"{col} must be a whole number of months 0..1200")
    return int(v)


def _enum(row: dict, col: str, values, required: bool) -> str | None:
    v = row.get(col)
    if v is None:
        if required:
            raise _Refuse("MALFORMED", f"{col} is required for {row['event']}")
        return None
    v = v.upper()
    if v not in values:
        raise _Refuse("MALFORMED", f"{col} must be one of {'/'.join(values)}")
    return v


def _need(row: dict, *cols: str) -> None:
    for c in cols:
        if row.get(c) is None:
            raise _Refuse("MALFORMED", f"{c} is required for {row['event']}")


def objection_deadline(received: date, settings: Settings) -> tuple[date | None, list[str]]:
    """The last day to object: ``objection_working_days`` working days after ``received``.

    Returns (deadline, warnings); deadline is None when a year reached is not in any
    calendar (rules.md §7: never guess).  Regional-calendar warnings are returned too.
    """
    from . import workdays

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


def _officers() -> dict[str, set[str]]:
    roster: dict[str, set[str]] = {}
    with open(DATA_DIR / "officers.csv", encoding="utf-8-sig", newline="") as fh:
        for r in csv.DictReader(fh):
            if str(r.get("active", "1")).strip() in ("1", "true", "True", ""):
                roster.setdefault(r["office_code"].strip(), set()).add(r["officer_id"].strip())
    return roster


def notice_month(con, event_mi: int) -> int:
    """The batch month of a notice caused by feedback or declare: the event's month, or the first
    month whose run has not started when that month's run is done or under way (its files are
    written, or may be: an Airflow run writes the office files outside the writers' pool, so
    feedback can be applied between its stages; a notice put into that month would be in no file)."""
    last = con.execute(
        "SELECT max(month_mi) FROM month_runs WHERE command = 'run' AND status IN ('DONE', 'RUNNING')"
    ).fetchall()[0][0]
    return event_mi if last is None else max(event_mi, last + 1)


def refresh_deadlines(con, settings: Settings) -> int:
    """Compute the deadlines kept open (CALENDAR_UNKNOWN) that the calendar now knows.
    Returns how many were filled in."""
    rows = con.execute(
        "SELECT entry_id, version, received_on FROM conclusions "
        "WHERE superseded_on IS NULL AND deadline_status = 'CALENDAR_UNKNOWN' ORDER BY entry_id"
    ).fetchall()
    n = 0
    for entry_id, version, received in rows:
        d, _ = objection_deadline(received, settings)
        if d is None:
            continue
        con.execute(
            "UPDATE conclusions SET objection_deadline = ?, deadline_status = 'SET' WHERE entry_id = ? AND version = ?",
            [d, entry_id, version],
        )
        n += 1
    return n


def _issue_result_notices(con, items: list[tuple[str, date]], settings: Settings) -> int:
    """RESULT notices (rules.md §5: "a comprehensive conclusion was issued"): one per conclusion
    issued (CONCLUSION_ISSUED, or a new version after an upheld objection), reference month = the
    month of issue.  The text states the objection period (``objection_working_days`` working days
    from receiving the result): the day of receipt is not known when the notice is issued."""
    if not items:
        return 0
    from . import notify

    con.execute(
        "CREATE OR REPLACE TEMP TABLE _fb_result_src (entry_id VARCHAR, reference_mi INTEGER, issue_mi INTEGER)"
    )
    for entry_id, issued in items:
        mi = month_of(issued)
        con.execute("INSERT INTO _fb_result_src VALUES (?, ?, ?)", [entry_id, mi, notice_month(con, mi)])
    total = 0
    for (issue_mi,) in con.execute("SELECT DISTINCT issue_mi FROM _fb_result_src ORDER BY 1").fetchall():
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _fb_result_rows AS "
            "SELECT e.id_no, s.entry_id, s.reference_mi, e.office_code, "
            f"{int(settings.objection_working_days)} AS objection_days "
            "FROM _fb_result_src s JOIN ledger_entries e USING (entry_id) WHERE s.issue_mi = ?",
            [issue_mi],
        )
        total += notify.issue_notices(con, "RESULT", "_fb_result_rows", issue_mi, settings) or 0
    return total


# ------------------------------------------------------------------------------------ reading


# Characters no cell may hold (docs/decisions.md, issue 14): C0 and C1 controls — NUL, escape,
# backspace … (tab, CR and LF excepted: whitespace; a line break inside a cell is refused on its
# own, see _cells_problem) — and the bidirectional overrides that make a text read backwards on
# screen.  Such a row is refused, never stored or cleaned up (a cleaned-up row would be applied
# with a value nobody sent).  The same set as the push's and the applications' CONTROL_CHARACTER.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: The longest cell a feedback file may hold (characters): a longer one refuses its row.
MAX_CELL = 2000


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 — what Excel's and WPS's plain "CSV" saves on
    Simplified-Chinese Windows (code page 936, GBK, a subset of GB18030); docs/decisions.md, issue 16.
    Anything else (UTF-16, a binary file) is refused ENCODING."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise _Refuse(
            "ENCODING", f"neither UTF-8 nor GB18030/GBK (first bad byte on line {line}; save as CSV UTF-8)"
        ) from None


def _is_gb18030(data: bytes) -> bool:
    try:
        data.decode("utf-8-sig")
        return False
    except UnicodeDecodeError:
        return True


def _records(text: str):
    """The CSV records of ``text``: (first line, last line, cells), lines counted from 1.

    Python's csv reader is used in strict mode with no field size limit of its own (its default,
    131,072 characters, ended the reading of a file silently, issue 14): a quote never closed, or
    text after a closing quote, raises ``_Refuse('BROKEN_QUOTING')`` for the whole file — where a
    record ends is then unknown, so no row of the file can be trusted."""
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, len(text) + 1))
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        last = 0
        while True:
            try:
                rec = next(reader)
            except StopIteration:
                return
            except csv.Error:
                raise _Refuse(
                    "BROKEN_QUOTING",
                    (
                        f'the record starting on line {last + 1} cannot be read: a quote (") is never closed, '
                        f"or text follows a closing quote; nothing of the file was applied: correct that record "
                        f"and send the file again"
                    ),
                ) from None
            yield last + 1, reader.line_num, rec
            last = reader.line_num
    finally:
        csv.field_size_limit(old)


_LINE_END = re.compile("\r\n|\r|\n")
_OTHER_LINE_END = {"\r\n": re.compile("\r(?!\n)|(?<!\r)\n"), "\n": re.compile("\r"), "\r": re.compile("\n")}


def _check_line_ends(text: str) -> None:
    """Refuse (``MIXED_LINE_ENDS``) a file whose lines do not all end as its header does (CRLF,
    LF, or CR of old Mac spreadsheets): a stray carriage return splits a row in two, and the first
    half can look like a whole row (a note cut short) that would be applied."""
    first = _LINE_END.search(text)
    if first is None:
        return
    odd = _OTHER_LINE_END[first.group()].search(text)
    if odd is not None:
        line = text.count(first.group(), 0, odd.start()) + 1
        raise _Refuse(
            "MIXED_LINE_ENDS",
            (
                f"line {line} ends otherwise than the header line (a stray carriage return or line feed "
                f"inside a row?); nothing of the file was applied: correct that line and send the file again"
            ),
        )


def _cells_problem(rec: list[str], first: int, last: int, width: int) -> str | None:
    """Why a record cannot be a row (one line, no cell value), or None."""
    if last > first:
        return (
            f"the record spans lines {first}-{last}: a cell holds a line break "
            f"(a quote opened and not closed on its line?)"
        )
    if len(rec) != width:
        return f"the record has {len(rec)} cells, the header {width}"
    if any(len(c) > MAX_CELL for c in rec):
        return f"a cell is longer than {MAX_CELL} characters"
    if any(CONTROL_CHARACTERS.search(c) for c in rec):
        return "a cell holds a control character (NUL, escape …): retype the cell"
    return None


def _read_file(path: Path, data: bytes | None = None) -> tuple[bytes, list[tuple[int, dict | str | None]]]:
    """The file's bytes and its data records: (row_no, row dict, or why the record is no row).

    Every record after the header is returned, blank lines excepted (they are not rows, but they
    count in ``row_no``), so every record of the file ends up applied, already applied or refused
    with its row number.  Raises _Refuse for a file that is not the format (encoding, header,
    broken quoting: refused whole).  ``data``: the file's bytes when already read (a file is read
    once: the bytes applied are the bytes its identity is taken from)."""
    if data is None:
        data = path.read_bytes()
    text = _decode(data)
    _check_line_ends(text)
    records = _records(text)
    try:
        _, _, header = next(records)
    except StopIteration:
        raise _Refuse("EMPTY_FILE", "no header line") from None
    cols = [labels.feedback_column(_norm(h) or "") for h in header]  # English or Chinese (data/labels.csv)
    shown = lambda names: ", ".join(shown_column_names(names[:5]))  # never a data row's values
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise _Refuse("BAD_HEADER", f"column(s) {shown(dup)} appear twice")
    unknown = [c for c in cols if c not in COLUMNS]
    if unknown:
        missing_header = not any(c in COLUMNS for c in cols)
        raise _Refuse(
            "BAD_HEADER",
            (
                f"{len(unknown)} unknown column(s): {shown(unknown)}"
                + (" — the first line is no header: is the header line missing?" if missing_header else "")
                + " (see docs/feedback-format.md)"
            ),
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing:
        raise _Refuse("BAD_HEADER", f"missing column(s) {', '.join(missing)}")
    out: list[tuple[int, dict | str | None]] = []
    # the whole file is read before anything is applied: broken quoting at its end refuses it whole
    for row_no, (first, last, rec) in enumerate(records, start=1):
        if not any(c.strip() for c in rec) and last == first and not any(CONTROL_CHARACTERS.search(c) for c in rec):
            continue  # blank line: not a row (str.strip() takes FS/GS/RS/US, VT, FF for blanks: refused below)
        problem = _cells_problem(rec, first, last, len(cols))
        if problem:
            out.append((row_no, problem))
            continue
        row = {c: None for c in COLUMNS}
        for c, v in zip(cols, rec):
            row[c] = _norm(v)
        out.append((row_no, row))
    return data, out


# ------------------------------------------------------------------------------------ applying


@dataclass
class _Entry:
    entry_id: str
    id_no: str
    office_code: str
    stage: str
    opened_mi: int
    closed_mi: int | None

    @property
    def opened_on(self) -> date:
        return date(self.opened_mi // 12, self.opened_mi % 12 + 1, 1)


class _Rows:
    """Rows for a table of the warehouse, kept until the file is decided and then inserted at once
    (a statement per row costs DuckDB ≈ 1 ms; only tables nothing reads while a file applies)."""

    def __init__(self, table: str, types: str):
        self.table, self.rows = table, []
        self.types = types.split()  # SQL types of the columns before recorded_at, in order

    def add(self, *values) -> None:
        assert len(values) == len(self.types), (self.table, len(values))
        self.rows.append(values)

    def insert(self, con) -> None:
        """One INSERT: each column a list parameter, unnested side by side (row order kept)."""
        if not self.rows:
            return
        cols = ", ".join(f"unnest(?::{t}[])" for t in self.types)
        con.execute(f"INSERT INTO {self.table} SELECT {cols}, now()", [list(c) for c in zip(*self.rows)])
        self.rows = []


class _FileRun:
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
        self.con, self.settings, self.report = con, settings, report
        self.office = office  # the office the file is bound to (None: rows with no valid office only)
        from .validate import office_codes

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
        self._by_person: dict[str, dict] = {}  # read-only facts of the file's persons, read once (_person_fact)

        self._offices = frozenset(office_codes(settings))
        self.file_name, self.sha = file_name, sha
        self.safe_name = _safe_name(file_name)
        self.roster = _officers()
        self.result_notices: list[tuple[str, date]] = []  # (entry_id, day the conclusion was issued)
        # feedback_events and feedback_rows are written when the file is decided (insert_rows)
        self.events = _Rows(
            "feedback_events",
            "VARCHAR VARCHAR DATE VARCHAR VARCHAR VARCHAR INTEGER VARCHAR "
            "INTEGER VARCHAR VARCHAR VARCHAR INTEGER VARCHAR VARCHAR VARCHAR "
            "VARCHAR VARCHAR VARCHAR VARCHAR",
        )
        self.outcomes = _Rows(
            "feedback_rows",
            "VARCHAR VARCHAR BIGINT VARCHAR VARCHAR VARCHAR VARCHAR VARCHAR DATE VARCHAR VARCHAR VARCHAR",
        )
        self._applied_keys: set[str] = set()  # row keys applied by this file (not in feedback_rows yet)

    def insert_rows(self) -> None:
        self.events.insert(self.con)
        self.outcomes.insert(self.con)

    # -- row -------------------------------------------------------------------------

    def row(self, row_no: int, row: dict | None) -> tuple[str, str | None, str | None, dict]:
        """Returns (status, reason_code, reason, info for feedback_rows)."""
        info = {
            "row_key": None,
            "person_key": None,
            "entry_id": None,
            "office_code": None,
            "event": None,
            "event_date": None,
        }
        try:
            if row is None or isinstance(row, str):  # a record that is no row: why, from the reader
                raise _Refuse("MALFORMED", row or "the record cannot be read as a row")
            self._validate(row)
            info.update(
                person_key=person_key(row["id_no"], self.settings),
                office_code=row["office_code"],
                event=row["event"],
                event_date=row["_date"],
            )
            info["row_key"] = self._row_key(row, info["person_key"])
            if (
                info["row_key"] in self._applied_keys
                or self.con.execute(
                    "SELECT count(*) FROM feedback_rows WHERE row_key = ? AND status = 'APPLIED'", [info["row_key"]]
                ).fetchall()[0][0]
            ):
                raise _Already()
            entry = self._entry(row)
            info["entry_id"] = entry.entry_id
            source = f"feedback:{self.safe_name}#{row_no}"
            getattr(self, "_ev_" + row["event"].lower())(row, entry, source)
            self._record_event(row, entry, source)
            self._applied_keys.add(info["row_key"])
            return "APPLIED", None, None, info
        except _Already:
            return "ALREADY_APPLIED", None, None, info
        except _Refuse as r:
            return "REFUSED", r.code, r.reason, info

    def _validate(self, row: dict) -> None:
        labels.decode_feedback_row(row)  # Chinese labels → codes
        for c in REQUIRED_COLUMNS:
            if row.get(c) is None:
                raise _Refuse("MALFORMED", f"{c} is empty")
        row["event"] = row["event"].upper()
        if row["event"] not in EVENTS:
            raise _Refuse("UNKNOWN_EVENT")
        if not _OFFICE.match(row["office_code"]):
            raise _Refuse("MALFORMED", "office_code must be 6 digits")
        if row["office_code"] not in self._offices:
            raise _Refuse("MALFORMED", "office_code is not one of the responsible offices (rules.md §3)")
        if row["office_code"] != self.office:
            raise _Refuse("WRONG_OFFICE")
        info = parse_id_no(row["id_no"])
        if info is None:
            raise _Refuse("MALFORMED", "id_no is not a valid ID number (GB 11643)")
        row["id_no"] = info.id_no
        if not _DATE.match(row["event_date"]):
            raise _Refuse("MALFORMED", "event_date must be YYYY-MM-DD")
        try:
            row["_date"] = date.fromisoformat(row["event_date"])
        except ValueError:
            raise _Refuse("MALFORMED", "event_date is not a real date") from None
        if not 1900 <= row["_date"].year <= 2099:  # the years the push accepts too (push-format.md)
            raise _Refuse("MALFORMED", "event_date must be within 1900-2099")
        ev = row["event"]
        if ev == "OFFICER_ASSIGNED":
            _need(row, "officer_id")
        elif ev == "ARCHIVE_REVIEWED":
            row["result"] = _enum(row, "result", ("PASS", "FAIL"), True)
            row["_items"] = _items(row["items"], ARCHIVE_ITEMS)
            if row["result"] == "FAIL" and not row["_items"]:
                raise _Refuse("MALFORMED", "items must list the missing or doubtful items when result is FAIL")
            if row.get("pre_review_office") is not None and not _OFFICE.match(row["pre_review_office"]):
                raise _Refuse("MALFORMED", "pre_review_office must be 6 digits")
        elif ev == "YEARS_CONFIRMED":
            row["_months"] = _int(row, "months", True)
        elif ev == "RELATIONS_MERGED":
            row["merge_status"] = _enum(row, "merge_status", ("MERGED", "NOT_NEEDED"), False) or "MERGED"
        elif ev == "CONCLUSION_ISSUED":
            row["_counted"] = _int(row, "counted_months", True)
            row["merge_status"] = _enum(row, "merge_status", MERGE_STATUSES, True)
            row["archive_conclusion"] = _enum(row, "archive_conclusion", ARCHIVE_CONCLUSIONS, True)
            _need(row, "base_data")
        elif ev == "CONFIRMED":
            row["confirmer"] = _enum(row, "confirmer", CONFIRMERS, True)
        elif ev == "OBJECTION_FILED":
            row["_items"] = _items(row["items"], OBJECTION_ITEMS)
        elif ev == "OBJECTION_RESOLVED":
            row["result"] = _enum(row, "result", ("UPHELD", "REJECTED"), True)
            if row["result"] == "UPHELD":
                row["_counted"] = _int(row, "counted_months", False)
                row["merge_status"] = _enum(row, "merge_status", MERGE_STATUSES, False)
                row["archive_conclusion"] = _enum(row, "archive_conclusion", ARCHIVE_CONCLUSIONS, False)
                if all(
                    row.get(c) is None for c in ("counted_months", "merge_status", "archive_conclusion", "base_data")
                ):
                    raise _Refuse(
                        "MALFORMED",
                        "an UPHELD objection needs the corrected data "
                        "(counted_months, merge_status, archive_conclusion or base_data)",
                    )
            else:
                _need(row, "reason", "basis", "remedy")
        elif ev == "ELECTED_MONTH":
            _need(row, "elected_month")
            m = _MONTH.match(row["elected_month"])
            if not m:
                raise _Refuse("MALFORMED", "elected_month must be YYYY-MM")
            row["_elected_mi"] = int(m.group(1)) * 12 + int(m.group(2)) - 1

    def _row_key(self, row: dict, pkey: str) -> str:
        parts = [self.settings.person_key_secret, pkey] + [
            "" if row.get(c) is None else str(row[c]) for c in COLUMNS if c != "id_no"
        ]
        return _sha256("\x1f".join(parts).encode())

    def _entry(self, row: dict) -> _Entry:
        r = self.con.execute(
            "SELECT entry_id, id_no, office_code, stage, opened_mi, closed_mi FROM ledger_entries "
            "WHERE id_no = ? ORDER BY (closed_mi IS NULL) DESC, opened_mi DESC, entry_id DESC LIMIT 1",
            [row["id_no"]],
        ).fetchone()
        if r is None or r[2] != row["office_code"]:
            # another office's person is refused exactly as an ID number without any entry, and
            # before "closed": an office learns nothing about another office's persons
            raise _Refuse("UNKNOWN_PERSON")
        e = _Entry(*r)
        if e.closed_mi is not None:
            raise _Refuse("ENTRY_CLOSED", f"the ledger entry is closed ({e.stage})")
        if row["_date"] < e.opened_on:
            raise _Refuse("DATE_OUT_OF_ORDER", f"event_date before the entry was opened ({month_text(e.opened_mi)})")
        return e

    # -- state -----------------------------------------------------------------------

    def _load_last_moves(self) -> dict[str, date]:
        """The day of the last stage change of every entry of the file's persons, read in one pass
        over ledger_transitions (a query per row scanned it: ≈ 13 ms a row at 1,000,000 persons).
        Kept current by :meth:`_move`, the only writer of transitions while the file applies.
        Feedback applies to open entries only, so a closing in an entry's history was undone by a
        reopening (sql/ledger/05_reopen.sql): neither move counts, the county's work dated before
        the wrong closing is in order."""
        if not self._ids:
            return {}
        closed = ", ".join(f"'{s}'" for s in CLOSED_STAGES)
        return dict(
            self.con.execute(
                "SELECT entry_id, max(event_date) FROM ledger_transitions "
                "WHERE id_no IN (SELECT unnest(?::VARCHAR[])) AND from_stage IS DISTINCT FROM to_stage "
                f"AND coalesce(from_stage, '') NOT IN ({closed}) AND to_stage NOT IN ({closed}) "
                "GROUP BY entry_id",
                [self._ids],
            ).fetchall()
        )

    # what _person_fact reads: one row per person, from tables a feedback file never writes
    _FACTS = {
        # the person's current push row: who confirms (rules.md §7)
        "confirmer": "SELECT id_no, insurance_type, nullif(trim(employer_uscc), ''), nullif(trim(employer_name), '') "
        "FROM person_versions WHERE id_no IN (SELECT unnest(?::VARCHAR[])) AND valid_to_seq IS NULL "
        "QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY valid_from_seq DESC) = 1",
        # the person's latest screening: the flexible window and contribution months (§1, §6)
        "screening": "SELECT id_no, insurance_type, flexible_earliest_mi, flexible_latest_mi, statutory_age_mi, "
        "month_mi, counted_months, projected_months FROM screen_results "
        "WHERE id_no IN (SELECT unnest(?::VARCHAR[])) "
        "QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY month_mi DESC) = 1",
    }

    def _person_fact(self, kind: str, id_no: str) -> tuple | None:
        """One of :attr:`_FACTS` for a person of the file (None when there is none), read for all the
        file's persons at its first use: a query per row scanned tables that grow every month."""
        if kind not in self._by_person:
            self._by_person[kind] = {
                r[0]: tuple(r[1:]) for r in self.con.execute(self._FACTS[kind], [self._ids]).fetchall()
            }
        return self._by_person[kind].get(id_no)

    def _last_move(self, e: _Entry) -> date | None:
        return self._last_moves.get(e.entry_id)

    def _check_after_last_move(self, row: dict, e: _Entry) -> None:
        last = self._last_move(e)
        if last is not None and row["_date"] < last:
            raise _Refuse("DATE_OUT_OF_ORDER", f"event_date before the entry's last stage change ({last.isoformat()})")

    def _move(self, e: _Entry, to_stage: str, d: date, detail: str, source: str) -> None:
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE _fb_move AS SELECT ?::VARCHAR AS entry_id, "
            "?::DATE AS event_date, ?::VARCHAR AS detail",
            [e.entry_id, d, detail],
        )
        if record_transitions(
            self.con, "_fb_move", source, month_of(d), self.settings, to_stage=to_stage, entry_ids=(e.entry_id,)
        ):
            last = self._last_moves.get(e.entry_id)
            self._last_moves[e.entry_id] = d if last is None else max(last, d)
        e.stage = to_stage

    def _conclusion(self, e: _Entry) -> dict | None:
        cur = self.con.execute("SELECT * FROM conclusions WHERE entry_id = ? AND superseded_on IS NULL", [e.entry_id])
        r = cur.fetchone()
        if r is None:
            return None
        return dict(zip([d[0] for d in cur.description], r))

    def _objection(self, e: _Entry) -> dict | None:
        cur = self.con.execute(
            "SELECT * FROM objections WHERE entry_id = ? ORDER BY objection_no DESC LIMIT 1", [e.entry_id]
        )
        r = cur.fetchone()
        if r is None:
            return None
        return dict(zip([d[0] for d in cur.description], r))

    def _stage_in(self, e: _Entry, allowed: tuple, event: str) -> None:
        if e.stage not in allowed:
            raise _Refuse("IMPOSSIBLE_TRANSITION", f"{event} is not possible in stage {e.stage}")

    def _record_event(self, row: dict, e: _Entry, source: str) -> None:
        self.events.add(
            e.entry_id,
            row["event"],
            row["_date"],
            row["office_code"],
            row.get("officer_id"),
            row.get("result"),
            row.get("_months"),
            ";".join(row.get("_items") or []) or None,
            row.get("_counted"),
            row.get("merge_status"),
            row.get("archive_conclusion"),
            row.get("base_data"),
            row.get("_elected_mi"),
            row.get("confirmer"),
            row.get("pre_review_office"),
            row.get("reason"),
            row.get("basis"),
            row.get("remedy"),
            row.get("note"),
            source,
        )

    # -- events ----------------------------------------------------------------------

    def _ev_officer_assigned(self, row, e, source):
        if row["officer_id"] not in self.roster.get(e.office_code, set()):
            raise _Refuse("UNKNOWN_OFFICER")
        self.con.execute("UPDATE ledger_entries SET officer_id = ? WHERE entry_id = ?", [row["officer_id"], e.entry_id])

    def _simple_stage(self, row, e, source, target: str, prev: tuple, detail: str):
        self._stage_in(e, prev + (target,), row["event"])
        self._check_after_last_move(row, e)
        if e.stage != target:
            self._move(e, target, row["_date"], detail, source)

    def _ev_archive_reviewed(self, row, e, source):
        detail = f"archive pre-review {row['result']}" + (f" ({';'.join(row['_items'])})" if row["_items"] else "")
        self._simple_stage(row, e, source, "ARCHIVE_REVIEWED", _PIPELINE_STAGES, detail)
        self.con.execute(
            "UPDATE ledger_entries SET pre_review_office = ? WHERE entry_id = ?",
            [row.get("pre_review_office") or e.office_code, e.entry_id],
        )

    def _ev_years_confirmed(self, row, e, source):
        self._simple_stage(
            row, e, source, "YEARS_CONFIRMED", ("ARCHIVE_REVIEWED",), f"contribution months confirmed: {row['_months']}"
        )

    def _ev_relations_merged(self, row, e, source):
        self._simple_stage(row, e, source, "RELATIONS_MERGED", ("YEARS_CONFIRMED",), f"relations {row['merge_status']}")

    def _ev_conclusion_issued(self, row, e, source):
        self._stage_in(e, ("RELATIONS_MERGED", "CONCLUDED", "CONFIRMED"), row["event"])
        self._check_after_last_move(row, e)
        cur = self._conclusion(e)
        obj = self._objection(e)
        if obj and obj["status"] in ("INCOMPLETE", "ACCEPTED"):
            raise _Refuse("OBJECTION_PENDING", "an objection is open: resolve it with OBJECTION_RESOLVED")
        version = 1
        if cur is not None:
            if row["_date"] < cur["issued_on"]:
                raise _Refuse("DATE_OUT_OF_ORDER", "event_date before the current conclusion")
            self.con.execute(
                "UPDATE conclusions SET superseded_on = ?, superseded_reason = 'reissued' "
                "WHERE entry_id = ? AND version = ?",
                [row["_date"], e.entry_id, cur["version"]],
            )
            version = cur["version"] + 1
        self._insert_conclusion(
            e,
            version,
            row["_date"],
            row["_counted"],
            row["merge_status"],
            row["archive_conclusion"],
            row["base_data"],
            source,
        )
        self.result_notices.append((e.entry_id, row["_date"]))
        if e.stage != "CONCLUDED":
            self._move(
                e,
                "CONCLUDED",
                row["_date"],
                f"conclusion v{version}: {row['_counted']} months, "
                f"relations {row['merge_status']}, archive {row['archive_conclusion']}",
                source,
            )

    def _insert_conclusion(self, e, version, issued_on, counted, merge, archive, base, source):
        self.con.execute(
            "INSERT INTO conclusions (entry_id, version, issued_on, counted_months, merge_status, "
            "archive_conclusion, base_data, deadline_status, source) VALUES (?, ?, ?, ?, ?, ?, ?, 'NOT_RECEIVED', ?)",
            [e.entry_id, version, issued_on, counted, merge, archive, base, source],
        )

    def _receive(self, e: _Entry, c: dict, d: date) -> None:
        deadline, msgs = objection_deadline(d, self.settings)
        for m in msgs:
            self.report.warn(m)
        self.con.execute(
            "UPDATE conclusions SET received_on = ?, objection_deadline = ?, deadline_status = ? "
            "WHERE entry_id = ? AND version = ?",
            [d, deadline, "SET" if deadline else "CALENDAR_UNKNOWN", e.entry_id, c["version"]],
        )
        # A conclusion never told (issued before RESULT went out at issue, i.e. by an older version
        # of this program) is told now; the notice machinery skips a RESULT already issued.
        told = self.con.execute(
            "SELECT count(*) FROM notice_log WHERE id_no = ? AND kind = 'RESULT' AND reference_mi = ?",
            [e.id_no, month_of(c["issued_on"])],
        ).fetchall()[0][0]
        if not told:
            self.result_notices.append((e.entry_id, c["issued_on"]))

    def _ev_result_received(self, row, e, source):
        c = self._conclusion(e)
        if c is None:
            raise _Refuse("IMPOSSIBLE_TRANSITION", f"no conclusion has been issued (stage {e.stage})")
        if c["received_on"] is not None:
            if c["received_on"] == row["_date"]:
                raise _Already()
            raise _Refuse(
                "CONFLICTING_RECORD", f"the result was recorded as received on {c['received_on'].isoformat()}"
            )
        if row["_date"] < c["issued_on"]:
            raise _Refuse("DATE_OUT_OF_ORDER", "received before the conclusion was issued")
        self._receive(e, c, row["_date"])

    def _expected_confirmer(self, e: _Entry) -> str | None:
        r = self._person_fact("confirmer", e.id_no)
        if r is None:
            return None
        return "EMPLOYER" if r[0] == 110 and (r[1] or r[2]) else "PERSON"

    def _ev_confirmed(self, row, e, source):
        c = self._conclusion(e)
        if c is None:
            raise _Refuse("IMPOSSIBLE_TRANSITION", f"no conclusion to confirm (stage {e.stage})")
        self._stage_in(e, ("CONCLUDED",), row["event"])
        obj = self._objection(e)
        if obj and obj["status"] in ("INCOMPLETE", "ACCEPTED"):
            raise _Refuse("OBJECTION_PENDING", "an objection is open: it must be resolved first")
        expected = self._expected_confirmer(e)
        if expected is not None and row["confirmer"] != expected:
            raise _Refuse("WRONG_CONFIRMER", f"confirmation must be by {expected}, not {row['confirmer']}")
        if row["_date"] < c["issued_on"] or (c["received_on"] and row["_date"] < c["received_on"]):
            raise _Refuse("DATE_OUT_OF_ORDER", "confirmed before the conclusion was issued or received")
        self._check_after_last_move(row, e)
        if c["received_on"] is None:
            # confirming shows the result was received that day
            self._receive(e, c, row["_date"])
        self.con.execute(
            "UPDATE conclusions SET confirmed_on = ?, confirmed_by = ? WHERE entry_id = ? AND version = ?",
            [row["_date"], row["confirmer"], e.entry_id, c["version"]],
        )
        self._move(e, "CONFIRMED", row["_date"], f"conclusion v{c['version']} confirmed by {row['confirmer']}", source)

    def _ev_objection_filed(self, row, e, source):
        c = self._conclusion(e)
        if c is None:
            raise _Refuse("IMPOSSIBLE_TRANSITION", f"no conclusion to object to (stage {e.stage})")
        self._stage_in(e, ("CONCLUDED", "CONFIRMED", "DECLARED"), row["event"])
        obj = self._objection(e)
        items = row["_items"]
        if obj and obj["status"] == "ACCEPTED":
            raise _Refuse("OBJECTION_PENDING", "an accepted objection is under review")
        if obj and obj["status"] == "INCOMPLETE":
            # the supplement of material to the open objection: lateness was judged at filing
            listed = (obj.get("notice_items") or obj["missing_items"]).split(";")
            new = [i for i in items if i not in listed]
            if new:
                raise _Refuse("NEW_MISSING_ITEMS")
            if row["_date"] < obj["filed_on"]:
                raise _Refuse("DATE_OUT_OF_ORDER", "supplement before the objection was filed")
            if items:
                self.con.execute(
                    "UPDATE objections SET missing_items = ? WHERE entry_id = ? AND objection_no = ?",
                    [";".join(items), e.entry_id, obj["objection_no"]],
                )
            else:
                self.con.execute(
                    "UPDATE objections SET status = 'ACCEPTED', accepted_on = ?, missing_items = NULL "
                    "WHERE entry_id = ? AND objection_no = ?",
                    [row["_date"], e.entry_id, obj["objection_no"]],
                )
            return
        if row["_date"] < c["issued_on"] or (c["received_on"] and row["_date"] < c["received_on"]):
            raise _Refuse("DATE_OUT_OF_ORDER", "objection before the conclusion was issued or received")
        deadline = c["objection_deadline"]
        if c["received_on"] is None:
            timeliness = "NOT_RECEIVED_YET"
        else:
            # (deadlines the calendar has learnt since are filled in by refresh_deadlines first)
            if deadline is None:
                timeliness = "DEADLINE_UNKNOWN"
                self.report.warn(
                    "an objection was accepted as on time because its deadline falls in a year "
                    "the working-day calendar does not know yet"
                )
            elif row["_date"] > deadline:
                raise _Refuse("LATE_OBJECTION", f"filed after the deadline {deadline.isoformat()}")
            else:
                timeliness = "ON_TIME"
        suspends = e.stage in ("CONFIRMED", "DECLARED")
        if suspends:
            self._check_after_last_move(row, e)
        no = (obj["objection_no"] + 1) if obj else 1
        status = "INCOMPLETE" if items else "ACCEPTED"
        notice = None
        if items:
            notice = (
                "您提交的退休预服务结果异议申诉材料不齐，请一次性补充以下全部材料："
                + "、".join(OBJECTION_ITEMS[i] for i in items)
                + "。"
            )
        self.con.execute(
            "INSERT INTO objections (entry_id, objection_no, conclusion_version, filed_on, deadline, timeliness, "
            "status, missing_items, missing_notice, accepted_on, source, notice_items) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                e.entry_id,
                no,
                c["version"],
                row["_date"],
                deadline,
                timeliness,
                status,
                ";".join(items) or None,
                notice,
                None if items else row["_date"],
                source,
                ";".join(items) or None,
            ],
        )
        if suspends:
            # an objection in time suspends the confirmation: the conclusion must be confirmed again
            self.con.execute(
                "UPDATE conclusions SET confirmed_on = NULL, confirmed_by = NULL WHERE entry_id = ? AND version = ?",
                [e.entry_id, c["version"]],
            )
            self._move(e, "CONCLUDED", row["_date"], f"objection {no} filed: confirmation suspended", source)

    def _ev_objection_resolved(self, row, e, source):
        obj = self._objection(e)
        if obj is None or obj["status"] != "ACCEPTED":
            raise _Refuse(
                "NO_ACCEPTED_OBJECTION",
                "no accepted objection to resolve"
                + (" (the open objection still waits for material)" if obj and obj["status"] == "INCOMPLETE" else ""),
            )
        if row["_date"] < obj["accepted_on"]:
            raise _Refuse("DATE_OUT_OF_ORDER", "resolved before the objection was accepted")
        if row["result"] == "REJECTED":
            self.con.execute(
                "UPDATE objections SET status = 'REJECTED', resolved_on = ?, reason = ?, basis = ?, remedy = ? "
                "WHERE entry_id = ? AND objection_no = ?",
                [row["_date"], row["reason"], row["basis"], row["remedy"], e.entry_id, obj["objection_no"]],
            )
            return
        c = self._conclusion(e)
        version = c["version"] + 1
        self.con.execute(
            "UPDATE conclusions SET superseded_on = ?, superseded_reason = ? WHERE entry_id = ? AND version = ?",
            [row["_date"], f"objection {obj['objection_no']} upheld", e.entry_id, c["version"]],
        )
        self._insert_conclusion(
            e,
            version,
            row["_date"],
            row["_counted"] if row.get("_counted") is not None else c["counted_months"],
            row.get("merge_status") or c["merge_status"],
            row.get("archive_conclusion") or c["archive_conclusion"],
            row.get("base_data") or c["base_data"],
            source,
        )
        self.result_notices.append((e.entry_id, row["_date"]))  # the corrected conclusion is told too
        self.con.execute(
            "UPDATE objections SET status = 'UPHELD', resolved_on = ?, reason = ?, basis = ?, new_conclusion_version = ? "
            "WHERE entry_id = ? AND objection_no = ?",
            [row["_date"], row.get("reason"), row.get("basis"), version, e.entry_id, obj["objection_no"]],
        )

    def _ev_elected_month(self, row, e, source):
        from .policy import min_contribution_months

        r = self._person_fact("screening", e.id_no)
        if r is None or r[0] != 110 or r[1] is None or r[2] is None:
            raise _Refuse("ELECTION_NOT_ALLOWED")
        mi = row["_elected_mi"]
        if mi < month_of(row["_date"]):
            raise _Refuse("ELECTED_MONTH_PAST")
        if not r[1] <= mi <= r[2]:
            raise _Refuse(
                "OUTSIDE_FLEXIBLE_WINDOW",
                f"elected month {month_text(mi)} outside the flexible window {month_text(r[1])}..{month_text(r[2])}",
            )
        statutory, screened_mi, counted, projected = r[3], r[4], r[5], r[6]
        if mi < statutory:
            # rules.md §1: "early retirement also needs the minimum contribution months … to be met
            # by then": the counted months (the current conclusion's, else the screening's), plus the
            # months until the elected month for a person still contributing (the screening
            # projects to S only when contributing: projected > counted)
            c = self._conclusion(e)
            if c is not None and c["counted_months"] is not None:  # months as of the conclusion's issue
                base, base_mi = c["counted_months"], month_of(c["issued_on"])
            else:  # months as of the screening
                base, base_mi = counted, screened_mi
            by_then = base + (max(0, mi - base_mi) if projected > counted else 0)
            need = min_contribution_months(mi // 12, 110)
            if by_then < need:
                raise _Refuse(
                    "EARLY_MONTHS_SHORT",
                    f"early retirement in {month_text(mi)} needs {need} contribution months by then; "
                    f"{by_then} expected",
                )
        self.con.execute("UPDATE ledger_entries SET elected_retirement_mi = ? WHERE entry_id = ?", [mi, e.entry_id])

    def _ev_retired(self, row, e, source):
        self._check_after_last_move(row, e)
        self._move(e, "RETIRED", row["_date"], "retired (county feedback)", source)


def _refuse_file(con, report: FeedbackReport, path: Path, sha: str, code: str, reason: str) -> None:
    con.execute(
        "INSERT INTO feedback_files VALUES (?, ?, 'REFUSED', 0, 0, 0, 0, ?, ?, now())", [sha, path.name, code, reason]
    )
    report.files.append(FileOutcome(shown_file_name(path.name), sha, "REFUSED", reason=f"{code}: {reason}"))
    log.info("feedback file %s refused: %s: %s", shown_file_name(path.name), code, reason)  # the caller reports it


def _file_office(records, office: str | None, settings: Settings) -> str | None:
    """The office a file is bound to (docs/feedback-format.md "Whose file"): ``office`` when the
    sender is known (``--office``, the inbox folder); else the one office its rows name.  A file
    whose rows name several offices, without ``--office``, is refused whole (``MIXED_OFFICES``)."""
    if office is not None:
        return office
    from .validate import office_codes

    known = frozenset(office_codes(settings))
    named = {r["office_code"] for _, r in records if isinstance(r, dict) and r.get("office_code") in known}
    if len(named) > 1:
        raise _Refuse(
            "MIXED_OFFICES",
            (
                f"rows of {len(named)} offices: a feedback file is one office's; apply each office's file "
                f"with --office <office>, or put it in that office's inbox folder"
            ),
        )
    return next(iter(named), None)


def check_office(office: str, settings: Settings) -> str:
    """``office`` if it is one of the responsible offices (rules.md §3), else RetirePrepError."""
    from .validate import office_codes

    if not (isinstance(office, str) and _OFFICE.match(office) and office in office_codes(settings)):
        raise RetirePrepError(f"--office {office!r} is not one of the responsible offices (rules.md §3)")
    return office


def _file_key(data: bytes, office: str | None) -> str:
    """What identifies an applied file (``feedback_files.file_sha256``): its bytes and the office it
    is bound to.  The same bytes sent for another office are another file: a file first applied
    under the wrong office (its rows refused WRONG_OFFICE) is applied when its own office sends it,
    never "already applied"."""
    return _sha256(data if office is None else f"office {office}\n".encode() + data)


def apply_file(con, path: Path, settings: Settings, report: FeedbackReport, office: str | None = None) -> FileOutcome:
    """Apply one feedback file in one transaction (the schema must exist), bound to ``office``
    (the sender, when known: see :func:`_file_office`)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        sha = _sha256(path.name.encode())
        _refuse_file(con, report, path, sha, "UNREADABLE", exc.__class__.__name__)
        return report.files[-1]
    try:
        if feedback_xlsx.is_workbook(path, data[:8]):  # the 反馈 sheet of a worklist.xlsx (issue 16)
            _, records = feedback_xlsx.read_workbook(path, data)
        else:
            _, records = _read_file(path, data)
            if _is_gb18030(data):
                report.warn(
                    f'{shown_file_name(path.name)}: read as GB18030/GBK (a plain "CSV" of Excel or WPS), not UTF-8'
                )
        bound = _file_office(records, office, settings)
    except _Refuse as r:
        _refuse_file(con, report, path, _file_key(data, office), r.code, r.reason)
        return report.files[-1]
    sha = _file_key(data, bound)
    done = con.execute(
        "SELECT rows, accepted, refused, already_applied FROM feedback_files WHERE file_sha256 = ? AND status = 'APPLIED' "
        "ORDER BY processed_at LIMIT 1",
        [sha],
    ).fetchone()
    if done:
        out = FileOutcome(shown_file_name(path.name), sha, "ALREADY_APPLIED", *done, office=bound)
        report.files.append(out)
        return out

    out = FileOutcome(shown_file_name(path.name), sha, "APPLIED", rows=len(records), office=bound)
    con.execute("BEGIN TRANSACTION")
    try:
        run = _FileRun(con, settings, report, path.name, sha, records, office=bound)
        for row_no, row in records:
            status, code, reason, info = run.row(row_no, row)
            run.outcomes.add(
                sha,
                path.name,
                row_no,
                info["row_key"],
                info["person_key"],
                info["entry_id"],
                info["office_code"],
                info["event"],
                info["event_date"],
                status,
                code,
                reason,
            )
            if status == "REFUSED":
                out.refused += 1
                out.reasons[code] = out.reasons.get(code, 0) + 1
                log.info("%s row %d refused: %s: %s", out.file, row_no, code, reason)
            else:
                out.accepted += 1
                out.already_applied += status == "ALREADY_APPLIED"
        run.insert_rows()
        report.notices += _issue_result_notices(con, run.result_notices, settings)
        con.execute(
            "INSERT INTO feedback_files VALUES (?, ?, 'APPLIED', ?, ?, ?, ?, NULL, NULL, now())",
            [sha, path.name, out.rows, out.accepted, out.refused, out.already_applied],
        )
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise
    assert out.accepted + out.refused == out.rows
    report.files.append(out)
    return out


@refreshes_analysts
def apply_feedback_files(
    files: list[Path], warehouse: Path, settings: Settings | None = None, *, office: str | None = None
) -> FeedbackReport:
    """``retire-prep feedback [--office O] FILE...``: apply county feedback files in the order given,
    each bound to ``office`` when given (else to the one office its rows name, see :func:`_file_office`).

    Each file is one transaction.  Rows are refused one by one with a reason code
    (``feedback_rows``); a file that is not the documented format is refused whole
    (``feedback_files`` status REFUSED), the other files are still applied, and then
    :class:`FeedbackFileRefused` is raised (its ``report`` holds what was done).
    """
    settings = settings or load_settings()
    if office is not None:
        check_office(office, settings)
    report = FeedbackReport()
    with connect(warehouse, settings=settings) as con:
        ensure_schema(con, settings)
        con.execute("BEGIN TRANSACTION")
        try:
            refresh_deadlines(con, settings)
            con.execute("COMMIT")
        except BaseException:
            rollback(con)
            raise
        for f in files:
            apply_file(con, Path(f), settings, report, office)
    refused = report.refused_files
    if refused:
        raise FeedbackFileRefused(
            f"{len(refused)} feedback file(s) refused whole, first {refused[0].file}: {refused[0].reason}", report
        )
    return report


# ------------------------------------------------------------------------------------ demo files

DEMO_HEADER = COLUMNS


def demo_feedback(
    warehouse: Path,
    out_dir: Path,
    month: str = "2026-11",
    *,
    declare_month: str | None = None,
    settings: Settings | None = None,
) -> list[Path]:
    """Write deterministic feedback files for the shipped sample (``make demo``).

    Given the warehouse after the monthly run of ``month``, picks persons (lowest
    person_key among the suitable ones) so that the declaration screening of
    ``declare_month`` (default: the month after) shows them:

    * ``full``: the whole path → DECLARATION (elected month recorded when the statutory
      month does not fall 1–3 months after the declare month);
    * ``upheld``: an objection filed incomplete, completed, upheld (counted months
      corrected), the new result received and confirmed → DECLARATION;
    * ``rejected``: an objection rejected with reason, basis and remedy, then confirmed;
    * ``short``: counted months below the minimum → CONSULTATION;
    * ``follow``: only archive-reviewed → FOLLOW_UP;
    * a few rows that are refused on purpose (wrong confirmer, elected month outside the window).

    One file per office (``feedback-<office>-<month>.csv``).  Returns the paths written.
    """
    from .policy import parse_month

    settings = settings or load_settings()
    p_mi = parse_month(month)
    d_mi = parse_month(declare_month) if declare_month else p_mi + 1
    out_dir = Path(out_dir)
    with connect(warehouse, read_only=True, settings=settings) as con:
        cands = con.execute(render_sql("feedback/demo_candidates.sql", month_mi=p_mi, declare_mi=d_mi)).fetchall()
        cols = [
            "entry_id",
            "id_no",
            "office_code",
            "insurance_type",
            "statutory_age_mi",
            "flex_lo",
            "flex_hi",
            "counted_months",
            "min_at_r",
            "r_mi",
            "elect",
            "expected_confirmer",
            "base_day",
            "key",
        ]
        people = [dict(zip(cols, c)) for c in cands]
    roles = {}
    used = set()

    def pick(role, pred):
        for p in people:
            if p["entry_id"] not in used and pred(p):
                used.add(p["entry_id"])
                roles[role] = p
                return

    pick("short", lambda p: p["counted_months"] < p["min_at_r"])
    pick("full", lambda p: p["counted_months"] >= p["min_at_r"] + 12)
    pick("upheld", lambda p: p["counted_months"] >= p["min_at_r"])
    pick("rejected", lambda p: p["counted_months"] >= p["min_at_r"])
    short_counted = None
    if "short" not in roles:
        # no one in the sample is short: the archive review of one person does not recognise
        # part of the deemed years (the conclusion's months, not the push's, decide)
        pick("short", lambda p: True)
        if "short" in roles:
            short_counted = max(0, roles["short"]["min_at_r"] - 6)
    pick("follow", lambda p: True)

    rows: list[dict] = []

    def add(p, event, day: date, **kw):
        r = {c: "" for c in COLUMNS}
        r.update(office_code=p["office_code"], event=event, id_no=p["id_no"], event_date=day.isoformat())
        r.update({k: str(v) for k, v in kw.items()})
        rows.append(r)

    def path_to_conclusion(p, counted, note=""):
        b = p["base_day"]
        add(p, "ARCHIVE_REVIEWED", b + timedelta(days=1), result="PASS", note=note)
        add(p, "YEARS_CONFIRMED", b + timedelta(days=2), months=counted)
        add(p, "RELATIONS_MERGED", b + timedelta(days=3), merge_status="NOT_NEEDED")
        add(
            p,
            "CONCLUSION_ISSUED",
            b + timedelta(days=4),
            counted_months=counted,
            merge_status="NOT_NEEDED",
            archive_conclusion="PASS",
            base_data="demo: 待遇核算预备数据已核对",
        )
        elect(p)

    def elect(p):
        if p["elect"]:
            add(p, "ELECTED_MONTH", p["base_day"] + timedelta(days=4), elected_month=month_text(p["r_mi"]))

    if "full" in roles:
        p = roles["full"]
        path_to_conclusion(p, p["counted_months"], note="demo: whole path")
        b = p["base_day"]
        add(p, "RESULT_RECEIVED", b + timedelta(days=5))
        wrong = "PERSON" if p["expected_confirmer"] == "EMPLOYER" else "EMPLOYER"
        add(p, "CONFIRMED", b + timedelta(days=6), confirmer=wrong, note="demo: refused, wrong confirmer")
        add(p, "CONFIRMED", b + timedelta(days=6), confirmer=p["expected_confirmer"])
        if p["flex_hi"] is not None:
            add(
                p,
                "ELECTED_MONTH",
                b + timedelta(days=6),
                elected_month=month_text(p["flex_hi"] + 1),
                note="demo: refused, outside the flexible window",
            )
    if "upheld" in roles:
        p = roles["upheld"]
        short = max(0, p["counted_months"] - 12)
        path_to_conclusion(p, short, note="demo: objection upheld")
        b = p["base_day"]
        add(p, "RESULT_RECEIVED", b + timedelta(days=5))
        add(p, "OBJECTION_FILED", b + timedelta(days=7), items="EVIDENCE;WORK_HISTORY")
        add(p, "OBJECTION_FILED", b + timedelta(days=9))
        add(
            p,
            "OBJECTION_RESOLVED",
            b + timedelta(days=11),
            result="UPHELD",
            counted_months=p["counted_months"],
            reason="补充工作经历材料核实",
            basis="国发〔1995〕6号",
        )
        add(p, "RESULT_RECEIVED", b + timedelta(days=12), note="demo: corrected result")
        add(p, "CONFIRMED", b + timedelta(days=13), confirmer=p["expected_confirmer"])
    if "rejected" in roles:
        p = roles["rejected"]
        path_to_conclusion(p, p["counted_months"], note="demo: objection rejected")
        b = p["base_day"]
        add(p, "RESULT_RECEIVED", b + timedelta(days=5))
        add(p, "OBJECTION_FILED", b + timedelta(days=8))
        add(
            p,
            "OBJECTION_RESOLVED",
            b + timedelta(days=10),
            result="REJECTED",
            reason="所附材料不能证明视同缴费年限",
            basis="国发〔1995〕6号",
            remedy="可依法申请行政复议或提起行政诉讼",
        )
        add(p, "CONFIRMED", b + timedelta(days=12), confirmer=p["expected_confirmer"])
    if "short" in roles:
        p = roles["short"]
        path_to_conclusion(
            p, p["counted_months"] if short_counted is None else short_counted, note="demo: counted months short"
        )
        b = p["base_day"]
        add(p, "RESULT_RECEIVED", b + timedelta(days=5))
        add(p, "CONFIRMED", b + timedelta(days=6), confirmer=p["expected_confirmer"])
    if "follow" in roles:
        p = roles["follow"]
        add(
            p,
            "ARCHIVE_REVIEWED",
            p["base_day"] + timedelta(days=1),
            result="FAIL",
            items="MILITARY_SERVICE",
            note="demo: follow-up",
        )
        elect(p)

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for office in sorted({r["office_code"] for r in rows}):
        path = out_dir / f"feedback-{office}-{month}.csv"
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
        w.writeheader()
        for r in rows:
            if r["office_code"] == office:
                w.writerow(r)
        path.write_bytes(buf.getvalue().encode("utf-8"))
        written.append(path)
    return written
