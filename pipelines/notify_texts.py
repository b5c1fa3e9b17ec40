"""The notices' texts (rules.md §5; issue 15: split from ``pipelines/notify.py``): the kinds of
notice, the variables a template sees (:func:`notice_context`), the rendering of an SMS text
(:func:`render_notice`: signature + the template's lines joined, at most 500 characters), its
segments, the Chinese months and days, and the offices' names (``data/offices.csv``).

See ``pipelines/notify.py`` for what a notice is and how it is issued.
"""

from __future__ import annotations

import csv
import re
from datetime import date, datetime
from functools import lru_cache

import jinja2

from . import DATA_DIR, TEMPLATES_DIR
from .errors import RetirePrepError
from .policy import sms_segments as _segments_for_length
from .settings import Settings

REMINDER_KINDS = ("PRE_SERVICE", "AGE_MINUS_3", "AGE_REACHED", "OVERDUE")
KINDS = REMINDER_KINDS + ("DECLARATION", "CONSULTATION", "RESULT")
MAX_SMS_CHARS = 500

# Columns of the rows that never reach a template (identifiers, phone) or are internal.
_NOT_IN_CONTEXT = {
    "id_no",
    "phone",
    "_mobile",
    "_notice_id",
    "_person_key",
    "_channel",
    "_offline_reason",
    "kind",
    "employer_uscc",
    "employer_name",
    "hukou_region",
}
# Template variables that may legitimately be empty: kept as None (tested with {% if %}).
OPTIONAL_VARIABLES = {
    "flexible_earliest_mi",
    "flexible_latest_mi",
    "flexible_earliest_month",
    "flexible_latest_month",
    "elected_retirement_mi",
    "elected_retirement_month",
    "elected_benefit_start_mi",
    "elected_benefit_start_month",
}

# GB/T 2260 provinces (first two digits) for letters to another province's agency.
PROVINCES = {
    "11": "北京市",
    "12": "天津市",
    "13": "河北省",
    "14": "山西省",
    "15": "内蒙古自治区",
    "21": "辽宁省",
    "22": "吉林省",
    "23": "黑龙江省",
    "31": "上海市",
    "32": "江苏省",
    "33": "浙江省",
    "34": "安徽省",
    "35": "福建省",
    "36": "江西省",
    "37": "山东省",
    "41": "河南省",
    "42": "湖北省",
    "43": "湖南省",
    "44": "广东省",
    "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市",
    "51": "四川省",
    "52": "贵州省",
    "53": "云南省",
    "54": "西藏自治区",
    "61": "陕西省",
    "62": "甘肃省",
    "63": "青海省",
    "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
}


class NoticeRenderError(RetirePrepError):
    """A notice that cannot be rendered (missing value, too long): names person_key, never the ID."""


def sms_segments(text: str | int) -> int:
    """Segments of an SMS text (or of a length), signature included (rules.md §5, policy.md §9)."""
    n = text if isinstance(text, int) else len(text)
    return _segments_for_length(n)


def ym_zh(value) -> str:
    """A month as ``YYYY年M月``: from a month index, ``'YYYY-MM'``, ``'YYYYMM'`` or a date."""
    if isinstance(value, jinja2.Undefined):
        str(value)  # raises for StrictUndefined
    if isinstance(value, (date, datetime)):
        return f"{value.year}年{value.month}月"
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a month: {value!r}")
    if isinstance(value, int):
        return f"{value // 12}年{value % 12 + 1}月"
    s = str(value).strip()
    m = re.fullmatch(r"([0-9]{4})-?(0[1-9]|1[0-2])", s)
    if not m:
        raise ValueError(f"not a month: {value!r}")
    return f"{int(m.group(1))}年{int(m.group(2))}月"


