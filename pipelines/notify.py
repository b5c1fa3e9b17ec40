"""Notices (rules.md §5): three-level reminders, SMS and offline batches, coordination letters.

* :func:`issue_reminders` – the run's notice stage: PRE_SERVICE, AGE_MINUS_3, AGE_REACHED,
  OVERDUE for the open ledger entries of month P (``sql/notify/10_reminders_due.sql``);
  PRE_SERVICE entries then move ENROLLED → NOTIFIED.
* :func:`issue_notices` – the generic machinery, also used by ``declare`` (DECLARATION,
  CONSULTATION) and ``feedback`` (RESULT): rows in, notices rendered and inserted once.
* :func:`write_notification_files` – ``notifications/<office>/sms.*`` and ``offline.csv`` (``.xlsx``).
* :func:`write_letters` – coordination letters (附件1) where the benefit-place office and the
  pre-review office differ.

Idempotency: a notice is keyed by (id_no, kind, reference_mi); rows whose key is already in
``notice_log`` are left out before rendering, and the insert (one statement) skips any key that
is present (anti-joins); :func:`check_unique` then refuses, before the writer's COMMIT, any key or
``notice_id`` the log would hold twice (the table has no UNIQUE index: issue 19).  ``notice_id`` is deterministic:
``<kind>-<YYYY-MM of the reference month>-<person_key>``.  A rerun inserts nothing; a run
killed after the insert and before the files completes the files when rerun.

Rendering: Jinja2 templates ``templates/sms/<kind>.txt.j2`` with StrictUndefined.  A template
is written over several lines for reading; each line is stripped and the lines are joined
without separator (an SMS is one line).  The stored text is the signature (``【宁夏人社】``,
settings) + body; segments = 1 up to 70 characters, else ⌈len / 67⌉ (policy.md §9), SMS only;
a text over 500 characters is an error.  The SMS addresses the person as 尊敬的参保人 (the
attachments' salutation) without the name: it keeps the text short and tells nothing to the
holder of a stale number.  A variable without a value fails the render with an error naming
the person by ``person_key`` and the variable, never the ID number or the name.

Channel: SMS when ``phone_normalized(phone)`` is a valid mobile; otherwise EMPLOYER (110 with
an employer code or name) or TOWNSHIP (乡镇（街道）), with ``offline_reason``
``'no mobile number'`` or ``'phone is not a valid mobile'``.  An offline notice keeps the same
text (no segments).

Batch of P: a notice raised before P's push whose entry P's run closed is withdrawn, never sent
(:func:`withdraw_closed`).  The run settles every other notice issued into P on P's data (:func:`settle_batch`): a
DECLARATION or RESULT raised before P's push takes the channel and mobile of P, and the office whose
ledger holds its entry in P (``file_office``: the folder it is filed in, and the office the report
and ``office_progress`` count it for).  A person whom P's run moves to another office is thus in the
new office's files, beside the worklist row; the text stays as issued (it names the issuing office).
"""

from __future__ import annotations

import csv
import re
from datetime import date, datetime
from functools import lru_cache

import jinja2
import pyarrow as pa

from . import DATA_DIR, TEMPLATES_DIR, months
from .errors import DuplicateNotice, RetirePrepError
from .ledger import record_transitions
from .policy import format_month, sms_segments as _segments_for_length
from .settings import Settings
from .steps import Step, Steps, passes, run_step

#: the notices' steps, in the order of a run's notice stage: the reminders due, the issuing of any
#: rows (20–30, also for declare and feedback: ``rows_table`` is their caller's table, ``persons`` the
#: month's person state), the entries notified, the batch settled, the letters; then the files' queries
STEPS = Steps(
    (
        Step("notify/10_reminders_due.sql"),
        Step("notify/20_notice_rows.sql"),
        Step("notify/25_notice_texts.sql", inputs=("_notice_texts",)),  # rendered in Python, registered
        Step("notify/30_insert.sql"),
        Step("notify/35_unique.sql"),
        Step("notify/40_pre_service_notified.sql"),
        Step("notify/43_skipped_batches.sql"),
        Step("notify/46_withdraw.sql"),
        Step("notify/47_settle_batch.sql"),
        Step("notify/47_waiting_rows.sql"),  # pipelines/notify_settle.py: texts rendered for P's batch
        Step("notify/47_waiting_texts.sql", inputs=("_waiting_texts",)),  # rendered in Python, registered
        Step("notify/48_settle_texts.sql"),
        Step("notify/55_letters_due.sql"),
        Step("notify/45_file_office.sql"),
        Step("notify/50_sms_file.sql"),
        Step("notify/51_offline_file.sql"),
        Step("notify/52_offline_book.sql", inputs=("_code_labels",)),  # pipelines/notify_files.py: offline.xlsx
        Step("notify/60_letters.sql"),
    )
)

