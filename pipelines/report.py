"""The month's supervision report (``report/index.html``): what the region's leaders and the
offices' heads read each month (seed notice 六(三): the region supervises the offices' progress).

Chinese throughout: column names from the data dictionary (:func:`pipelines.labels.column_label`),
codes by their Chinese label with the code small beside it (:func:`pipelines.labels.code_label`),
offices by name.  It opens with the month's key figures and their change against the previous
month, then charts drawn as inline SVG (nothing from the network: no script, font or style), each
followed by the table of its numbers; every mark carries its number (``data-value``), so a test
reads the chart back and compares it with the table.  The 12-month trend comes from the history
the warehouse keeps (each month's published worklist, its notices): a replay of an old month
shows the trend as it stood then, and re-emits the same bytes.

Counts only — never an ID number, a name or a phone.

This module is the page: its charts and tables, put together and rendered
(``templates/report/index.html.j2``); the figures come from :mod:`pipelines.report_figures`, the
SVG from :mod:`pipelines.report_charts`.
"""

from __future__ import annotations

import os
from pathlib import Path

import jinja2

from . import TEMPLATES_DIR
from .labels import code_label, column_label
from .policy import format_month
from .report_charts import Chart, _cell, coded, hbar_chart, line_chart, office
from .report_figures import _rows, _sum, _window, batch_counts, key_figures, office_months

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
    undefined=jinja2.StrictUndefined,
    autoescape=True,
    keep_trailing_newline=True,
)

#: stages shown in the ledger chart, in rules.md §7 order; closed otherwise as one group
STAGES = (
    "ENROLLED",
    "NOTIFIED",
    "ARCHIVE_REVIEWED",
    "YEARS_CONFIRMED",
    "RELATIONS_MERGED",
    "CONCLUDED",
    "CONFIRMED",
    "DECLARED",
    "RETIRED",
)
CHANNELS = ("SMS", "EMPLOYER", "TOWNSHIP")
NOTICE_KINDS = ("PRE_SERVICE", "AGE_MINUS_3", "AGE_REACHED", "OVERDUE", "DECLARATION", "CONSULTATION", "RESULT")


def _cols(*names: str, table: str = "report") -> list[str]:
    return [column_label(n, table) for n in names]


def report_data(con, ctx) -> dict:
    m, s = ctx.month_mi, ctx.as_of_seq
    hist = office_months(con, m)
    now = [r for r in hist if r["month_mi"] == m]
    figures = key_figures(hist, m, batch_counts(con, m), batch_counts(con, m - 1))
    charts: list[Chart] = [
        _overdue_chart(now),
        _stage_chart(now),
        _notices_chart(con, m),
        _flags_chart(con, m),
        _trend_chart(hist, m),
    ]

    from .forecast import report_section

    tables = _tables(con, ctx, now)
    return {
        "month": ctx.month,
        "as_of_seq": s,
        "figures": figures,
        "charts": charts,
        "tables": tables,
        "prev_month": format_month(m - 1),
        "forecast": report_section(con, m),  # issue 18: each office's next months
    }


def _overdue_chart(now: list[dict]) -> Chart:
    """Offices ranked by overdue rate."""
    ranked = sorted(
        (r for r in now if r["ledger_entries"]),
        key=lambda r: (-(r["overdue_entries"] / r["ledger_entries"]), r["office_code"]),
    )
    rate = {
        (r["office_code"], "overdue_rate"): round(100 * r["overdue_entries"] / r["ledger_entries"], 1) for r in ranked
    }
    return Chart(
        "overdue_rate",
        "各经办机构超期率排名",
        hbar_chart(
            "overdue_rate",
            [(r["office_code"], office(r["office_code"])) for r in ranked],
            [("overdue_rate", "超期率")],
            rate,
            unit="%",
            max_value=max(rate.values(), default=0) or 1,
        ),
        ["经办机构", "台账人数", "超期件数", "超期率（%）"],
        [
            [
                office(r["office_code"]),
                r["ledger_entries"],
                r["overdue_entries"],
                _cell(r["office_code"], "overdue_rate", rate[(r["office_code"], "overdue_rate")]),
            ]
            for r in ranked
        ],
        "超期：环节办结时限早于本月1日仍未办结（rules.md §7）。",
    )