def date_zh(value) -> str:
    """A day as ``YYYY年M月D日``: from a date or ``'YYYY-MM-DD'``."""
    if isinstance(value, jinja2.Undefined):
        str(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    d = date.fromisoformat(str(value).strip())
    return f"{d.year}年{d.month}月{d.day}日"


@lru_cache(maxsize=1)
def offices() -> dict[str, dict[str, str]]:
    """data/offices.csv: office_code → {office_name, city, phone, address}."""
    with open(DATA_DIR / "offices.csv", encoding="utf-8", newline="") as fh:
        return {r["office_code"]: r for r in csv.DictReader(fh)}


def office_short_name(name: str) -> str:
    """``银川市兴庆区社会保险事业管理中心`` → ``银川市兴庆区社保中心`` (附件2/4 say "XX社保中心")."""
    s = re.sub(r"（[^）]*）|\([^)]*\)", "", name)
    return s.replace("社会保险事业管理中心", "社保中心").replace("社会保险事业管理局", "社保局")


def recipient_name(code: str) -> str:
    """Addressee of a coordination letter: a Ningxia office's name, else the province's agency."""
    office = offices().get(code)
    if office:
        return office["office_name"]
    prov = PROVINCES.get((code or "")[:2])
    if prov and prov != "宁夏回族自治区":
        return f"{prov}省级社会保险经办机构"
    return f"{code}社会保险经办机构"


def _office_context(code: str | None) -> dict:
    office = offices().get(code or "")
    if not office:
        return {}
    return {
        "office_name": office["office_name"],
        "office_short": office_short_name(office["office_name"]),
        "office_phone": office["phone"] or None,
        "office_address": office["address"] or None,
    }


_sms_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR / "sms")),
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
)
_sms_env.filters["ym_zh"] = ym_zh
_sms_env.filters["date_zh"] = date_zh

_UNDEFINED_NAME = re.compile(r"'([A-Za-z_][A-Za-z0-9_]*)' is undefined")


def notice_context(row: dict, month_mi: int) -> dict:
    """Template variables of one notice row (see the module doc and the report of variables).

    Every column of the row but identifiers and the phone; ``<x>_month`` (``YYYY年M月``) for each
    ``<x>_mi``; the office's ``office_name``, ``office_short``, ``office_phone``,
    ``office_address``; ``month_mi`` / ``month`` (the run month).  A value that is NULL is
    left out (its use fails the render) unless the variable is optional.
    """
    ctx: dict = {}
    for k, v in row.items():
        if k in _NOT_IN_CONTEXT or k.startswith("_"):
            continue
        ctx[k] = v
        if k.endswith("_mi") and isinstance(v, int) and not isinstance(v, bool):
            ctx.setdefault(k[:-3] + "_month", ym_zh(v))
    for k, v in list(ctx.items()):
        if k.endswith("_mi") and v is None:
            ctx.setdefault(k[:-3] + "_month", None)
    ctx.update(_office_context(row.get("office_code")))
    ctx["month_mi"] = month_mi
    ctx["month"] = ym_zh(month_mi)
    return {k: v for k, v in ctx.items() if v is not None or k in OPTIONAL_VARIABLES}


def render_notice(kind: str, context: dict, settings: Settings, pkey: str) -> str:
    """The stored text of a notice: signature + the template's body on one line.

    A variable that is absent or None fails the render (optional variables excepted: they
    default to None).  Raises :class:`NoticeRenderError` naming ``pkey`` (the person_key) and
    the variable that has no value, or the length when over 500 characters.
    """
    if kind not in KINDS:
        raise NoticeRenderError(f"unknown notice kind {kind!r}")
    template = _sms_env.get_template(f"{kind.lower()}.txt.j2")
    ctx = {k: None for k in OPTIONAL_VARIABLES}
    ctx.update({k: v for k, v in context.items() if v is not None or k in OPTIONAL_VARIABLES})
    try:
        body = template.render(**ctx)
    except jinja2.UndefinedError as exc:
        m = _UNDEFINED_NAME.search(str(exc))
        var = m.group(1) if m else "?"
        raise NoticeRenderError(
            f"cannot render the {kind} notice of person {pkey}: template variable '{var}' has no value"
        ) from None
    except ValueError as exc:
        raise NoticeRenderError(f"cannot render the {kind} notice of person {pkey}: {exc}") from None
    text = settings.sms_signature + "".join(line.strip() for line in body.splitlines())
    if len(text) > MAX_SMS_CHARS:
        raise NoticeRenderError(
            f"the {kind} notice of person {pkey} has {len(text)} characters (at most {MAX_SMS_CHARS})"
        )
    return text


@lru_cache(maxsize=None)
def _template_inputs(kind: str, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The row columns the ``kind`` template's text can depend on (through notice_context)."""
    from jinja2 import meta

    source = _sms_env.loader.get_source(_sms_env, f"{kind.lower()}.txt.j2")[0]
    used = meta.find_undeclared_variables(_sms_env.parse(source))
    keys = {"office_code"}  # office_name, office_short, office_phone, office_address
    for v in used:
        if v in columns:
            keys.add(v)
        if v.endswith("_month") and v[:-6] + "_mi" in columns:
            keys.add(v[:-6] + "_mi")
    return tuple(sorted(keys))
