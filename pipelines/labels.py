"""One table of labels (``data/labels.csv``): every code an officer reads or types, in Chinese.

The worklist workbook (``pipelines.xlsx``), its 反馈 sheet's drop-down lists and 填报说明,
the feedback parser (a county may type a code or its Chinese label, an English or a Chinese
column name), the report and ``retire-prep explain`` all read this one table, so a label
cannot say one thing in the workbook and be refused by the parser.

Columns: ``domain`` (event, result, merge_status, archive_conclusion, confirmer, item, stage,
flag, channel, scope_rule, entered_by, objection_status, insurance_type, gender, person_type,
overdue, notice_kind, place_rule, close_reason, offline_reason, refusal, refusal_text,
feedback_column, feedback_info), ``code``,
``label_zh``, ``label_en``, ``help_zh`` (what an event needs, what a feedback column takes).
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache

from . import DATA_DIR


@lru_cache(maxsize=1)
def table() -> dict[str, dict[str, dict[str, str]]]:
    """domain → code → {"zh", "en", "help"}, in the file's order."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    with open(DATA_DIR / "labels.csv", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            out.setdefault(r["domain"], {})[r["code"]] = {
                "zh": r["label_zh"],
                "en": r["label_en"],
                "help": r["help_zh"] or "",
            }
    return out


def codes(domain: str) -> list[str]:
    return list(table()[domain])


def label(domain: str, code, lang: str = "zh") -> str:
    """The label of ``code`` in ``domain`` (``lang`` zh or en); an unknown code is shown as it is."""
    if code is None:
        return ""
    entry = table().get(domain, {}).get(str(code))
    return entry[lang] if entry else str(code)


def labels_joined(domain: str, codes_text: str | None, sep: str = ";", lang: str = "zh") -> str:
    """``A;B`` → ``label(A);label(B)`` (flags)."""
    if not codes_text:
        return ""
    return sep.join(label(domain, c, lang) for c in codes_text.split(";") if c)


# ------------------------------------------------------------------------- feedback (parser side)

#: feedback column → the domain of its codes (a county may type the code or its label)
FEEDBACK_VALUE_DOMAINS = {
    "event": "event",
    "result": "result",
    "merge_status": "merge_status",
    "archive_conclusion": "archive_conclusion",
    "confirmer": "confirmer",
}


@lru_cache(maxsize=1)
def _reverse() -> dict[str, dict[str, str]]:
    """domain → label (NFKC, as the parser sees cells) → code."""
    import unicodedata

    out: dict[str, dict[str, str]] = {}
    for domain, entries in table().items():
        out[domain] = {unicodedata.normalize("NFKC", e["zh"]).strip(): code for code, e in entries.items()}
    return out


def code_of(domain: str, value: str | None) -> str | None:
    """A cell of a code column → the code: a Chinese label becomes its code, anything else is
    returned as it is (the parser then checks it against the codes and refuses it if unknown)."""
    if value is None:
        return None
    return _reverse().get(domain, {}).get(value, value)


def decode_feedback_row(row: dict) -> dict:
    """Chinese labels of a feedback row (cells already NFKC-normalised and trimmed) → codes, in place.
    ``items`` may list labels separated by ``;`` (a full-width ``；`` is ``;`` after NFKC) or ``、``."""
    for col, domain in FEEDBACK_VALUE_DOMAINS.items():
        if row.get(col) is not None:
            row[col] = code_of(domain, row[col])
    if row.get("items") is not None:
        parts = re.split(r"[;、]", row["items"])
        row["items"] = ";".join(code_of("item", p.strip()) or "" for p in parts)
    return row


@lru_cache(maxsize=1)
def _columns_by_header() -> dict[str, str]:
    import unicodedata

    out = {}
    for domain in ("feedback_column", "feedback_info"):
        for code, e in table().get(domain, {}).items():
            out[code.lower()] = code
            out[unicodedata.normalize("NFKC", e["zh"]).strip().lower()] = code
    return out


def feedback_column(header: str) -> str:
    """A feedback file's column name, English (any case) or its Chinese header → the column
    name of docs/feedback-format.md; anything else is returned lower-cased (then refused)."""
    h = (header or "").strip().lower()
    return _columns_by_header().get(h, h)


