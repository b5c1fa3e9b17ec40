"""Each office's workload for the next months (issue 18): ``OUT/P/forecast/forecast.{parquet,csv}``.

The run of P forecasts, for every office and month M of P+1 … P+``forecast_horizon`` (a setting,
default 12), what the runs of those months would do **if the push and the applications stayed as
they are at P** and no county feedback came (docs/decisions.md "Issue 18"):

* ``entering`` — persons of P's push outside the ledger after P's run whom the run of M would take
  in (rules.md §3 scope and triggers evaluated at M on P's data), counted in their first such month;
* ``reaching_statutory_age`` — persons in the ledger in M (after P's run, or entering by M) whose
  statutory month S is M;
* ``ledger_persons`` — persons in the ledger after the run of M;
* ``notices_<kind>_<channel>`` — the notices due in M (rules.md §5, §6), by kind and channel;
* ``declarations_<decision>`` — the rows of M's month-start declaration list (rules.md §6).

One set-based pass over P's screening (``sql/forecast/``), not a run per month: every rule is
evaluated at each M by the macros the runs themselves use (``sql/policy/scope.sql``), so the
forecast cannot drift from the rules.  The office is the worklist's (the entry's office; for a
person entering, ``insured_region``; Ningdong under its own code, a setting).

The rows are kept in the warehouse table ``forecast`` (the report and the analysts read it) and
written with the month's files.  Counts only: no ID number, name or phone.

The SQL is the stage's ``STEPS`` (``sql/forecast/``, run by :mod:`pipelines.steps`); what stays in
Python are one-line look-ups with bound values beside the code that uses them (the stored forecast's
totals and horizon, the push state of P's run, the report's rows).
"""

from __future__ import annotations

import logging
from pathlib import Path

from .errors import RetirePrepError
from .policy import format_month, parse_month
from .settings import Settings, load_settings
from .screen import STEPS as SCREEN_STEPS
from .steps import Step, Steps, query, run_step
from .warehouse import connect

log = logging.getLogger(__name__)

#: the forecast's SQL in the order it runs: the people and notices of the horizon (needs ``persons_p``,
#: sql/screen/00_state.sql, made by the run or by :func:`_state_of_month`), the counts, their keeping,
#: the file's rows (a SELECT, streamed)
STEPS = Steps(
    (
        Step("forecast/10_forecast.sql", inputs=("persons_p",)),
        Step("forecast/20_counts.sql"),
        Step("forecast/30_store.sql"),
        Step("forecast/40_file.sql"),
    )
)

KINDS = ("PRE_SERVICE", "AGE_MINUS_3", "AGE_REACHED", "OVERDUE", "DECLARATION", "CONSULTATION", "RESULT")
CHANNELS = ("SMS", "EMPLOYER", "TOWNSHIP")
DECISIONS = ("declaration", "consultation", "follow_up")
NOTICE_COLUMNS = tuple(f"notices_{k.lower()}_{c.lower()}" for k in KINDS for c in CHANNELS)
COUNT_COLUMNS = (
    ("entering", "reaching_statutory_age", "ledger_persons")
    + NOTICE_COLUMNS
    + ("notices_total",)
    + tuple(f"declarations_{d}" for d in DECISIONS)
)
FILE_COLUMNS = ("base_month", "forecast_month", "months_ahead", "office_code", "office_name") + COUNT_COLUMNS
MAX_HORIZON = 60


def check_horizon(horizon) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int) or not 1 <= horizon <= MAX_HORIZON:
        raise RetirePrepError(
            f"forecast horizon must be a whole number of months from 1 to {MAX_HORIZON}, not {horizon!r}"
        )
    return horizon


def _offices(settings: Settings) -> list[str]:
    from .validate import office_codes

    return list(office_codes(settings))


