"""The push interface contract's column names (push-format.md, schema 1.0).

One place for the generator (``sample``) and the ingest to agree on.
"""

import re
import unicodedata

# A header name worth echoing in a refusal: ASCII, starting with a letter or '_'. A file saved
# without its header has a data row there (an ID number, a phone, a name, an office code), which
# no message may carry.
_COLUMN_NAME_LIKE = re.compile(r"[A-Za-z_][A-Za-z0-9_ '.-]{0,39}", re.ASCII)

PERSON_COLUMNS = (
    "op",
    "id_no",
    "name",
    "gender",
    "birth_date",
    "insurance_type",
    "person_type",
    "hukou_region",
    "insured_region",
    "benefit_region_ministry",
    "employer_uscc",
    "employer_name",
    "phone",
    "contribution_status",
    "retired",
    "survival_status",
    "actual_contribution_months",
    "deemed_months",
    "deemed_status",
    "deemed_region",
    "arrears_months",
)
SEGMENT_COLUMNS = ("id_no", "region_code", "start_month", "end_month", "relation_status")
APPLICATION_COLUMNS = ("id_no", "applicant_type", "applied_on", "channel", "county_code")


# What may be an ID number or a mobile number in free text (a file name, a sheet name, a message):
# rules.md §4 counts +86/0086, spaces and hyphens and full-width digits as forms of a phone, and an
# ID number is written in groups ("640104 19660815 003X").  Found on the NFKC form of each character
# (full-width ６, Ｘ, the ideographic space); the text shown keeps its other characters.
_MOBILE = re.compile(r"(?:86|0086)?1[3-9][0-9]{9}")
_ID = re.compile(r"[0-9]{17}[0-9X]|[0-9]{15}")
_LONG_RUN = 11  # digits written together: as many as a mobile number's, or more, are masked whole
_MAX_DIGITS = 22  # the longest a group of runs worth checking can be (0086 + a mobile, an ID number)
_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")
# brackets around a group ("(139)1234-5678", "+86 (139) …", "【139】…") separate it as a space does
# (privacy probe: such a mobile number was shown whole); NFKC makes （）［］ the ASCII ones
_BRACKETS = frozenset("()[]{}【】〔〕〖〗")


def _kind(ch: str) -> tuple[str, str]:
    """One character as the search sees it: (``d`` digit(s) | ``x`` an ID's check X | ``s`` separator
    | ``o`` other, its NFKC digits)."""
    n = unicodedata.normalize("NFKC", ch)
    if n.isdecimal():  # ASCII, full-width, other scripts' digits (and ㉑ → 21)
        return "d", "".join(str(unicodedata.decimal(c)) for c in n)
    if n in ("X", "x"):
        return "x", "X"
    if n.isspace() or n in ".-_" or n in _BRACKETS or ch in _DASHES or unicodedata.category(ch) == "Cf":
        return "s", ""
    return "o", ""


def _groups(text: str) -> list[list[tuple[int, int, str]]]:
    """The digit groups of ``text`` — (start, end, digits), an ID's check X ending its group — each
    list one run of groups separated by up to 3 separators (a space, hyphen, dot …)."""
    kinds = [_kind(ch) for ch in text]
    runs: list[list[tuple[int, int, str]]] = []
    i, n = 0, len(text)
    while i < n:
        if kinds[i][0] != "d":
            i += 1
            continue
        run: list[tuple[int, int, str]] = []
        while True:
            start, digits = i, ""
            while i < n and kinds[i][0] == "d":
                digits += kinds[i][1]
                i += 1
            if i < n and kinds[i][0] == "x" and not (i + 1 < n and kinds[i + 1][0] == "d"):
                digits += "X"
                i += 1
            run.append((start, i, digits))
            j = i
            while j < n and j - i < 3 and kinds[j][0] == "s":
                j += 1
            if digits.endswith("X") or j == i or j >= n or kinds[j][0] != "d":
                break
            i = j
        runs.append(run)
    return runs


def personal_spans(text: str) -> list[tuple[int, int]]:
    """Where ``text`` holds digits that may be an ID number (15 or 18, its check X) or a mobile
    number (11, 13 or 15 with 86/0086 before), written together or in groups separated by spaces,
    hyphens, dots or brackets, ASCII or full-width: (start, end) spans, in order, not overlapping.  Shorter
    groups that carry meaning (an office code 640104, a month 2026-12, a sequence (2)) are not
    spans unless together they make such a number."""
    text = str(text)
    spans: list[tuple[int, int]] = []
    for run in _groups(text):
        for a, (start, end, digits) in enumerate(run):
            if len(digits.rstrip("X")) >= _LONG_RUN:
                spans.append((start, end))
            joined = digits
            for b in range(a + 1, len(run)):
                if "X" in joined or len(joined) + len(run[b][2]) > _MAX_DIGITS:
                    break
                joined += run[b][2]
                if _MOBILE.fullmatch(joined) or _ID.fullmatch(joined):
                    spans.append((start, run[b][1]))
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def shown_text(text: str) -> str:
    """``text`` with the digits (and an ID's check X) of what may be an ID number or a mobile number
    masked with ``*``, one per character; the separators and everything else kept, so that the
    text stays recognisable (:func:`personal_spans`)."""
    text = str(text)
    out = list(text)
    for s, e in personal_spans(text):
        for i in range(s, e):
            if _kind(text[i])[0] in "dx":
                out[i] = "*"
    return "".join(out)


def shown_file_name(name: str) -> str:
    """A file's name as messages, reports, receipts and logs show it: digits of what may be an ID
    number or a mobile number masked (:func:`shown_text`) — a clerk may name a one-person file
    after the person; the name stays recognisable by its other characters (issue 14 review)."""
    return shown_text(str(name))


_PLAIN_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ .-]{0,63}", re.ASCII)


def plain_file_name(name: str) -> bool:
    """A name a refusal may show as it is: ASCII letters, digits, ``_ .-`` and nothing that may be an
    ID or mobile number.  Any other name (a person's name, digits in brackets …) is described, not shown."""
    return bool(_PLAIN_FILE_NAME.fullmatch(str(name))) and not personal_spans(name)


def shown_column_names(names) -> list[str]:
    """``names`` as a refusal may show them: a name that does not look like a column name (so
    possibly a data value, or digits that may be an ID or mobile number) becomes ``<not a column name>``."""
    return [n if _COLUMN_NAME_LIKE.fullmatch(n) and not personal_spans(n) else "<not a column name>" for n in names]


def decode_csv_text(data: bytes, *, gb18030: bool = True) -> tuple[str | None, int]:
    """The text of a CSV file written by hand at an office or the division: UTF-8 (with or without
    BOM), else GB18030 — what Excel's and WPS's plain "CSV" saves on Simplified-Chinese Windows (code
    page 936, GBK, a subset of GB18030; docs/decisions.md, issue 16).  Returns ``(text, 0)``, or
    ``(None, line)`` with the line of the first byte that is not UTF-8 when neither reads it (or
    ``gb18030`` is False: a caller that knows the bytes are UTF-16)."""
    try:
        return data.decode("utf-8-sig"), 0
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
    if gb18030:
        try:
            return data.decode("gb18030"), 0
        except UnicodeDecodeError:
            pass
    return None, line