def feedback_info_columns() -> set[str]:
    """Columns the 反馈 sheet prefills for the officer to read (name, stage, due date): not data."""
    return set(table().get("feedback_info", {}))


# ------------------------------------------------------------------------- flag evidence in Chinese

# The English evidence of sql/screen/30_flags.sql, rewritten in Chinese.  Regular expressions
# that Python's ``re`` and DuckDB's RE2 read alike, applied in order everywhere (``\1`` backrefs).
_EVIDENCE_RULES: tuple[tuple[str, str], ...] = (
    (
        r"projected (\d+) months \(counted (\d+), not contributing\) < minimum (\d+) for (\d+)",
        r"预计缴费\1个月（已计\2个月，未在缴费）少于\4年最低缴费\3个月",
    ),
    (
        r"projected (\d+) months \(counted (\d+) \+ (\d+) to come\) < minimum (\d+) for (\d+)",
        r"预计缴费\1个月（已计\2个月，到龄前还将缴费\3个月）少于\5年最低缴费\4个月",
    ),
    (r"deemed_status=2 \(pending\), deemed_months=empty", r"视同缴费年限待确认，视同缴费月数未填"),
    (r"deemed_status=2 \(pending\), deemed_months=(\d+)", r"视同缴费年限待确认，视同缴费\1个月"),
    (r"segments not merged: ", r"未归集的缴费段："),
    (r" relation_status=(\d)", r"（归集状态\1）"),
    (r"(\d{4}-\d{2})\.\.(\d{4}-\d{2})", r"\1至\2"),
    (r" overlaps ", r"与"),
    (r" \((\d+) months\)", r"（重叠\1个月）"),
    (r"hukou_region missing", r"户籍地缺失"),
    (r"phone missing", r"手机号码缺失"),
    (r"phone is not a valid mobile", r"手机号码不是有效的手机号"),
    (
        r"person_type missing \(110 woman; original age taken at 50\)",
        r"人员身份缺失（企业职工女性，原法定退休年龄按50岁计）",
    ),
    (r"employer missing \(neither employer_uscc nor employer_name\)", r"参保单位缺失（无统一社会信用代码和单位名称）"),
    (r"deemed_region missing for (\d+) deemed months", r"视同缴费地缺失（视同缴费\1个月）"),
    (
        r"birth_date (\d{4}-\d{2}-\d{2}) vs ID number (\d{4}-\d{2}-\d{2})",
        r"档案出生日期\1与身份证号码中的出生日期\2不一致",
    ),
    (r"gender=(\d) vs ID number gender digit (\d)", r"性别代码\1与身份证号码性别位\2不一致"),
    (r"arrears_months=(\d+)", r"欠费\1个月"),
    (r"computed (\d+) \(([A-Z0-9_]+)\) vs ministry (\d+)", r"计算待遇领取地\1（\2）与部级认定\3不一致"),
    (
        r"statutory age month (\d{4}-\d{2}) is before (\d{4}-\d{2}), retired=0",
        r"法定退休年龄到龄年月\1早于\2，尚未退休",
    ),
    (r"; ", r"；"),
)


@lru_cache(maxsize=1)
def evidence_rules() -> tuple[tuple[str, str], ...]:
    """The rules above, then flag codes (``CODE: `` at the start or after `` | ``) and the
    benefit-place rule codes → their labels, from the table."""
    rules = list(_EVIDENCE_RULES)
    for code, e in table()["flag"].items():
        rules.append((rf"(^| \| ){code}: ", rf"\1{e['zh']}："))
    for code in table()["place_rule"]:
        rules.append((rf"（{code}）", "（" + label("place_rule", code) + "）"))
    rules.append((r" \| ", "。"))
    return tuple(rules)


def evidence_zh(text: str | None) -> str:
    """English flag evidence (one flag's, or the worklist's ``CODE: evidence | …``) in Chinese."""
    if not text:
        return text or ""
    for pattern, repl in evidence_rules():
        text = re.sub(pattern, repl, text)
    return text


def evidence_zh_sql(expr: str) -> str:
    """:func:`evidence_zh` as a DuckDB expression over ``expr`` (set-based, no Python per row)."""
    from .steps import sql_str  # the one way a value is quoted into SQL

    for pattern, repl in evidence_rules():
        expr = f"regexp_replace({expr}, {sql_str(pattern)}, {sql_str(repl)}, 'g')"
    return expr