def compute(con, month_mi: int, settings: Settings, horizon: int | None = None, only: str | None = None) -> None:
    """The forecast of P = ``month_mi`` into TEMP tables (``_fc_*``, ``_fc_counts``); needs
    ``persons_p`` (the push state of P).  ``only``: one person's ID number (explain)."""
    horizon = check_horizon(settings.forecast_horizon if horizon is None else horizon)
    params = dict(
        month_mi=int(month_mi),
        horizon=horizon,
        next_month_first=format_month(month_mi + 1) + "-01",
        overdue_every=int(settings.overdue_every_months),
        settings=settings,
        only=only or "",
    )
    run_step(con, STEPS["10_forecast"], **params)
    run_step(con, STEPS["20_counts"], offices=_offices(settings), kinds=KINDS, channels=CHANNELS, **params)


def forecast_month(con, ctx, *, validate: bool = True) -> dict:
    """The run's forecast stage: compute, validate (GX suite ``forecast``) and keep P's forecast in
    the warehouse table ``forecast``, in one transaction.  Needs ``persons_p`` (state views)."""
    horizon = check_horizon(ctx.settings.forecast_horizon)
    con.execute("BEGIN TRANSACTION")
    try:
        compute(con, ctx.month_mi, ctx.settings, horizon)
        run_step(con, STEPS["30_store"], month_mi=ctx.month_mi, horizon=horizon)
        if validate:
            from .validate import validate_frames

            frame = con.execute(_file_query(ctx.month_mi)).df()
            frame["pre_service_notices"] = frame[[f"notices_pre_service_{c.lower()}" for c in CHANNELS]].sum(axis=1)
            frame["notices_by_kind"] = frame[list(NOTICE_COLUMNS)].sum(axis=1)
            frame["age_reached_notices"] = frame[[f"notices_age_reached_{c.lower()}" for c in CHANNELS]].sum(axis=1)
            vdir = (ctx.out / ctx.month / "validation") if ctx.out else None
            validate_frames("forecast", {"forecast": frame}, vdir, label=ctx.month, settings=ctx.settings)
        totals = con.execute(
            "SELECT count(DISTINCT forecast_mi), coalesce(sum(entering), 0), coalesce(sum(notices_total), 0) "
            "FROM forecast WHERE month_mi = ?",
            [ctx.month_mi],
        ).fetchall()[0]
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {"forecast months": totals[0], "forecast entering": int(totals[1]), "forecast notices": int(totals[2])}


def _file_query(month_mi: int, horizon: int | None = None, table: str = "forecast") -> str:
    return query(STEPS["40_file"], month_mi=month_mi, horizon=horizon, table=table, columns=COUNT_COLUMNS)


def _with_office_names(table):
    import pyarrow as pa

    from .notify import offices

    names = offices()
    col = pa.array([names.get(c, {}).get("office_name") for c in table.column("office_code").to_pylist()], pa.string())
    i = table.column_names.index("office_code") + 1
    return table.add_column(i, "office_name", col)


def forecast_table(con, month_mi: int, horizon: int | None = None, table: str = "forecast"):
    """P's stored forecast (or ``table``'s) as an Arrow table with the file's columns (office names added)."""
    return _with_office_names(con.sql(_file_query(month_mi, horizon, table)).to_arrow_table())


def write_forecast(con, ctx, base: Path) -> int:
    """``forecast/forecast.parquet`` and ``.csv`` (Chinese headers) under ``base`` from the stored
    forecast of P; a month run before the forecast existed gets none.  Returns the rows."""
    from .tabular import write_arrow

    if not con.execute("SELECT count(*) FROM forecast WHERE month_mi = ?", [ctx.month_mi]).fetchall()[0][0]:
        return 0
    return write_arrow(forecast_table(con, ctx.month_mi), Path(base) / "forecast" / "forecast")


# ---------------------------------------------------------------- read-only: the command line, explain


def _state_of_month(con, month_mi: int) -> int:
    """TEMP views ``persons_p``/``segments_p`` at the push seq month P's run used; refuses a month
    never run."""
    row = con.execute(
        "SELECT arg_max(as_of_seq, finished_at) FROM month_runs WHERE command = 'run' "
        "AND status = 'DONE' AND NOT replay AND month_mi = ?",
        [month_mi],
    ).fetchall()[0]
    if row is None or row[0] is None:
        raise RetirePrepError(f"month {format_month(month_mi)} has not been run: run it first (retire-prep run)")
    run_step(con, SCREEN_STEPS["00_state"], seq=int(row[0]))
    return int(row[0])