REMINDER_KINDS = ("PRE_SERVICE", "AGE_MINUS_3", "AGE_REACHED", "OVERDUE")
KINDS = REMINDER_KINDS + ("DECLARATION", "CONSULTATION", "RESULT")
MAX_SMS_CHARS = 500

# Person columns a notice may use (from the person state of the month) when the rows lack them.
_PERSON_COLUMNS = ("name", "insurance_type")
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
    "retirement_elected",  # DECLARATION rows of declare (sql/declare/12_notice_rows.sql); absent: R is S
    "employer_confirms",  # every row of sql/notify/20_notice_rows.sql; absent: the person confirms
    "age_provisional",  # reminders (sql/notify/10_reminders_due.sql): a 110 woman without person_type
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

_LETTER_BASIS = {
    "OFFICE_CHANGE": "牵头经办机构变更",
    "BENEFIT_PLACE_IN": "待遇领取地变更为我区",
    "PRE_REVIEW_OFFICE": "待遇领取地与档案预审地不一致",
}

_SAFE_CODE = re.compile(r"^[0-9A-Za-z]{1,20}$")


class NoticeRenderError(RetirePrepError):
    """A notice that cannot be rendered (missing value, too long): names person_key, never the ID."""


# ----------------------------------------------------------------------------- small helpers


def sms_segments(text: str | int) -> int:
    """Segments of an SMS text (or of a length), signature included (rules.md §5, policy.md §9)."""
    n = text if isinstance(text, int) else len(text)
    return _segments_for_length(n)


def ym_zh(value) -> str:
    """A month as ``YYYY年M月`` (:func:`pipelines.months.format_month_zh`), the templates' filter."""
    if isinstance(value, jinja2.Undefined):
        str(value)  # raises for StrictUndefined
    return months.format_month_zh(value)


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


def _persons_source(con) -> str:
    """The person state of the month: ``persons_p`` in a run, else the current versions."""
    n = con.execute(
        "SELECT (SELECT count(*) FROM duckdb_views() WHERE view_name = 'persons_p') + "
        "(SELECT count(*) FROM duckdb_tables() WHERE table_name = 'persons_p')"
    ).fetchall()[0][0]
    if n:
        return "persons_p"
    return "(SELECT * FROM person_versions WHERE valid_to_seq IS NULL)"


def _run(con, sql: str) -> None:
    """Run a statement and consume its result (DuckDB 2.0 refuses other work while one is pending)."""
    con.execute(sql).fetchall()


def _dicts(con, query: str) -> list[dict]:
    cur = con.execute(query)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _check_code(code: str) -> str:
    if not isinstance(code, str) or not _SAFE_CODE.match(code):
        raise RetirePrepError(f"office code {code!r} is not usable as a folder name")
    return code


# ----------------------------------------------------------------------------- rendering

_sms_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR / "sms")),
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
)
_sms_env.filters["ym_zh"] = ym_zh
_sms_env.filters["date_zh"] = date_zh

_letter_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR / "letters")),
    undefined=jinja2.StrictUndefined,
    autoescape=True,
    keep_trailing_newline=True,
)

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


# ----------------------------------------------------------------------------- issuing


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


def _columns(con, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()]


def _quote(name: str) -> str:
    from .steps import sql_ident

    return sql_ident(name)