def evidence_zh_query(source: str) -> str:
    """``SELECT en, zh``: :func:`evidence_zh_sql` over the texts ``en`` of the query ``source``, each
    rule skipped — one ``contains()`` instead of a regular expression — for a text without the piece
    every match of the rule holds (:func:`required_literal`): the same texts, 2.3 times faster (178,000
    texts of 1 M persons: 1.3 s against 2.9 on one thread; docs/benchmarks.md, nineteenth session).
    One step of a chain per rule, so that each step reads its text once."""
    from .steps import sql_str

    steps = [f"t0 AS (SELECT en, en AS t FROM ({source}))"]
    for i, (pattern, repl) in enumerate(evidence_rules()):
        step = f"regexp_replace(t, {sql_str(pattern)}, {sql_str(repl)}, 'g')"
        if lit := required_literal(pattern):
            step = f"CASE WHEN contains(t, {sql_str(lit)}) THEN {step} ELSE t END"
        steps.append(f"t{i + 1} AS (SELECT en, {step} AS t FROM t{i})")
    return f"WITH {', '.join(steps)} SELECT en, t AS zh FROM t{len(steps) - 1}"


def required_literal(pattern: str) -> str:
    """The longest piece of plain text that every match of the regular expression ``pattern`` holds:
    a run of literal characters outside groups and classes, none of them optional or repeated; ``''``
    when there is none, when the pattern has an alternation outside a group or sets a flag (``(?i)``).
    Conservative: whatever it cannot read ends a run."""
    if "(?" in pattern or "[[:" in pattern:  # a flag; a POSIX class (RE2) inside a class
        return ""
    runs, run, depth, i = [""], "", 0, 0
    while i < len(pattern):
        ch, atom = pattern[i], None
        if ch == "\\":
            nxt = pattern[i + 1 : i + 2]
            if nxt.isalnum() and nxt not in "dDwWsSbBAzZ":  # \x41 \101 \pL \Q…\E …: not read here
                return ""
            atom = nxt if nxt and not nxt.isalnum() else None  # \( \. \| are literal; \d \b are not
            i += 2
        elif ch == "[":  # a class: skipped whole (a ] first in it, or escaped, belongs to it)
            j = i + 1 + (pattern[i + 1 : i + 2] == "^")
            j += pattern[j : j + 1] == "]"
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
        elif ch in "()":
            depth += 1 if ch == "(" else -1
            i += 1
        elif ch == "|":
            if depth == 0:
                return ""
            i += 1
        elif ch == "{":  # a counted repetition {m,n}: skipped whole
            i = pattern.find("}", i) + 1 or len(pattern)
        elif ch in ".^$*+?}":
            i += 1
        else:
            atom, i = ch, i + 1
        quantifier = pattern[i : i + 1]
        if atom is not None and depth == 0 and quantifier not in ("*", "?", "{"):
            run += atom
            if quantifier != "+":
                continue
        runs.append(run)
        run = ""
    return max([*runs, run], key=len)


# ------------------------------------------------------------------------- ledger transition details

_DETAIL_RULES: tuple[tuple[str, str], ...] = (
    (r"^taken in by (.+)$", r"因\1纳入"),
    (r"^notice ([A-Z_0-9]+)-[^ ]+ \(([A-Z]+)\)$", r"告知：\1（\2）"),
    (r"^archive pre-review ([A-Z]+)", r"档案预审\1"),
    (r"^conclusion v([0-9]+) confirmed by ([A-Z]+)", r"综合结论第\1版由\2确认"),
    (
        r"^conclusion v([0-9]+): ([0-9]+) months, relations ([A-Z_]+), archive ([A-Z]+)",
        r"综合结论第\1版：缴费\2个月，归集状态\3，档案结论\4",
    ),
    (r"^contribution months confirmed: ([0-9]+)", r"确认缴费\1个月"),
    (r"^declaration notice for ([0-9]{4}-[0-9]{2})", r"\1申报告知"),
    (r"^no longer in the push \(FULL absence or op D\)", r"已不在推送中（全量推送缺失或删除）"),
    (r"^office ([0-9]+) -> ([0-9]+)", r"经办机构 \1 → \2"),
    (r"^relations ([A-Z_]+)", r"参保关系\1"),
    (r"^retired=1 in the push", r"推送显示已退休"),
    (r"^survival_status=2 in the push", r"推送显示已死亡"),
    (r"^retired \(county feedback\)", r"已退休（县区反馈）"),
    (r"^benefit place now ([0-9]+) \(([A-Z0-9_]+)\)", r"待遇领取地变为\1（\2）"),
    (
        r"^reopened: push seq ([0-9]+) corrects the month \(([A-Z_]+) no longer holds\)",
        r"重新打开：推送序号\1更正了本月（\2不再成立）",
    ),
)
# codes inside details, by the domain that names them (the first domain knowing a code wins)
_DETAIL_DOMAINS = (
    "entered_by",
    "notice_kind",
    "channel",
    "merge_status",
    "archive_conclusion",
    "confirmer",
    "item",
    "close_reason",
    "place_rule",
)