def forecast_rows(month: str, warehouse, horizon: int | None = None, settings: Settings | None = None):
    """``retire-prep forecast``: P's forecast, read-only.  The stored forecast of P's run when it
    covers ``horizon``; else computed now in memory from P's screening (the ledger as it stands, entries
    opened by P) — said in the returned note.  Returns (arrow table, note)."""
    settings = settings or load_settings()
    mi = parse_month(month)
    horizon = check_horizon(settings.forecast_horizon if horizon is None else horizon)
    with connect(warehouse, read_only=True, settings=settings) as con:
        has_table = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'forecast'").fetchall()[0][0]
        stored = (
            con.execute("SELECT max(horizon) FROM forecast WHERE month_mi = ?", [mi]).fetchall()[0][0]
            if has_table
            else None
        )
        if stored is not None and stored >= horizon:
            return forecast_table(con, mi, horizon), f"as the run of {format_month(mi)} made it"
        _state_of_month(con, mi)
        compute(con, mi, settings, horizon)
        return (
            forecast_table(con, mi, horizon, "_fc_counts"),
            f"computed now from the screening of {format_month(mi)} (the run stored "
            + (f"{stored} months" if stored is not None else "no forecast")
            + ")",
        )


def format_rows(table, month: str, note: str) -> list[str]:
    """A plain-text table: one line per office and month (the counts that plan staff)."""
    shown = (
        "forecast_month",
        "office_code",
        "entering",
        "reaching_statutory_age",
        "ledger_persons",
        "notices_total",
        "declarations_declaration",
        "declarations_consultation",
        "declarations_follow_up",
    )
    head = ("month", "office", "entering", "reaching_S", "in_ledger", "notices", "decl", "consult", "follow_up")
    lines = [
        f"forecast of {month}: {note}; the push and the applications as they are at {month}",
        "  ".join(f"{h:>10}" for h in head),
    ]
    rows = table.select(list(shown)).to_pylist()
    for r in rows:
        lines.append("  ".join(f"{str(r[c]):>10}" for c in shown))
    return lines


def entry_forecast_lines(con, id_no: str, month_mi: int, settings: Settings, lang: str = "en") -> list[str]:
    """For a person outside the ledger after P's run: in which month of the horizon, and by which
    rule (rules.md §3), the run would take the person in on P's data (``lang`` ``en`` or ``zh``).  Runs
    in TEMP tables (works on a read-only connection); the caller has checked that P was screened."""
    horizon = check_horizon(settings.forecast_horizon)
    _state_of_month(con, month_mi)
    compute(con, month_mi, settings, horizon, only=id_no)
    rows = con.execute(
        "SELECT entry_mi, scope_rule, by_push, by_application, by_screening, flags FROM _fc_entering"
    ).fetchall()
    row = rows[0] if rows else None
    p, first, last = format_month(month_mi), format_month(month_mi + 1), format_month(month_mi + horizon)
    w, ha, hs = settings.scope_window, settings.application_horizon, settings.screening_horizon
    zh = lang == "zh"
    head = (
        f"预测（issue 18：推送与申请保持 {p} 的状态）："
        if zh
        else f"Forecast (issue 18: the push and the applications as they are at {p}):"
    )
    if row is None:
        return [
            head,
            f"  {first} 至 {last} 不会因 rules.md §3 的任何条件纳入"
            if zh
            else f"  not taken in by any rule of rules.md §3 in {first} … {last}",
        ]
    entry_mi, scope, by_push, by_app, by_screen, flags = row
    why = []
    if by_push:
        why.append(
            {
                "a": f"条件1 部级推送，纳入范围（a）企业职工距原到龄 {w} 个月内",
                "b": "条件1 部级推送，纳入范围（b）企业职工已过原到龄年月且中断缴费",
                "c": f"条件1 部级推送，纳入范围（c）城乡居民距领取年龄 {w} 个月内",
            }[scope]
            if zh
            else {
                "a": f"trigger 1 push, scope (a) 110 within the {w} months before the original age",
                "b": "trigger 1 push, scope (b) 110 past the original age with contribution suspended",
                "c": f"trigger 1 push, scope (c) 170 within the {w} months before the original age",
            }[scope]
        )
    if by_app:
        why.append(f"条件2 本人申请（O − M ≤ {ha}）" if zh else f"trigger 2 application (O − M ≤ {ha})")
    if by_screen:
        why.append(f"条件3 筛查预警：{flags}（O − M ≤ {hs}）" if zh else f"trigger 3 screening: {flags} (O − M ≤ {hs})")
    month = format_month(entry_mi)
    return [head, f"  将于 {month} 纳入：" + "；".join(why) if zh else f"  would enter in {month} by " + "; ".join(why)]