def _stage_chart(now: list[dict]) -> Chart:
    """Each office's ledger by stage."""
    stage_series = [(st, code_label("stage", st)) for st in STAGES] + [("CLOSED_OTHER", "其他办结")]
    by_office = sorted(now, key=lambda r: r["office_code"])
    stage_key = {st: st.lower() for st in STAGES} | {"CLOSED_OTHER": "closed_other"}
    sv = {(r["office_code"], st): r[stage_key[st]] for r in by_office for st, _ in stage_series}
    return Chart(
        "ledger_by_stage",
        "各经办机构台账分环节人数",
        hbar_chart(
            "ledger_by_stage",
            [(r["office_code"], office(r["office_code"])) for r in by_office if r["ledger_entries"]],
            stage_series,
            sv,
            unit="人",
        ),
        ["经办机构"] + [n for _, n in stage_series] + ["合计"],
        [
            [office(r["office_code"])]
            + [_cell(r["office_code"], st, sv[(r["office_code"], st)]) for st, _ in stage_series]
            + [r["ledger_entries"]]
            for r in by_office
            if r["ledger_entries"]
        ],
        "其他办结：已死亡、退出推送、已转出（本月办结，本月台账仍列示）。",
    )


def _notices_chart(con, m: int) -> Chart:
    """The notices of P by kind and channel."""
    nk = _rows(con, "SELECT kind, channel, count(*) FROM notice_log WHERE issued_mi = ? GROUP BY ALL", [m])
    kinds = [k for k in NOTICE_KINDS if any(r[0] == k for r in nk)] + sorted({r[0] for r in nk} - set(NOTICE_KINDS))
    nv = {(k, ch): n for k, ch, n in nk}
    ch_series = [(ch, code_label("channel", ch)) for ch in CHANNELS]
    return Chart(
        "notices_by_kind",
        "本月告知：按类型和渠道",
        hbar_chart("notices_by_kind", [(k, coded("notice_kind", k)) for k in kinds], ch_series, nv, unit="条"),
        ["告知类型"] + [n for _, n in ch_series] + ["合计"],
        [
            [coded("notice_kind", k)]
            + [_cell(k, ch, nv.get((k, ch), 0)) for ch, _ in ch_series]
            + [sum(nv.get((k, ch), 0) for ch in CHANNELS)]
            for k in kinds
        ],
    )


def _flags_chart(con, m: int) -> Chart:
    """The flags of P by kind."""
    fl = _rows(con, "SELECT code, count(*) FROM flags WHERE month_mi = ? GROUP BY code ORDER BY 2 DESC, 1", [m])
    return Chart(
        "flags_by_kind",
        "本月预警标识：按类型",
        hbar_chart(
            "flags_by_kind",
            [(c, coded("flag", c)) for c, _ in fl],
            [("persons", "人数")],
            {(c, "persons"): n for c, n in fl},
            unit="人",
        ),
        ["预警标识", "人数"],
        [[coded("flag", c), _cell(c, "persons", n)] for c, n in fl],
        "本月筛查的全部人员中带有该标识的人数（rules.md §4）。",
    )


def _trend_chart(hist: list[dict], m: int) -> Chart:
    """The 12 months' trend, from the months as they were published."""
    months = [format_month(m - k) for k in range(11, -1, -1)]
    run_months = {r["month"] for r in hist}
    tseries = [("ledger_entries", "台账人数"), ("notices_sent", "告知条数"), ("overdue_entries", "超期件数")]
    tv = {
        (mo, key): (_sum([r for r in hist if r["month"] == mo], key) if mo in run_months else None)
        for mo in months
        for key, _ in tseries
    }
    return Chart(
        "trend",
        "近12个月趋势",
        line_chart("trend", months, tseries, tv),
        ["年月"] + [n for _, n in tseries],
        [
            [mo] + [(_cell(mo, key, tv[(mo, key)]) if tv[(mo, key)] is not None else "—") for key, _ in tseries]
            for mo in months
        ],
        "各月数值为该月运行时发布的台账和告知；未运行的月份记为“—”。",
    )


def _tables(con, ctx, now) -> list[tuple[str, list[str], list[list], str]]:
    m, s = ctx.month_mi, ctx.as_of_seq
    lo, hi = _window(con, m)
    return (
        _office_tables(con, m, now) + _ledger_tables(con, m) + _batch_tables(con, s) + _refusal_tables(con, s, lo, hi)
    )


