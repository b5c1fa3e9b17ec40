"""County feedback (``retire-prep feedback FILE...``): rules.md §7, seed notice 二(三)–(五) and 五.

The county offices report what happened to their persons — archive pre-review,
contribution years, relations merged, the comprehensive conclusion, receipt of the
result, confirmation, objections and their review, elected retirement months,
retirement — as flat CSV files (or the 反馈 sheet of their worklist.xlsx), one event per
row (``docs/feedback-format.md``).

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
as the calendar knows the year (on every later ``feedback``, ``declare`` and monthly run).

Refusal reasons and log lines never carry an ID number, a name or a phone: they name
the file, the row, the event and the reason code.

The modules, in the order a file goes through them:

* :mod:`.format` — the columns, events, item and reason codes of the format;
* :mod:`.reading` (CSV) and :mod:`.xlsx` (the 反馈 sheet) — a file into records, or refused whole;
* :mod:`.checks` — one row's checks on its own, the event's columns in a table (``CHECKS``);
* :mod:`.dates` — the days and months officers write (``2026/12/3``, ``2026年12月3日``), read once;
* :mod:`.run` — a file's rows decided in order, the state they share;
* :mod:`.events` and :mod:`.objections` — one handler per event, in a table (``HANDLERS``);
* :mod:`.buffers` — the rows of feedback_rows/feedback_events, typed by the schema, inserted at once;
* :mod:`.deadlines` — objection deadlines and the RESULT notices;
* :mod:`.apply` — the transaction per file, ``apply_feedback_files``;
* :mod:`.demo` — the sample's feedback files.

Its SQL is in ``sql/feedback/`` (:mod:`.queries`).
"""

from .apply import _file_key, _file_office, apply_file, apply_feedback_files, check_office, ensure_schema
from .checks import CHECKS
from .deadlines import notice_month, objection_deadline, refresh_deadlines, refresh_deadlines_unless_unreadable
from .demo import DEMO_HEADER, demo_feedback
from .events import HANDLERS
from .queries import STEPS
from .format import (
    ARCHIVE_CONCLUSIONS,
    ARCHIVE_ITEMS,
    COLUMNS,
    CONFIRMERS,
    CONTROL_CHARACTERS,
    EVENTS,
    MAX_CELL,
    MERGE_STATUSES,
    OBJECTION_ITEMS,
    REASONS,
    REQUIRED_COLUMNS,
    _Already,
    _norm,
    _Refuse,
)
from .report import FeedbackFileRefused, FeedbackReport, FileOutcome
from .run import FileRun

__all__ = [
    "STEPS",
    "ARCHIVE_CONCLUSIONS",
    "ARCHIVE_ITEMS",
    "CHECKS",
    "COLUMNS",
    "CONFIRMERS",
    "CONTROL_CHARACTERS",
    "DEMO_HEADER",
    "EVENTS",
    "HANDLERS",
    "MAX_CELL",
    "MERGE_STATUSES",
    "OBJECTION_ITEMS",
    "REASONS",
    "REQUIRED_COLUMNS",
    "FeedbackFileRefused",
    "FeedbackReport",
    "FileOutcome",
    "FileRun",
    "apply_feedback_files",
    "apply_file",
    "check_office",
    "demo_feedback",
    "ensure_schema",
    "notice_month",
    "objection_deadline",
    "refresh_deadlines",
    "refresh_deadlines_unless_unreadable",
    "_Already",
    "_Refuse",
    "_file_key",
    "_file_office",
    "_norm",
]