# ---------------------------------------------------------------- the month's report


def _bars_svg(months: list[str], series: list[tuple[str, str, list[int]]], top: int) -> str:
    """A small grouped bar chart as inline SVG (no script, font or style from anywhere): one group
    per month, one bar per series, each bar titled and carrying its number (``data-value``)."""
    from html import escape

    w_bar, gap, h = 7, 4, 60
    group = w_bar * len(series) + gap
    width = group * len(months) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 28}" role="img" '
        f'class="fc-chart" viewBox="0 0 {width} {h + 28}">',
        f'<text x="0" y="10" font-size="9" fill="#555">最高 {top}</text>',
        f'<line x1="24" y1="{h + 12}" x2="{width}" y2="{h + 12}" stroke="#999" stroke-width="0.5"/>',
    ]
    for i, month in enumerate(months):
        x0 = 26 + i * group
        for j, (name, colour, values) in enumerate(series):
            v = values[i]
            bh = 0 if not top else round(h * v / top, 1)
            parts.append(
                f'<rect x="{x0 + j * w_bar}" y="{h + 12 - bh}" width="{w_bar - 1}" height="{bh}" '
                f'fill="{colour}" data-series="{escape(name)}" data-month="{month}" data-value="{v}">'
                f"<title>{escape(month)} {escape(name)} {v}</title></rect>"
            )
        if i % 3 == 0:
            parts.append(f'<text x="{x0}" y="{h + 24}" font-size="8" fill="#555">{month[2:]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def report_section(con, month_mi: int) -> dict | None:
    """P's forecast for the report: per office the months of the horizon with ``entering`` and
    ``reaching_statutory_age``, as a chart (inline SVG) and numbers; None when P has no forecast."""
    from markupsafe import Markup

    from .notify import offices, office_short_name

    rows = con.execute(
        "SELECT office_code, mi_text(forecast_mi), entering, reaching_statutory_age, notices_total, "
        "declarations_declaration + declarations_consultation + declarations_follow_up "
        "FROM forecast WHERE month_mi = ? ORDER BY office_code, forecast_mi",
        [int(month_mi)],
    ).fetchall()
    if not rows:
        return None
    months = sorted({r[1] for r in rows})
    by_office: dict[str, dict] = {}
    for code, month, entering, reaching, notices, decl in rows:
        o = by_office.setdefault(
            code, {"code": code, "entering": [], "reaching": [], "notices": [], "declarations": []}
        )
        o["entering"].append(entering)
        o["reaching"].append(reaching)
        o["notices"].append(notices)
        o["declarations"].append(decl)
    top = max([1] + [v for o in by_office.values() for v in o["entering"] + o["reaching"]])
    names = offices()
    for code, o in by_office.items():
        name = names.get(code, {}).get("office_name")
        o["name"] = office_short_name(name) if name else code
        o["svg"] = Markup(
            _bars_svg(
                months,
                [("预计新纳入", "#4e79a7", o["entering"]), ("预计到达法定退休年龄", "#f28e2b", o["reaching"])],
                top,
            )
        )
    return {
        "months": months,
        "offices": list(by_office.values()),
        "totals": {
            "entering": sum(sum(o["entering"]) for o in by_office.values()),
            "reaching": sum(sum(o["reaching"]) for o in by_office.values()),
        },
    }
