"""Notices (rules.md §5): three-level reminders, SMS and offline batches, coordination letters.

* :func:`issue_reminders` – the run's notice stage: PRE_SERVICE, AGE_MINUS_3, AGE_REACHED,
  OVERDUE for the open ledger entries of month P (``sql/notify/10_reminders_due.sql``);
  PRE_SERVICE entries then move ENROLLED → NOTIFIED.
* :func:`issue_notices` – the generic machinery, also used by ``declare`` (DECLARATION,
  CONSULTATION) and ``feedback`` (RESULT): rows in, notices rendered and inserted once.
* :func:`pipelines.notify_files.write_notification_files` – ``notifications/<office>/sms.*`` and
  ``offline.csv``; :func:`pipelines.notify_files.write_letters` – coordination letters (附件1) where
  the benefit-place office and the pre-review office differ.
* :mod:`pipelines.notify_texts` – the texts: kinds, template variables, rendering, segments.

Idempotency: a notice is keyed by (id_no, kind, reference_mi); rows whose key is already in
``notice_log`` are left out before rendering, and the insert (one statement) skips any key that
is present (anti-joins; the UNIQUE constraints refuse anything else).  ``notice_id`` is deterministic:
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

import pyarrow as pa

from .errors import RetirePrepError
from .ledger import record_transitions
from .notify_texts import (  # the texts of notices; these names are used from notify as before
    KINDS as KINDS,
    MAX_SMS_CHARS as MAX_SMS_CHARS,
    OPTIONAL_VARIABLES as OPTIONAL_VARIABLES,
    PROVINCES as PROVINCES,
    REMINDER_KINDS as REMINDER_KINDS,
    NoticeRenderError as NoticeRenderError,
    date_zh as date_zh,
    notice_context as notice_context,
    office_short_name as office_short_name,
    offices as offices,
    recipient_name as recipient_name,
    render_notice as render_notice,
    sms_segments as sms_segments,
    ym_zh as ym_zh,
    _template_inputs,
)
from .policy import format_month
from .settings import Settings
from .warehouse import render_sql


# Person columns a notice may use (from the person state of the month) when the rows lack them.
_PERSON_COLUMNS = ("name", "insurance_type")


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


def _sql(name: str, **params) -> str:
    return render_sql(f"notify/{name}", **params).strip().rstrip(";")


# ----------------------------------------------------------------------------- issuing


def _columns(con, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _render_texts(con, kind: str, key_cols: tuple[str, ...], month_mi: int, settings: Settings) -> pa.Table:
    """Every distinct text of ``kind`` in ``_notice_rows``: one render per combination of the
    template's inputs (``key_cols``), never one per person.  Returns the key columns (with
    DuckDB's types, through Arrow) + ``_text`` and ``_segments``."""
    cols = ", ".join(_quote(c) for c in key_cols)
    combos = con.sql(
        f"SELECT {cols}, min(_person_key) AS _person_key FROM _notice_rows WHERE kind = '{kind}' "
        f"GROUP BY ALL ORDER BY ALL"
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
    _run(
        con,
        _sql(
            "20_notice_rows.sql",
            rows_table=rows_table,
            kind=kind,
            exclude_kind=kind is not None and "kind" in cols,
            person_cols=person_cols,
            persons=_persons_source(con),
            month_mi=int(month_mi),
        ),
    )
    try:
        kinds = [r[0] for r in con.execute("SELECT DISTINCT kind FROM _notice_rows ORDER BY 1").fetchall()]
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise RetirePrepError(f"unknown notice kind {unknown[0]!r}")
        row_cols = tuple(_columns(con, "_notice_rows"))
        for k in kinds:
            key_cols = _template_inputs(k, row_cols)
            texts = _render_texts(con, k, key_cols, month_mi, settings)
            con.register("_notice_texts", texts)
            try:
                _run(
                    con,
                    _sql(
                        "25_notice_texts.sql",
                        kind=k,
                        key_cols=key_cols,
                        batch_mi=int(month_mi if batch_mi is None else batch_mi),
                    ),
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
            _run(con, _sql("30_insert.sql", source="_notice_new"))
            inserted = con.execute("SELECT kind, count(*) FROM _notice_ins GROUP BY kind").fetchall()
    finally:
        _run(con, "DROP TABLE IF EXISTS _notice_rows")
        _run(con, "DROP TABLE IF EXISTS _notice_new")
        _run(con, "DROP TABLE IF EXISTS _notice_ins")
    return {k: int(n) for k, n in inserted}


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


def issue_reminders(con, month_mi: int, settings: Settings) -> dict[str, int]:
    """The run's notice stage (rules.md §5): the three-level reminders of month P.

    For ledger entries open in P with their screening of P: PRE_SERVICE when opened in P,
    AGE_MINUS_3 when S − P = 3, AGE_REACHED when S = P, OVERDUE when S < P (at most once every
    ``settings.overdue_every_months``); reference month P.  Entries with a PRE_SERVICE notice
    of P then move ENROLLED → NOTIFIED (event date: the first day of P, source ``run:YYYY-MM``).
    Into P's batch; into P+1's when P's batch was published already (:func:`batch_published`).
    Returns the notices inserted per kind and ``NOTIFIED``, the entries moved.
    Runs inside the caller's transaction (none is opened here).
    """
    persons = _persons_source(con)
    _run(
        con,
        render_sql(
            "notify/10_reminders_due.sql",
            month_mi=int(month_mi),
            overdue_every=int(settings.overdue_every_months),
            benefit_start_offset=int(settings.benefit_start_offset),
            persons=persons,
        ),
    )
    # P's batch already sent (a rerun after a DONE run, e.g. on a correction push): what the rerun
    # raises — a person it takes in or reopens — goes out with the next batch, P+1 (docs/decisions.md)
    batch = month_mi + 1 if batch_published(con, month_mi) else month_mi
    inserted = _issue(con, "_reminders_due", month_mi, settings, None, batch_mi=batch)
    counts = {k: inserted.get(k, 0) for k in REMINDER_KINDS}
    _run(con, render_sql("notify/40_pre_service_notified.sql", month_mi=int(month_mi)))
    counts["NOTIFIED"] = record_transitions(
        con, "_pre_service_notified", f"run:{format_month(month_mi)}", month_mi, settings, to_stage="NOTIFIED"
    )
    _run(con, "DROP TABLE IF EXISTS _pre_service_notified")
    _run(con, "DROP TABLE IF EXISTS _reminders_due")
    return counts


def batch_published(con, month_mi: int) -> bool:
    """A run of P is DONE: P's batch was published (sent) and is frozen — a rerun re-emits it as it
    was, neither withdrawing nor re-settling any of its notices (docs/decisions.md)."""
    return bool(
        con.execute(
            "SELECT count(*) FROM month_runs WHERE month_mi = ? AND command = 'run' AND status = 'DONE'",
            [int(month_mi)],
        ).fetchall()[0][0]
    )


def withdraw_closed(con, month_mi: int) -> int:
    """Withdraw the notices waiting for P's unpublished batch whose entry P's run closed (deceased,
    retired, left the push or Ningxia): kept in ``notice_withdrawals``, in no file
    (``sql/notify/46_withdraw.sql``).  First, what a run of P withdrew and a rerun has reopened is
    issued again: into P's batch, or P+1's when P's was published.  Returns how many were withdrawn."""
    published = batch_published(con, month_mi)
    # a published batch is frozen: nothing is withdrawn from it, and what a reopening restores goes
    # out with the next batch
    _run(
        con,
        render_sql(
            "notify/46_withdraw.sql",
            month_mi=int(month_mi),
            withdraw=not published,
            restore_into=int(month_mi) + 1 if published else int(month_mi),
        ),
    )
    return 0 if published else con.execute("SELECT count(*) FROM _withdraw").fetchall()[0][0]


def settle_batch(con, month_mi: int) -> int:
    """P's unpublished batch on P's data: channel, mobile and filing office of the notices issued
    into P that were raised before P's push (``sql/notify/47_settle_batch.sql``).  Returns how many
    changed."""
    if batch_published(con, month_mi):
        return 0
    return con.execute(
        render_sql("notify/47_settle_batch.sql", month_mi=int(month_mi), persons=_persons_source(con))
    ).fetchall()[0][0]


def record_letters_due(con, month_mi: int) -> int:
    """Record the coordination letters that first become due in P (written by write_letters)."""
    before = con.execute("SELECT count(*) FROM coordination_letters").fetchall()[0][0]
    _run(con, render_sql("notify/55_letters_due.sql", month_mi=int(month_mi)))
    return con.execute("SELECT count(*) FROM coordination_letters").fetchall()[0][0] - before


# ----------------------------------------------------------------------------- files
