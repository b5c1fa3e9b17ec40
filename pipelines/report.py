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
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import jinja2
from markupsafe import Markup

from . import TEMPLATES_DIR
from .labels import code_label, column_label
from .policy import format_month
from .report_batches import batch_tables
from .report_charts import Chart, Code, _cell, hbar_chart, line_chart
from .steps import Step, Steps, query, run_step

#: what the report reads, one query a step (the month's values bound, never rendered): the analysts'
#: office history (its upto_mi/include_mi rendered), then the report's own figures and tables
STEPS = Steps(
    [Step("analysts/office_month.sql")]
    + [
        Step(f"report/{name}.sql")
        for name in (
            "10_window",
            "20_refused_count",
            "25_held_batches",
            "30_notice_kinds",
            "35_flags",
            "40_screening",
            "45_withdrawals",
            "50_handovers",
            "55_batches",
            "60_refused_batches",
            "65_quarantine",
            "70_skipped_reminders",
        )
    ]
)

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
    undefined=jinja2.StrictUndefined,
    autoescape=True,
    keep_trailing_newline=True,
)
_NUMERIC = re.compile(r"[-+]?[0-9][0-9,]*(\.[0-9]+)?%?")
#: a table cell aligned right: a number, or a number already formatted ("96.5"); text left
#: (a chart's data cell is Markup: its text is what is compared)
_env.tests["numeric"] = lambda v: (
    (isinstance(v, (int, float)) and not isinstance(v, bool))
    or bool(isinstance(v, str) and _NUMERIC.fullmatch(v.striptags() if isinstance(v, Markup) else v))
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


def coded(kind: str, code) -> Code | str:
    return "" if code is None else Code(code_label(kind, code), str(code))


def office(code) -> Code | str:
    from .notify import office_short_name, offices, recipient_name

    if code is None:
        return ""
    o = offices().get(code)
    return Code(office_short_name(o["office_name"]) if o else recipient_name(code), code)


def _rows(con, step: str, params=None) -> list[tuple]:
    return run_step(con, STEPS[step], bind=list(params or []))


def _cols(*names: str, table: str = "report") -> list[str]:
    return [column_label(n, table) for n in names]


# ------------------------------------------------------------------------ figures from the warehouse


def office_months(con, upto_mi: int) -> list[dict]:
    """sql/analysts/office_month.sql up to P (P's run counted as run): the analysts' history table."""
    cur = con.execute(query(STEPS["office_month"], upto_mi=upto_mi, include_mi=upto_mi))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _window(con, mi: int) -> tuple:
    """(lo, hi): the refusals of month mi are those received after the previous month's run and
    up to the run that published mi (a replay: the original run, so it re-emits what was published)."""
    return _rows(con, "10_window", [mi, mi, mi])[0]


def batch_counts(con, mi: int) -> dict | None:
    """Refused batches of month mi's window, and batches held (waiting for a missing seq) at its run."""
    lo, hi = _window(con, mi)
    if hi is None:
        return None
    refused = _rows(con, "20_refused_count", [lo, lo, hi])[0][0]
    held = len(_rows(con, "25_held_batches", [hi, hi, hi]))
    return {"refused": refused, "held": held}


def _sum(rows: list[dict], key: str) -> int:
    return sum(r[key] or 0 for r in rows)


def baseline_month(hist: list[dict], mi: int) -> int | None:
    """The month the key figures are compared with: the last month run before mi (P-1, or the month
    before a skipped stretch; docs/decisions.md "The report's comparison"), None when mi is the first."""
    return max((r["month_mi"] for r in hist if r["month_mi"] < mi), default=None)


def comparison(hist: list[dict], mi: int) -> dict:
    """What the key figures are compared with, in the words the page shows."""
    base = baseline_month(hist, mi)
    if base is None:
        return {"month": None, "text": "本月为首次运行，无上月可比较。", "label": "上月"}
    gap = [format_month(k) for k in range(base + 1, mi)]
    first = base == min(r["month_mi"] for r in hist)
    text = f"与{format_month(base)}比较的变化列于各项数字下方"
    text += f"（{'、'.join(gap)}未运行）。" if gap else "。"
    if first:
        text += f"{format_month(base)}为首次运行，当月台账人员全部为新纳入，本月新纳入不与其比较。"
    return {"month": base, "text": text, "label": "上月" if not gap else format_month(base), "first": first}


def key_figures(hist: list[dict], mi: int, batches_now, batches_prev, base: dict | None = None) -> list[dict]:
    """The month's key figures, each with its change against the comparison month (:func:`comparison`:
    the last month run before mi; no change shown when there is none, and none for 本月新纳入 against
    the first month run, in which everyone was new)."""
    base = base or comparison(hist, mi)
    now = [r for r in hist if r["month_mi"] == mi]
    prev = [r for r in hist if r["month_mi"] == base["month"]]
    has_prev = base["month"] is not None

    def fig(label, key=None, value=None, prev_value=None, unit="", rate=False, worse_up=False, compare=True):
        v = _sum(now, key) if key else value
        p = (_sum(prev, key) if key else prev_value) if has_prev and compare else None
        return {
            "label": label,
            "value": v,
            "prev": p,
            "unit": unit,
            "rate": rate,
            "worse_up": worse_up,
            "delta": None if p is None or v is None else round(v - p, 1) if rate else v - p,
            "versus": base["label"],
            "note": "" if compare or not has_prev else f"{base['label']}为首次运行，不作比较",
        }

    def rate(rows):  # None when no person is in the ledger: 0 of 0 is no rate
        n = _sum(rows, "ledger_entries")
        return round(100 * _sum(rows, "overdue_entries") / n, 1) if n else None

    figures = [
        fig("台账人数", "ledger_entries", unit="人"),
        fig("本月新纳入", "new_entries", unit="人", compare=not base.get("first")),
        fig("本月告知合计", "notices_sent", unit="条"),
        fig("其中：短信", "sms_sent", unit="条"),
        fig("其中：经参保单位", "employer_notices", unit="条"),
        fig("其中：经乡镇（街道）", "township_notices", unit="条"),
        fig("超期件数", "overdue_entries", unit="件", worse_up=True),
        fig("超期率", value=rate(now), prev_value=rate(prev), unit="%", rate=True, worse_up=True),
        fig("未结异议", "objections_open", unit="件", worse_up=True),
        fig("其中：已超期", "objections_overdue", unit="件", worse_up=True),
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


def skipped_reminders(con, mi: int, skipped: tuple[int, ...]) -> list[tuple]:
    """(reference month, kind, notices) of the skipped months' reminders in month mi's batch."""
    return _rows(con, "70_skipped_reminders", [mi, min(skipped), max(skipped)]) if skipped else []


def skipped_section(con, mi: int) -> dict | None:
    """The report's warning when months were skipped before mi: which, and their reminders caught up
    in mi's batch by month and kind (None when none was skipped)."""
    from .monthly import skipped_months

    skipped = skipped_months(con, mi)
    if not skipped:
        return None
    n = {(m, k): c for m, k, c in skipped_reminders(con, mi, skipped)}
    kinds = ("AGE_MINUS_3", "AGE_REACHED")
    return {
        "last": format_month(skipped[0] - 1),
        "months": [format_month(m) for m in skipped],
        "columns": ["未运行的月份"] + [code_label("notice_kind", k) for k in kinds],
        "rows": [[format_month(m)] + [n.get((m, k), 0) for k in kinds] for m in skipped],
        "total": sum(n.values()),
    }


# ------------------------------------------------------------------------ the report


def calendar_section(ctx) -> dict | None:
    """The report's warning when the working-day calendar lacks what the objection deadlines of
    results received in P or P+1 need (rules.md §7; None when it lacks nothing).  It reflects the
    calendar file as it is when the report is written."""
    from .workdays import CalendarFileError, month_outlook

    n = ctx.settings.objection_working_days
    try:
        o = month_outlook(ctx.month_mi, n)
    except CalendarFileError:  # the run's log names the line; the report says it cannot tell
        return {"days": n, "broken": True, "year": None, "open_from": None, "regional": []}
    if o.unknown_year is None and not o.regional_years:
        return None
    return {
        "broken": False,
        "days": n,
        "year": o.unknown_year,
        "open_from": o.open_from.isoformat() if o.open_from else None,
        "regional": [str(y) for y in o.regional_years],
    }


#: an office with fewer persons in the ledger is listed after the ranking, not ranked: one person
#: more or less overdue moves its rate by 5 points or more (docs/decisions.md "The report's ranking")
MIN_RANKED = 20


def overdue_ranking(now: list[dict]) -> Chart:
    """Chart 1: the offices by overdue rate, the worse first; at the same rate the office with more
    persons overdue first.  Offices under MIN_RANKED persons follow, greyed and unranked; offices
    of the region with no one in the ledger are named in the note."""
    from .notify import office_short_name, offices

    rows = [r for r in now if r["ledger_entries"]]
    pct = {r["office_code"]: round(100 * r["overdue_entries"] / r["ledger_entries"], 1) for r in rows}

    def order(r):
        return (-pct[r["office_code"]], -r["overdue_entries"], r["office_code"])

    ranked = sorted((r for r in rows if r["ledger_entries"] >= MIN_RANKED), key=order)
    small = sorted((r for r in rows if r["ledger_entries"] < MIN_RANKED), key=order)
    values = {(r["office_code"], "overdue_rate"): pct[r["office_code"]] for r in rows}
    shown = {
        r["office_code"]: f"{pct[r['office_code']]:.1f}%（{r['overdue_entries']}/{r['ledger_entries']}人）"
        for r in rows
    }
    empty = sorted(set(offices()) - {r["office_code"] for r in rows})
    note = (
        "超期率＝超期件数÷台账人数；超期：环节办结时限早于本月1日仍未办结（业务规则§7）。"
        "按超期率从高到低排名，超期率相同时超期件数多的在前；"
        f"台账不足{MIN_RANKED}人的经办机构比率受个别人员影响大，列于最后（灰色），不参与排名。"
    )
    if empty:
        note += "本月台账无人员：" + "、".join(office_short_name(offices()[o]["office_name"]) for o in empty) + "。"
    return Chart(
        "overdue_rate",
        "各经办机构超期率排名",
        hbar_chart(
            "overdue_rate",
            [(r["office_code"], office(r["office_code"])) for r in ranked + small],
            [("overdue_rate", "超期率")],
            values,
            unit="%",
            max_value=max(values.values(), default=0) or 1,
            value_text=shown,
            muted={r["office_code"] for r in small},
        ),
        ["排名", "经办机构", "台账人数", "超期件数", "超期率（%）"],
        [
            [
                k if k else "—",
                office(r["office_code"]),
                r["ledger_entries"],
                r["overdue_entries"],
                _cell(r["office_code"], "overdue_rate", pct[r["office_code"]]),
            ]
            for k, r in [(i + 1, r) for i, r in enumerate(ranked)] + [(None, r) for r in small]
        ],
        note,
    )


def report_data(con, ctx) -> dict:
    # One piece on purpose: it reads top to bottom as the report does (key figures, then charts
    # 1-5 in page order, then the tables); each numbered block builds one chart and its table from
    # the same values, and splitting them would only pass `now`/`hist` and the month around.
    m, s = ctx.month_mi, ctx.as_of_seq
    hist = office_months(con, m)
    now = [r for r in hist if r["month_mi"] == m]
    base = comparison(hist, m)
    prev_batches = batch_counts(con, base["month"]) if base["month"] is not None else None
    figures = key_figures(hist, m, batch_counts(con, m), prev_batches, base)
    charts: list[Chart] = []

    # 1. offices ranked by overdue rate: fair between sizes (docs/decisions.md "The report's ranking")
    charts.append(overdue_ranking(now))

    # 2. each office's ledger by stage
    stage_series = [(st, code_label("stage", st)) for st in STAGES] + [("CLOSED_OTHER", "其他办结")]
    by_office = sorted(now, key=lambda r: r["office_code"])
    stage_key = {st: st.lower() for st in STAGES} | {"CLOSED_OTHER": "closed_other"}
    sv = {(r["office_code"], st): r[stage_key[st]] for r in by_office for st, _ in stage_series}
    charts.append(
        Chart(
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
    )

    # 3. notices by kind and channel
    nk = _rows(con, "30_notice_kinds", [m])
    kinds = [k for k in NOTICE_KINDS if any(r[0] == k for r in nk)] + sorted({r[0] for r in nk} - set(NOTICE_KINDS))
    nv = {(k, ch): n for k, ch, n in nk}
    ch_series = [(ch, code_label("channel", ch)) for ch in CHANNELS]
    charts.append(
        Chart(
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
    )

    # 4. flags by kind
    fl = _rows(con, "35_flags", [m])
    charts.append(
        Chart(
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
            "本月筛查的全部人员中带有该标识的人数（业务规则§4）。",
        )
    )

    # 5. the 12 months' trend, from the months as they were published
    months = [format_month(m - k) for k in range(11, -1, -1)]
    run_months = {r["month"] for r in hist}
    tseries = [("ledger_entries", "台账人数"), ("notices_sent", "告知条数"), ("overdue_entries", "超期件数")]
    tv = {
        (mo, key): (_sum([r for r in hist if r["month"] == mo], key) if mo in run_months else None)
        for mo in months
        for key, _ in tseries
    }
    charts.append(
        Chart(
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
    )

    from .forecast import report_section

    tables = _tables(con, ctx, now)
    return {
        "month": ctx.month,
        "as_of_seq": s,
        "figures": figures,
        "charts": charts,
        "tables": tables,
        "comparison": base["text"],
        "forecast": report_section(con, m),  # issue 18: each office's next months
        "skipped": skipped_section(con, m),  # months not run before this one (docs/decisions.md)
        "calendar": calendar_section(ctx),  # what the working-day calendar lacks (docs/operations.md)
    }


def _tables(con, ctx, now) -> list[tuple[str, list[str], list[list], str]]:
    # One piece on purpose: a flat list of the report's tables in page order, each a literal
    # (title, column names, rows, note) over one query step; splitting would scatter the page order.
    m, s = ctx.month_mi, ctx.as_of_seq
    lo, hi = _window(con, m)
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
                "其中：已超期",
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
                    r["objections_overdue"],
                    r["objections_due_in_month"],
                ]
                for r in sorted(now, key=lambda r: r["office_code"])
            ],
            "未结异议：材料不全待补正或已受理待复核的异议；其中已超期：所在环节办结时限早于本月1日；"
            "其中本月到期：办结时限在本月内、尚未超期（业务规则§7）。",
        )
    )
    scr = _rows(con, "40_screening", [m])[0]
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
            "业务规则§3：纳入范围 a/b/c 与触发条件。",
        )
    )
    tables.append(
        (
            "本月告知撤回（台账本月办结，未发出）",
            _cols("office_code", "notice_kind", "entry_closed", "notices"),
            [
                [office(o), coded("notice_kind", k), coded("stage", r), n]
                for o, k, r, n in _rows(con, "45_withdrawals", [m])
            ],
            "",
        )
    )
    tables.append(
        (
            "本月交接",
            _cols("kind", "from_code", "to_code", "persons"),
            [[coded("handover", k), office(f), office(t), n] for k, f, t, n in _rows(con, "50_handovers", [m])],
            "",
        )
    )
    tables += batch_tables(con, s, lo, hi)  # the push's batches: applied, held, refused, quarantined
    return tables


def write_report(con, ctx, stage_dir: Path) -> Path:
    path = stage_dir / "report" / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    html = _env.get_template("report/index.html.j2").render(**report_data(con, ctx))
    tmp = path.with_name(path.name + ".tmp")  # the DAG writes it in place: never half a report
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path