def _render_texts(con, kind: str, key_cols: tuple[str, ...], month_mi: int, settings: Settings) -> pa.Table:
    """Every distinct text of ``kind`` in ``_notice_rows``: one render per combination of the
    template's inputs (``key_cols``), never one per person.  Returns the key columns (with
    DuckDB's types, through Arrow) + ``_text`` and ``_segments``."""
    cols = ", ".join(_quote(c) for c in key_cols)  # the template's inputs: column names, not data
    combos = con.sql(
        f"SELECT {cols}, min(_person_key) AS _person_key FROM _notice_rows WHERE kind = ? GROUP BY ALL ORDER BY ALL",
        params=[kind],
    ).to_arrow_table()
    texts = [
        render_notice(kind, notice_context(row, month_mi), settings, row["_person_key"]) for row in combos.to_pylist()
    ]
    return (
        combos.drop_columns(["_person_key"])
        .append_column("_text", pa.array(texts, pa.string()))
        .append_column("_segments", pa.array([sms_segments(t) for t in texts], pa.int32()))
    )


def _issue(
    con, rows_table: str, month_mi: int, settings: Settings, kind: str | None, batch_mi: int | None = None
) -> dict[str, int]:
    """Render and insert the notices of ``rows_table`` not issued yet; returns inserted per kind.
    They go out with the batch of ``batch_mi`` (``issued_mi``; default ``month_mi``).

    Set-based: the rows stay in DuckDB; Python renders each distinct combination of a template's
    inputs once (a few hundred texts for a month of a million persons) and DuckDB joins the texts
    back to the rows.
    """
    cols = _columns(con, rows_table)
    required = {"id_no", "entry_id", "reference_mi", "office_code"} | ({"kind"} if kind is None else set())
    missing = sorted(required - set(cols))
    if missing:
        raise RetirePrepError(f"notice rows {rows_table}: missing columns {missing}")
    if kind is not None and kind not in KINDS:
        raise RetirePrepError(f"unknown notice kind {kind!r}")
    person_cols = [c for c in _PERSON_COLUMNS if c not in cols]
    run_step(
        con,
        STEPS["20_notice_rows"],
        rows_table=rows_table,
        kind=kind,
        exclude_kind=kind is not None and "kind" in cols,
        person_cols=person_cols,
        persons=_persons_source(con),
        month_mi=int(month_mi),
    )
    try:
        kinds = [r[0] for r in con.execute("SELECT DISTINCT kind FROM _notice_rows ORDER BY 1").fetchall()]
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise RetirePrepError(f"unknown notice kind {unknown[0]!r}")
        row_cols = tuple(_columns(con, "_notice_rows"))
        for k in kinds:
            key_cols = _template_inputs(k, row_cols)
            # rendered for the month the batch goes out in (本月, 将于/已于 are read then)
            texts = _render_texts(con, k, key_cols, int(month_mi if batch_mi is None else batch_mi), settings)
            con.register("_notice_texts", texts)
            try:
                run_step(
                    con,
                    STEPS["25_notice_texts"],
                    kind=k,
                    key_cols=key_cols,
                    batch_mi=int(month_mi if batch_mi is None else batch_mi),
                )
            finally:
                con.unregister("_notice_texts")
        # every row got its text (the join is on the very combinations rendered from these rows)
        n_rows, n_new = con.execute(
            "SELECT (SELECT count(*) FROM _notice_rows), (SELECT count(*) FROM _notice_new)"
        ).fetchall()[0]
        if n_rows != n_new:
            raise RetirePrepError(f"notice texts: {n_new} of {n_rows} rows matched a rendered text")
        inserted = []
        if n_new:
            run_step(con, STEPS["30_insert"], source="_notice_new")
            check_unique(con, "_notice_ins")
            inserted = con.execute("SELECT kind, count(*) FROM _notice_ins GROUP BY kind").fetchall()
    finally:
        _run(con, "DROP TABLE IF EXISTS _notice_rows")
        _run(con, "DROP TABLE IF EXISTS _notice_new")
        _run(con, "DROP TABLE IF EXISTS _notice_ins")
    return {k: int(n) for k, n in inserted}