def _office_tables(con, m: int, now: list[dict]) -> list[tuple]:
    """The offices' notices of P, and the month's screening."""
    tables = []
    tables.append(
        (
            "各经办机构本月告知",
            [
                "经办机构",
                "告知合计",
                "短信",
                "经参保单位",
                "经乡镇（街道）",
                "短信计费条数",
                "未结异议",
                "其中：本月到期",
            ],
            [
                [
                    office(r["office_code"]),
                    r["notices_sent"],
                    r["sms_sent"],
                    r["employer_notices"],
                    r["township_notices"],
                    r["sms_segments"],
                    r["objections_open"],
                    r["objections_due_in_month"],
                ]
                for r in sorted(now, key=lambda r: r["office_code"])
            ],
            "",
        )
    )
    scr = con.execute(
        """
        SELECT count(*), count(scope_rule), count(*) FILTER (scope_rule = 'a'), count(*) FILTER (scope_rule = 'b'),
               count(*) FILTER (scope_rule = 'c'), count(*) FILTER (trigger_application),
               count(*) FILTER (trigger_screening), count(*) FILTER (benefit_province <> '640000')
        FROM screen_results WHERE month_mi = ?""",
        [m],
    ).fetchone()
    names = [
        "screened",
        "in_scope",
        "scope_a_110_window",
        "scope_b_suspended_past_age",
        "scope_c_170_window",
        "trigger_application",
        "trigger_screening",
        "benefit_place_outside_ningxia",
    ]
    tables.append(
        (
            "本月筛查",
            ["项目", "人数"],
            [[column_label(n, "report"), v] for n, v in zip(names, scr)],
            "rules.md §3：纳入范围 a/b/c 与触发条件。",
        )
    )
    return tables


def _ledger_tables(con, m: int) -> list[tuple]:
    """The notices withdrawn in P (entry closed), and P's handovers."""
    tables = []
    tables.append(
        (
            "本月告知撤回（台账本月办结，未发出）",
            _cols("office_code", "notice_kind", "entry_closed", "notices"),
            [
                [office(o), coded("notice_kind", k), coded("stage", r), n]
                for o, k, r, n in _rows(
                    con,
                    """
                       SELECT office_code, kind, reason, count(*) FROM notice_withdrawals WHERE withdrawn_mi = ?
                       GROUP BY ALL ORDER BY ALL""",
                    [m],
                )
            ],
            "",
        )
    )
    tables.append(
        (
            "本月交接",
            _cols("kind", "from_code", "to_code", "persons"),
            [
                [coded("handover", k), office(f), office(t), n]
                for k, f, t, n in _rows(
                    con,
                    """
                       SELECT kind, from_code, to_code, count(*) FROM handovers WHERE month_mi = ?
                       GROUP BY ALL ORDER BY ALL""",
                    [m],
                )
            ],
            "",
        )
    )
    return tables


def _batch_tables(con, s: int) -> list[tuple]:
    """The push batches applied up to seq s, with their row accounting."""
    tables = []
    tables.append(
        (
            "推送批次（push-format.md 行数核对）",
            _cols(
                "seq",
                "batch_id",
                "push_type",
                "data_month",
                "status",
                "persons_rows",
                "persons_accepted",
                "persons_quarantined",
                "segments_rows",
                "segments_accepted",
                "segments_quarantined",
                "rows_balanced",
                "warnings",
            ),
            [
                [
                    r[0],
                    r[1],
                    coded("push_type", r[2]),
                    r[3],
                    coded("batch_status", r[4]),
                    *r[5:11],
                    "是" if r[11] else "否",
                    r[12],
                ]
                for r in _rows(
                    con,
                    """
                       SELECT seq, batch_id, push_type, data_month, status, persons_rows, persons_accepted,
                              persons_quarantined, segments_rows, segments_accepted, segments_quarantined,
                              rows_balanced, warnings
                       FROM batches WHERE status <> 'REFUSED' AND seq <= ? ORDER BY seq""",
                    [s],
                )
            ],
            "",
        )
    )
    return tables


def _refusal_tables(con, s: int, lo, hi) -> list[tuple]:
    """The batches refused in P's window (lo, hi], and the quarantined rows up to seq s."""
    tables = []
    tables.append(
        (
            "拒收批次（上月运行后至本月运行）",
            _cols("batch_id", "seq", "message"),
            [
                list(r)
                for r in _rows(
                    con,
                    """
                       SELECT batch_id, seq, message FROM batches
                       WHERE status = 'REFUSED' AND (CAST(? AS TIMESTAMPTZ) IS NULL OR received_at > ?)
                         AND (CAST(? AS TIMESTAMPTZ) IS NULL OR received_at <= ?)
                       ORDER BY received_at, 1, 3""",
                    [lo, lo, hi, hi],
                )
            ],
            "",
        )
    )
    tables.append(
        (
            "隔离行：按原因",
            _cols("batch_id", "file", "reason_code", "rows"),
            [
                list(r)
                for r in _rows(
                    con,
                    """
                       SELECT batch_id, file, reason_code, count(*) FROM quarantine WHERE seq <= ?
                       GROUP BY ALL ORDER BY ALL""",
                    [s],
                )
            ],
            "",
        )
    )
    return tables


def write_report(con, ctx, stage_dir: Path) -> Path:
    path = stage_dir / "report" / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    html = _env.get_template("report/index.html.j2").render(**report_data(con, ctx))
    tmp = path.with_name(path.name + ".tmp")  # the DAG writes it in place: never half a report
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path