def detail_zh(text: str | None) -> str:
    """A ledger transition's detail (written by the pipeline in English) in Chinese; a detail no rule
    knows is shown as it is."""
    if not text:
        return text or ""
    for pattern, repl in _DETAIL_RULES:
        text = re.sub(pattern, repl, text)
    names: dict[str, str] = {}
    for domain in reversed(_DETAIL_DOMAINS):
        names.update({c: e["zh"] for c, e in table()[domain].items()})
    text = re.sub(r"(?<![A-Z0-9_])[A-Z][A-Z0-9_]+(?![A-Z0-9_])", lambda m: names.get(m.group(0), m.group(0)), text)
    return text.replace(";", "、")


def sql_label(domain: str, expr: str) -> str:
    """``expr`` (a code) → its Chinese label, as a SQL CASE built from the table (set-based)."""
    from .steps import sql_str  # the one way a value is quoted into SQL

    whens = " ".join(f"WHEN {sql_str(c)} THEN {sql_str(e['zh'])}" for c, e in table()[domain].items())
    return f"CASE CAST({expr} AS VARCHAR) {whens} ELSE CAST({expr} AS VARCHAR) END"


# ------------------------------------------------------------------------- report and analysts' file (issue 17)

# The report's code kinds are this table's domains; the kinds it lacks (the push's row_reason,
# batch_refusal, batch_status, push_file, push_type; handover) come from data/code_labels.csv, which
# holds only those (tests/contract/test_docs.py: a row there that this table has would never be read).


@lru_cache(maxsize=1)
def _extra_labels() -> dict[tuple[str, str], str]:
    with open(DATA_DIR / "code_labels.csv", encoding="utf-8", newline="") as fh:
        return {(r["kind"], r["code"]): r["label_zh"] for r in csv.DictReader(fh)}


def code_label(kind: str, code) -> str:
    """The Chinese label of ``code`` for the report: this module's table first, then
    data/code_labels.csv; the code itself when neither has it."""
    if code is None:
        return ""
    entry = table().get(kind, {}).get(str(code))
    if entry:
        return entry["zh"]
    return _extra_labels().get((kind, str(code)), str(code))


def label_rows() -> list[tuple[str, str, str]]:
    """Every (kind, code, label) — the analysts' file's ``code_labels`` table."""
    rows = {(d, c): e["zh"] for d, entries in table().items() for c, e in entries.items()}
    for (k, c), v in _extra_labels().items():
        rows.setdefault((k, c), v)
    return [(k, c, v) for (k, c), v in rows.items()]


ANALYSTS_DICTIONARY = DATA_DIR / "analysts_dictionary.csv"


@lru_cache(maxsize=1)
def column_entries() -> dict[tuple[str, str], tuple[str, str]]:
    """(table or '', column) → (Chinese name, meaning): data/dictionary.csv (the files' headers),
    then data/analysts_dictionary.csv (the analysts' file and the report; a line naming its
    table wins over a general one)."""
    rows: dict[tuple[str, str], tuple[str, str]] = {}
    with open(DATA_DIR / "dictionary.csv", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            rows[("", r["column"])] = (r["header_zh"], r["meaning"])
    with open(ANALYSTS_DICTIONARY, encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            rows[(r["table"], r["column"])] = (r["name_zh"], r["meaning"])
    return rows


def column_label(column: str, table_name: str = "") -> str:
    """A column's Chinese name (the column itself when no dictionary names it)."""
    e = column_entries()
    return (e.get((table_name, column)) or e.get(("", column)) or (column, ""))[0]
