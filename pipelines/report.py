"""The month's supervision report (``report/index.html``), readable offline.

Counts only — per office, stage, flag, notice kind, batch and quarantine
reason — never an ID number, a name or a phone (rules of DEVELOPERS.md).
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from . import TEMPLATES_DIR
from .labels import sql_label

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
    undefined=jinja2.StrictUndefined,
    autoescape=True,
    keep_trailing_newline=True,
)


def _rows(con, sql: str, params=None) -> tuple[list[str], list[tuple]]:
    cur = con.execute(sql, params or [])
    return [d[0] for d in cur.description], cur.fetchall()


def report_data(con, ctx) -> dict:
    m, s = ctx.month_mi, ctx.as_of_seq
    tables = {
        "Push batches (push-format.md accounting)": _rows(con, """
            SELECT seq, batch_id, push_type, data_month, status, persons_rows, persons_accepted, persons_quarantined,
                   segments_rows, segments_accepted, segments_quarantined, rows_balanced, warnings
            FROM batches WHERE status <> 'REFUSED' AND seq <= ? ORDER BY seq""", [s]),
        # the refusals since the previous month's run, up to the run that published P (a replay: the
        # original run, so it re-emits what was published); each refusal is in one month's report
        "Refused batches": _rows(con, """
            WITH w AS (
                SELECT (SELECT max(started_at) FROM month_runs
                        WHERE command = 'run' AND status = 'DONE' AND NOT replay AND month_mi < ?) AS lo,
                       coalesce((SELECT max(started_at) FROM month_runs
                                 WHERE command = 'run' AND status = 'DONE' AND NOT replay AND month_mi = ?
                                   AND EXISTS (SELECT 1 FROM month_runs WHERE command = 'run' AND month_mi = ?
                                               AND status = 'RUNNING' AND replay)),
                                (SELECT max(started_at) FROM month_runs
                                 WHERE command = 'run' AND month_mi = ? AND status = 'RUNNING')) AS hi)
            SELECT b.batch_id, b.seq, b.message FROM batches b, w
            WHERE b.status = 'REFUSED' AND (w.lo IS NULL OR b.received_at > w.lo)
              AND (w.hi IS NULL OR b.received_at <= w.hi)
            ORDER BY b.received_at, 1, 3""", [m, m, m, m]),
        "Quarantine by reason": _rows(con, """
            SELECT batch_id, file, reason_code, count(*) AS rows FROM quarantine WHERE seq <= ?
            GROUP BY ALL ORDER BY ALL""", [s]),
        "Screening of the month": _rows(con, """
            SELECT count(*) AS screened, count(scope_rule) AS in_scope,
                   count(*) FILTER (scope_rule = 'a') AS scope_a_110_window,
                   count(*) FILTER (scope_rule = 'b') AS scope_b_suspended_past_age,
                   count(*) FILTER (scope_rule = 'c') AS scope_c_170_window,
                   count(*) FILTER (trigger_application) AS trigger_application,
                   count(*) FILTER (trigger_screening) AS trigger_screening,
                   count(*) FILTER (benefit_province <> '640000') AS benefit_place_outside_ningxia
            FROM screen_results WHERE month_mi = ?""", [m]),
        "Flags of the month": _rows(con, f"""
            SELECT code, {sql_label("flag", "code")} AS 预警标识, count(*) AS persons FROM flags WHERE month_mi = ?
            GROUP BY code ORDER BY code""", [m]),
        "Ledger by office and stage (this month's worklists)": _rows(con, """
            SELECT office_code, count(*) AS entries,
                   count(*) FILTER (stage = 'ENROLLED') AS enrolled, count(*) FILTER (stage = 'NOTIFIED') AS notified,
                   count(*) FILTER (stage IN ('ARCHIVE_REVIEWED','YEARS_CONFIRMED','RELATIONS_MERGED')) AS in_review,
                   count(*) FILTER (stage IN ('CONCLUDED','CONFIRMED')) AS concluded,
                   count(*) FILTER (stage = 'DECLARED') AS declared,
                   count(*) FILTER (stage IN ('RETIRED','DECEASED','LEFT_PUSH','MOVED_OUT')) AS closed_this_month,
                   count(*) FILTER (overdue) AS overdue
            FROM worklist_rows WHERE month_mi = ? GROUP BY office_code ORDER BY office_code""", [m]),
        "Notices issued this month": _rows(con, f"""
            SELECT coalesce(file_office, office_code) AS office_code, kind, {sql_label("notice_kind", "kind")} AS 通知类型,
                   channel, count(*) AS notices,
                   coalesce(sum(segments), 0) AS sms_segments
            FROM notice_log WHERE issued_mi = ? GROUP BY ALL ORDER BY ALL""", [m]),
        "Notices withdrawn unsent (entry closed by this month's push)": _rows(con, """
            SELECT office_code, kind, reason AS entry_closed, count(*) AS notices
            FROM notice_withdrawals WHERE withdrawn_mi = ? GROUP BY ALL ORDER BY ALL""", [m]),
        "Handovers this month": _rows(con, """
            SELECT kind, from_code, to_code, count(*) AS persons FROM handovers WHERE month_mi = ?
            GROUP BY ALL ORDER BY ALL""", [m]),
    }
    from .forecast import report_section

    return {"month": ctx.month, "as_of_seq": ctx.as_of_seq, "tables": tables,
            "forecast": report_section(con, m)}


def write_report(con, ctx, stage_dir: Path) -> Path:
    path = stage_dir / "report" / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    html = _env.get_template("report/index.html.j2").render(**report_data(con, ctx))
    path.write_text(html, encoding="utf-8")
    return path