def check_unique(con, source: str) -> None:
    """Refuse a duplicate in ``notice_log`` among the keys of ``source`` (the rows just inserted):
    two notices of one (id_no, kind, reference_mi), or one ``notice_id`` twice (rules.md §5).

    The log's UNIQUE and PRIMARY KEY are gone (issue 19: their index entries stay in memory until
    COMMIT and a FULL month of 5,000,000 persons did not commit within DuckDB's 1 GB); every insert
    into it calls this inside the writer's transaction, so the error rolls the whole stage back, as
    the constraint's did (``sql/notify/35_unique.sql``).  The message names no person.
    """
    keys, ids = run_step(con, STEPS["35_unique"], source=source)[0]
    if keys or ids:
        raise DuplicateNotice(
            f"notice_log would hold {keys} (id_no, kind, reference_mi) key(s) and {ids} notice_id(s) twice: "
            "refused, nothing of this transaction is committed (rules.md §5: a notice is never issued twice)"
        )


def issue_notices(con, kind: str, rows_table: str, month_mi: int, settings: Settings) -> int:
    """Issue notices of ``kind`` for the rows of ``rows_table`` (a table or view name).

    ``rows_table`` has ``id_no``, ``entry_id``, ``reference_mi``, ``office_code`` and any extra
    template variables as columns (DECLARATION: ``retirement_month``; RESULT:
    ``objection_days``).  Person fields (name, insurance type, phone, employer) come from
    the person state of the month (``persons_p``, or the current person versions outside a
    run).  Already issued keys, deceased and retired persons are skipped.  ``issued_mi`` =
    ``month_mi``.  Returns the number of notices inserted.
    """
    return sum(_issue(con, rows_table, month_mi, settings, kind).values())


def issue_reminders(con, month_mi: int, settings: Settings, skipped: tuple[int, ...] = ()) -> dict[str, int]:
    """The run's notice stage (rules.md §5): the three-level reminders of month P.

    For ledger entries open in P with their screening of P: PRE_SERVICE when opened in P,
    AGE_MINUS_3 when S − P = 3, AGE_REACHED when S = P, OVERDUE when S < P (at most once every
    ``settings.overdue_every_months``); reference month P.  ``skipped``: the months whose run was
    skipped before P (:func:`pipelines.monthly.skipped_months`): their AGE_MINUS_3 (S still ahead)
    and AGE_REACHED are caught up, reference month M (docs/decisions.md).  Entries with a PRE_SERVICE notice
    of P then move ENROLLED → NOTIFIED (event date: the first day of P, source ``run:YYYY-MM``).
    Into P's batch; into P+1's when P's batch was published already (:func:`batch_published`).
    Returns the notices inserted per kind and ``NOTIFIED``, the entries moved.
    Runs inside the caller's transaction (none is opened here).
    """
    persons = _persons_source(con)
    # P's batch already sent (a rerun after a DONE run, e.g. on a correction push): what the rerun
    # raises — a person it takes in or reopens — goes out with the next batch, P+1 (docs/decisions.md)
    batch = month_mi + 1 if batch_published(con, month_mi) else month_mi
    counts = dict.fromkeys(REMINDER_KINDS + ("NOTIFIED",), 0)
    buckets = reminder_buckets(con, month_mi)
    for bucket in range(buckets):  # issue 19: a large month bucket by bucket (persons: hash(id_no))
        run_step(
            con,
            STEPS["10_reminders_due"],
            month_mi=int(month_mi),
            overdue_every=int(settings.overdue_every_months),
            benefit_start_offset=int(settings.benefit_start_offset),
            persons=persons,
            bucket=bucket,
            buckets=buckets,
            skipped_from=min(skipped, default=None),
            skipped_to=max(skipped, default=None),
        )
        inserted = _issue(con, "_reminders_due", month_mi, settings, None, batch_mi=batch)
        for k in REMINDER_KINDS:
            counts[k] += inserted.get(k, 0)
        run_step(con, STEPS["40_pre_service_notified"], month_mi=int(month_mi), bucket=bucket, buckets=buckets)
        counts["NOTIFIED"] += record_transitions(
            con, "_pre_service_notified", f"run:{format_month(month_mi)}", month_mi, settings, to_stage="NOTIFIED"
        )
    _run(con, "DROP TABLE IF EXISTS _pre_service_notified")
    _run(con, "DROP TABLE IF EXISTS _reminders_due")
    return counts


