"""The feedback file format (docs/feedback-format.md): its columns, events, item codes and reason codes.

What a county office may write in a feedback file, and the codes a row or a file is refused with.
Both readers (:mod:`.reading` for CSV, :mod:`.xlsx` for the 反馈 sheet) and the row checks
(:mod:`.checks`) take their vocabulary from here.
"""

from __future__ import annotations

import re
import unicodedata

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
#: free text: stored as typed (trimmed; a Chinese note keeps its full-width ，；（）), every other cell
#: NFKC-normalised (full-width digits, letters and ；, the label separator, made plain)
FREE_TEXT = ("base_data", "reason", "basis", "remedy", "note")

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

OFFICE = re.compile(r"^[0-9]{6}$")

# Characters no cell may hold (docs/decisions.md, issue 14): C0 and C1 controls — NUL, escape,
# backspace … (tab, CR and LF excepted: whitespace; a line break inside a cell is refused on its
# own, see reading.cells_problem) — and the bidirectional overrides that make a text read backwards
# on screen.  Such a row is refused, never stored or cleaned up (a cleaned-up row would be applied
# with a value nobody sent).  The same set as the push's and the applications' CONTROL_CHARACTER.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: The longest cell a feedback file may hold (characters): a longer one refuses its row.
MAX_CELL = 2000


class _Refuse(Exception):
    """A row (or, raised while reading, a whole file) refused with a reason code.

    ``reason``: the English text kept in the warehouse and the division's log.  ``text``: the key
    of the Chinese text the county's receipt shows (``data/labels.csv``, domain ``refusal_text``:
    ``<code>`` or ``<code>.<detail>``, default the code), ``params`` what it names (a column, an
    event, a stage, a date: never a cell's value); see :func:`.receipts.reason_zh`."""

    def __init__(self, code: str, reason: str | None = None, *, text: str | None = None, **params):
        super().__init__(code)
        self.code = code
        self.reason = reason or REASONS[code]
        self.text = text or code
        self.params = params

    @property
    def reason_zh(self) -> str:
        from .receipts import reason_zh

        return reason_zh(self.code, self.text, self.params)


class _Why(str):
    """Why a record is no row (refused ``MALFORMED``): its English text, as a ``str``, carrying the
    key and parameters of its Chinese text (``text``, ``params``: see :class:`_Refuse`)."""

    text: str
    params: dict

    def __new__(cls, reason: str, text: str, **params):
        why = super().__new__(cls, reason)
        why.text, why.params = text, params
        return why


#: The code an ``ALREADY_APPLIED`` row may carry (docs/feedback-format.md "Applying twice"): the row is
#: identical to a row applied before and was taken as sent again, although it would change the entry's
#: pre-service now (e.g. a confirmation again after a rejected objection): a genuine repeat needs a note.
NOTES = {
    "SENT_AGAIN": "identical to a row applied before: taken as sent again, not applied (a repeated event needs a note)",
}


class _Already(Exception):
    """The row restates what is recorded: accepted, nothing changes.

    ``code`` (optional, one of :data:`NOTES`): what the office should know about it, with its English
    ``reason`` and the key and parameters of its Chinese text, as for :class:`_Refuse`.  ``repeated``:
    for a row identical to a row applied before, that row's place in the order applied."""

    def __init__(
        self,
        code: str | None = None,
        reason: str | None = None,
        *,
        text: str | None = None,
        repeated: tuple | None = None,
        **params,
    ):
        super().__init__(code)
        self.code = code
        self.repeated = repeated
        self.reason = reason or (NOTES[code] if code else None)
        self.text = text or code
        self.params = params

    @property
    def reason_zh(self) -> str | None:
        from .receipts import reason_zh

        return reason_zh(self.code, self.text, self.params) if self.code else None


def _norm(cell: str | None) -> str | None:
    """A cell as applied: NFKC (full-width digits and letters made plain), trimmed, None when empty."""
    if cell is None:
        return None
    s = unicodedata.normalize("NFKC", cell).strip()
    return s or None


def _cell(cell: str | None, column: str | None = None) -> str | None:
    """A data cell as applied (both readers): :func:`_norm` — free text (:data:`FREE_TEXT`) trimmed
    only, kept as typed — and one leading apostrophe dropped: the spreadsheets' mark of a text cell,
    never data (Excel never stores it; LibreOffice Calc keeps it as the cell's first character in a
    cell formatted as text, where an officer used to Excel types ``'640104…`` before an ID number, and
    saves it so into .xlsx and CSV alike)."""
    norm = _trim if column in FREE_TEXT else _norm
    s = norm(cell)
    return norm(s[1:]) if s and s[0] in "'\uff07" else s


def _trim(cell: str | None) -> str | None:
    if cell is None:
        return None
    return cell.strip() or None


def same_text(value: str | None) -> str | None:
    """Free text as compared (a row sent again, a conclusion restated): NFKC, as every cell was stored
    before free text was kept as typed, so that a row applied then is still the same row."""
    return _norm(value)
