"""The supervision report's figures from the warehouse (issue 15: split from
``pipelines/report.py``): the offices' monthly history (the analysts' table), the batches of a
month's window, and the month's key figures with their change against the previous month.
Counts only.
"""

from __future__ import annotations

from .warehouse import render_sql


def _rows(con, sql: str, params=None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def office_months(con, upto_mi: int) -> list[dict]:
    """sql/analysts/office_month.sql up to P (P's run counted as run): the analysts' history table."""
    cur = con.execute(render_sql("analysts/office_month.sql", upto_mi=upto_mi, include_mi=upto_mi))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _window(con, mi: int) -> tuple:
    """(lo, hi): the refusals of month mi are those received after the previous month's run and
    up to the run that published mi (a replay: the original run, so it re-emits what was published)."""
    return con.execute(
        """
        SELECT (SELECT max(started_at) FROM month_runs
                WHERE command = 'run' AND status = 'DONE' AND NOT replay AND month_mi < ?) AS lo,
               coalesce((SELECT max(started_at) FROM month_runs
                         WHERE command = 'run' AND month_mi = ? AND status = 'RUNNING' AND NOT replay),
                        (SELECT max(started_at) FROM month_runs
                         WHERE command = 'run' AND status = 'DONE' AND NOT replay AND month_mi = ?)) AS hi""",
        [mi, mi, mi],
    ).fetchone()


def batch_counts(con, mi: int) -> dict | None:
    """Refused batches of month mi's window, and batches held (waiting for a missing seq) at its run."""
    lo, hi = _window(con, mi)
    if hi is None:
        return None
    refused = con.execute(
        "SELECT count(*) FROM batches WHERE status = 'REFUSED' AND (? IS NULL OR received_at > ?) AND received_at <= ?",
        [lo, lo, hi],
    ).fetchone()[0]
    held = con.execute(
        """
        SELECT count(*) FROM push_batches b WHERE b.received_at <= ? AND (
            b.status = 'HELD' OR (b.status = 'APPLIED' AND b.applied_at > ?)
            OR (b.status = 'SUPERSEDED' AND EXISTS (SELECT 1 FROM push_batches f WHERE f.push_type = 'FULL'
                                                    AND f.seq > b.seq AND f.applied_at > ?)))""",
        [hi, hi, hi],
    ).fetchone()[0]
    return {"refused": refused, "held": held}


def _sum(rows: list[dict], key: str) -> int:
    return sum(r[key] or 0 for r in rows)


def key_figures(hist: list[dict], mi: int, batches_now, batches_prev) -> list[dict]:
    """The month's key figures, each with its change against the previous month (— when that
    month was not run)."""
    now = [r for r in hist if r["month_mi"] == mi]
    prev = [r for r in hist if r["month_mi"] == mi - 1]
    has_prev = bool(prev)

    def fig(label, key=None, value=None, prev_value=None, unit="", rate=False, worse_up=False):
        v = _sum(now, key) if key else value
        p = (_sum(prev, key) if key else prev_value) if has_prev else None
        return {
            "label": label,
            "value": v,
            "prev": p,
            "unit": unit,
            "rate": rate,
            "worse_up": worse_up,
            "delta": None if p is None or v is None else round(v - p, 1) if rate else v - p,
        }

    def rate(rows):
        n = _sum(rows, "ledger_entries")
        return round(100 * _sum(rows, "overdue_entries") / n, 1) if n else 0.0

    figures = [
        fig("台账人数", "ledger_entries", unit="人"),
        fig("本月新纳入", "new_entries", unit="人"),
        fig("本月告知合计", "notices_sent", unit="条"),
        fig("其中：短信", "sms_sent", unit="条"),
        fig("其中：经参保单位", "employer_notices", unit="条"),
        fig("其中：经乡镇（街道）", "township_notices", unit="条"),
        fig("超期件数", "overdue_entries", unit="件", worse_up=True),
        fig("超期率", value=rate(now), prev_value=rate(prev), unit="%", rate=True, worse_up=True),
        fig("未结异议", "objections_open", unit="件", worse_up=True),
        fig("其中：本月到期", "objections_due_in_month", unit="件", worse_up=True),
        fig(
            "拒收批次",
            value=batches_now["refused"] if batches_now else 0,
            prev_value=batches_prev["refused"] if batches_prev else None,
            unit="批",
            worse_up=True,
        ),
        fig(
            "暂存待补批次",
            value=batches_now["held"] if batches_now else 0,
            prev_value=batches_prev["held"] if batches_prev else None,
            unit="批",
            worse_up=True,
        ),
    ]
    if not batches_prev:
        figures[-1]["prev"] = figures[-2]["prev"] = figures[-1]["delta"] = figures[-2]["delta"] = None
    return figures