# ledger entries per pass of the notice stage (issue 19). A person's notices are all in one bucket
# of persons (hash(id_no)), so the notices are the same in any number of passes
# (tests/notify/test_notify_buckets.py). 500,000 from the eighth session to the twentieth: then
# notice_log's two indexes kept every inserted key in memory (~130 bytes a notice), and one pass at
# 5,000,000 persons did not fit DuckDB's 1 GB. The indexes are gone; one pass of the 3.5 million open
# entries at 5 M fits (1,805 MiB peak; an INCR month's stage 6-7 s where seven passes took 15 s); at 25 M a
# pass of 4,000,000 is what one pass at 5 M was (docs/decisions.md, twenty-first session)
REMINDER_BUCKET_ENTRIES = 4_000_000


def reminder_buckets(con, month_mi: int) -> int:
    """How many passes the notice stage of P makes: one per :data:`REMINDER_BUCKET_ENTRIES` entries open in P."""
    n = con.execute(
        "SELECT count(*) FROM ledger_entries WHERE opened_mi <= ? AND (closed_mi IS NULL OR closed_mi > ?)",
        [int(month_mi), int(month_mi)],
    ).fetchall()[0][0]
    return passes(n, REMINDER_BUCKET_ENTRIES)


def batch_published(con, month_mi: int) -> bool:
    """A run of P is DONE: P's batch was published (sent) and is frozen — a rerun re-emits it as it
    was, neither withdrawing nor re-settling any of its notices (docs/decisions.md)."""
    return bool(
        con.execute(
            "SELECT count(*) FROM month_runs WHERE month_mi = ? AND command = 'run' AND status = 'DONE'",
            [int(month_mi)],
        ).fetchall()[0][0]
    )


def carry_skipped_batches(con, month_mi: int, skipped: tuple[int, ...]) -> int:
    """The notices waiting for the batch of a month whose run was skipped (``skipped``) go out with
    P's batch, or P+1's when P's was published (``sql/notify/43_skipped_batches.sql``); how many."""
    batch = month_mi + 1 if batch_published(con, month_mi) else month_mi
    lo, hi = (min(skipped), max(skipped)) if skipped else (month_mi, month_mi - 1)
    return run_step(con, STEPS["43_skipped_batches"], batch_mi=batch, skipped_from=lo, skipped_to=hi)[0][0]


def withdraw_closed(con, month_mi: int) -> int:
    """Withdraw the notices waiting for P's unpublished batch whose entry P's run closed (deceased,
    retired, left the push or Ningxia): kept in ``notice_withdrawals``, in no file
    (``sql/notify/46_withdraw.sql``).  First, what a run of P withdrew and a rerun has reopened is
    issued again: into P's batch, or P+1's when P's was published.  Returns how many were withdrawn."""
    published = batch_published(con, month_mi)
    # a published batch is frozen: nothing is withdrawn from it, and what a reopening restores goes
    # out with the next batch
    run_step(
        con,
        STEPS["46_withdraw"],
        month_mi=int(month_mi),
        withdraw=not published,
        restore_into=int(month_mi) + 1 if published else int(month_mi),
    )
    check_unique(con, "_restore")
    return 0 if published else con.execute("SELECT count(*) FROM _withdraw").fetchall()[0][0]


def record_letters_due(con, month_mi: int) -> int:
    """Record the coordination letters that first become due in P (written by write_letters): how
    many were recorded anew (a rerun of P may also drop some: sql/notify/55_letters_due.sql)."""
    sql = "SELECT id_no, sender, recipient FROM coordination_letters WHERE first_mi = ?"
    before = set(con.execute(sql, [int(month_mi)]).fetchall())
    run_step(con, STEPS["55_letters_due"], month_mi=int(month_mi))
    return len(set(con.execute(sql, [int(month_mi)]).fetchall()) - before)


# the files section lives in notify_files, the batch's settling in notify_settle (they import from
# here): re-exported at the end, after everything they need is defined
from .notify_files import notice_offices, write_letters, write_notification_files  # noqa: E402, F401
from .notify_settle import settle_batch  # noqa: E402, F401
