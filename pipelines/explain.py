"""``retire-prep explain ID_NO --month P``: every decision about one person, with its rule.

Read-only.  For an officer at the terminal: the person is shown by the
pseudonymous key and office, never by name or phone; each line names the
rules.md section (and national document) that made the decision.
"""

from __future__ import annotations

from pathlib import Path

from .contract import shown_file_name  # a transition's source names the feedback file
from .errors import RetirePrepError
from .policy import format_month, parse_month
from .settings import load_settings
from .steps import Step, Steps, query, run_step
from .warehouse import connect

#: what explain reads of one person (read-only; the ID number and month are bound, never rendered)
STEPS = Steps(
    Step(f"explain/{name}.sql")
    for name in (
        "10_screening",
        "15_person_key",
        "20_flags",
        "30_entries",
        "35_conclusions",
        "37_objections",
        "38_declarations",
        "40_transitions",
        "50_notices",
        "55_withdrawn",
        "60_handovers",
        "70_in_ledger",
    )
)


def _m(mi) -> str:
    return "—" if mi is None else format_month(int(mi))


def explain_person(id_no: str, month: str, warehouse: str | Path, lang: str = "en") -> str:
    """The explanation in ``lang``: ``zh`` for the county officer (``retire-prep explain``'s
    default: every code with its label of ``data/labels.csv``, the evidence in Chinese), ``en`` for
    the division's engineers."""
    # One piece (issue 15): the explanation is one story told in the order of rules.md (ledger,
    # screening, scope, flags, notices, declaration); each part is a few lines of its own query.
    if lang not in ("zh", "en"):
        raise RetirePrepError(f"--lang must be zh or en, not {lang!r}")
    settings = load_settings()
    id_no = id_no.strip().upper()
    mi = parse_month(month)
    with connect(warehouse, read_only=True, settings=settings) as con:
        r = con.execute(query(STEPS["10_screening"]), [mi, id_no]).df()
        key = run_step(con, STEPS["15_person_key"], bind=[id_no])[0][0]
        if r.empty:
            raise RetirePrepError(
                f"person {key} was not screened in {format_month(mi)} (not in the push, or the month was not run)"
            )
        r = r.iloc[0]
        flags = run_step(con, STEPS["20_flags"], bind=[mi, id_no])
        entries = run_step(con, STEPS["30_entries"], bind=[id_no])
        trans = run_step(con, STEPS["40_transitions"], bind=[id_no])
        fb = [run_step(con, STEPS[n], bind=[id_no]) for n in ("35_conclusions", "37_objections", "38_declarations")]
        notices = run_step(con, STEPS["50_notices"], bind=[id_no])
        withdrawn = (
            run_step(con, STEPS["55_withdrawn"], bind=[id_no])
            if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'notice_withdrawals'").fetchall()[
                0
            ][0]
            else []
        )
        hand = run_step(con, STEPS["60_handovers"], bind=[id_no])
        outside = _forecast_lines(con, id_no, mi, settings)
        outside_zh = _forecast_lines(con, id_no, mi, settings, "zh") if outside else []

    P = mi
    O, S = int(r.original_age_mi), int(r.statutory_age_mi)
    ins = int(r.insurance_type)
    age_years = (O - int(r.birth_mi)) // 12
    ptype_code = None if r.person_type is None or str(r.person_type) in ("<NA>", "nan") else int(r.person_type)
    if lang == "zh":
        return "\n".join(
            _zh(settings, key, r, P, O, S, ins, age_years, ptype_code, flags, entries, trans, notices, withdrawn, hand)
            + _feedback_lines(*fb, "zh")
            + ([""] + outside_zh if outside_zh else [])
        )
    who = {1: "man", 2: "woman"}[int(r.gender)]
    ptype = "" if ptype_code is None else f", person_type {ptype_code}"
    L = [f"Person {key}  (office {r.office_code}, insurance_type {ins}, {who}{ptype}) — month {format_month(P)}", ""]
    L.append("Ages and months (rules.md §1; 国务院关于渐进式延迟法定退休年龄的办法):")
    L.append(f"  birth month {_m(r.birth_mi)} (archive birth_date, never the ID number)")
    L.append(f"  original statutory age {age_years} → original age month O = {_m(O)}  (O − P = {O - P})")
    if ins == 110:
        L.append(f"  reform delay {int(r.delay_months)} months → statutory month S = {_m(S)}  (S − P = {S - P})")
        L.append(f"  flexible window (弹性退休) {_m(r.flexible_earliest_mi)} … {_m(r.flexible_latest_mi)}")
    else:
        L.append(f"  urban-rural resident: benefit-claiming age 60, S = O = {_m(S)}")
    L.append(f"  benefit start month {_m(r.benefit_start_mi)} (S + {settings.benefit_start_offset})")
    L.append(
        f"  minimum contribution months for {S // 12}: {int(r.min_contribution_months)}; counted "
        f"{int(r.counted_months)}, projected {int(r.projected_months)}"
    )
    L.append("")
    L.append("Benefit-claiming place (rules.md §2; 国办发〔2009〕66号 第六条, 人社部规〔2016〕5号):")
    L.append(f"  computed {r.benefit_province} by {r.place_rule}; months per province: {r.place_evidence or 'none'}")
    L.append("")
    L.append("Scope and triggers (rules.md §3):")
    alive = "alive" if r.alive else "deceased"
    L.append(f"  {alive}, retired={bool(r.retired)}, in push={bool(r.in_push)}, benefit place {r.benefit_province}")
    scope_txt = {
        "a": f"(a) 110 with 0 ≤ O − P = {O - P} ≤ {settings.scope_window}",
        "b": f"(b) 110 past original age (O − P = {O - P}) and contribution suspended",
        "c": f"(c) 170 with 0 ≤ O − P = {O - P} ≤ {settings.scope_window}",
    }
    L.append("  in scope: " + (scope_txt.get(r.scope_rule) if r.scope_rule else "no"))
    L.append(
        f"  trigger 1 push: {bool(r.trigger_push)}; trigger 2 application (O − P ≤ "
        f"{settings.application_horizon}): {bool(r.trigger_application)}; trigger 3 screening (a flag and "
        f"O − P ≤ {settings.screening_horizon}): {bool(r.trigger_screening)}"
    )
    L.append("")
    L.append("Flags (rules.md §4):" + ("" if flags else " none"))
    L += [f"  {c}: {e}" for c, e in flags]
    L.append("")
    L.append("Ledger (rules.md §3, §7):" + ("" if entries else " never taken in"))
    for e in entries:
        L.append(
            f"  entry {e[0]}: office {e[1]}, opened {e[2]} by {e[3]}, stage {e[4]}, officer {e[5]}, "
            f"due {e[6]}"
            + (f", closed {e[7]} ({e[8]})" if e[7] else "")
            + (f", elected retirement month {e[9]}" if e[9] else "")
        )
    for t in trans:
        L.append(f"    {t[3]}  {t[1]} → {t[2]}  [{shown_file_name(t[4])}] {t[5]}")
    L.append("")
    L.append("Notices (rules.md §5):" + ("" if notices or withdrawn else " none"))
    L += [f"  {n[0]} for {n[1]} (issued {n[2]}) via {n[3]} {n[4]}" for n in notices]
    L += [f"  {w[0]} for {w[1]} withdrawn unsent by the run of {w[2]}: entry closed {w[3]}" for w in withdrawn]
    if hand:
        L.append("")
        L.append("Handovers:")
        L += [f"  {h[0]} {h[1]}: {h[2]} → {h[3]} ({h[4]})" for h in hand]
    L += _feedback_lines(*fb, "en")
    if outside:
        L += [""] + outside
    return "\n".join(L)


def _feedback_lines(conclusions, objections, declarations, lang: str) -> list[str]:
    """Conclusions, objections and declaration screenings (rules.md §6, §7): what the county offices
    reported and the month-start screening decided, with the objection deadline (待定 while the
    working-day calendar lacks a year it reaches)."""
    from .labels import code_label as lb

    zh = lang == "zh"
    if not (conclusions or objections or declarations):
        return []
    L = [
        "",
        "结论、异议与申报（rules.md §6、§7）：" if zh else "Conclusions, objections, declarations (rules.md §6, §7):",
    ]
    for c in conclusions:
        due = c[6] if c[7] != "CALENDAR_UNKNOWN" else ("待定（节假日安排未录入）" if zh else "open (calendar)")
        if zh:
            L.append(
                f"  结论 v{c[1]}（台账 {c[0]}）：{c[2]} 作出，档案{lb('archive_conclusion', c[3])}，认定缴费 {c[4]} 个月；"
                f"送达 {c[5] or '—'}，异议截止 {due or '—'}"
                + (f"，{c[8]} 确认（{lb('confirmer', c[9])}）" if c[8] else "")
                + (f"，{c[10]} 被新版本取代" if c[10] else "")
            )
        else:
            L.append(
                f"  conclusion v{c[1]} (entry {c[0]}): issued {c[2]}, archive {c[3]}, counted {c[4]} months; "
                f"received {c[5] or '—'}, objection deadline {due or '—'}"
                + (f", confirmed {c[8]} by {c[9]}" if c[8] else "")
                + (f", superseded {c[10]}" if c[10] else "")
            )
    for o in objections:
        missing = f"，待补 {o[7]}" if zh and o[7] else (f", missing {o[7]}" if o[7] else "")
        if zh:
            L.append(
                f"  异议 {o[1]}（对结论 v{o[2]}）：{o[3]} 提出，期限 {o[4] or '待定'}（{lb('timeliness', o[5])}），"
                f"{lb('objection_status', o[6])}{missing}"
                + (f"，受理于 {o[8]}" if o[8] else "")
                + (f"，办结于 {o[9]}" if o[9] else "")
            )
        else:
            L.append(
                f"  objection {o[1]} (to v{o[2]}): filed {o[3]}, deadline {o[4] or 'open'} ({o[5]}), {o[6]}{missing}"
                + (f", accepted {o[8]}" if o[8] else "")
                + (f", resolved {o[9]}" if o[9] else "")
            )
    for d in declarations:
        if zh:
            L.append(f"  {d[0]} 月初申报筛查：{lb('decision', d[1])}，{lb('retirement_source', d[3])} {d[2]}")
        else:
            L.append(f"  declaration screening {d[0]}: {d[1]} for {d[2]} ({d[3]}; {d[4]})")
    return L


def _forecast_lines(con, id_no: str, month_mi: int, settings, lang: str = "en") -> list[str]:
    """For a person outside the ledger after P's run: in which month and by which rule of rules.md §3
    the run would take them in, on P's data (issue 18, pipelines.forecast); nothing for a person in
    the ledger, or when P's run is not on record."""
    from .forecast import entry_forecast_lines

    in_ledger = run_step(con, STEPS["70_in_ledger"], bind=[id_no, month_mi, month_mi])[0][0]
    if in_ledger:
        return []
    try:
        return entry_forecast_lines(con, id_no, month_mi, settings, lang)
    except RetirePrepError:  # the month's run is not on record (screened only): no forecast to tell
        return []


def _zh(
    settings, key, r, P, O, S, ins, age_years, ptype_code, flags, entries, trans, notices, withdrawn, hand
) -> list[str]:
    """The explanation in Chinese (labels and evidence from data/labels.csv)."""
    from .labels import detail_zh, evidence_zh, label, labels_joined

    def yn(v) -> str:
        return "是" if bool(v) else "否"

    who = label("gender", int(r.gender))
    ptype = "" if ptype_code is None else f"，人员身份 {label('person_type', ptype_code)}"
    L = [f"人员 {key}（经办机构 {r.office_code}，{label('insurance_type', ins)}，{who}{ptype}）— {format_month(P)}", ""]
    L.append("到龄年月（rules.md §1；《国务院关于渐进式延迟法定退休年龄的办法》）：")
    L.append(f"  出生年月 {_m(r.birth_mi)}（取档案出生日期，不取身份证号码）")
    L.append(f"  原法定退休年龄 {age_years} 岁 → 原到龄年月 O = {_m(O)}（O − P = {O - P}）")
    if ins == 110:
        L.append(f"  改革延迟 {int(r.delay_months)} 个月 → 法定退休年龄到龄年月 S = {_m(S)}（S − P = {S - P}）")
        L.append(f"  弹性退休区间 {_m(r.flexible_earliest_mi)} 至 {_m(r.flexible_latest_mi)}")
    else:
        L.append(f"  城乡居民：待遇领取年龄 60 岁，S = O = {_m(S)}")
    L.append(f"  待遇起领年月 {_m(r.benefit_start_mi)}（S + {settings.benefit_start_offset}）")
    L.append(
        f"  {S // 12} 年最低缴费月数 {int(r.min_contribution_months)}；已计 {int(r.counted_months)} 个月，"
        f"预计 {int(r.projected_months)} 个月"
    )
    L.append("")
    L.append("待遇领取地（rules.md §2；国办发〔2009〕66号 第六条，人社部规〔2016〕5号）：")
    L.append(
        f"  计算结果 {r.benefit_province}，依据：{label('place_rule', r.place_rule)}；"
        f"各省缴费月数：{r.place_evidence or '无'}"
    )
    L.append("")
    L.append("纳入范围与启动条件（rules.md §3）：")
    L.append(
        f"  {'在世' if r.alive else '已死亡'}，已退休：{yn(r.retired)}，在推送中：{yn(r.in_push)}，"
        f"待遇领取地 {r.benefit_province}"
    )
    scope_txt = {
        "a": f"（a）企业职工，0 ≤ O − P = {O - P} ≤ {settings.scope_window}",
        "b": f"（b）企业职工已过原到龄年月（O − P = {O - P}）且中断缴费",
        "c": f"（c）城乡居民，0 ≤ O − P = {O - P} ≤ {settings.scope_window}",
    }
    L.append("  纳入范围：" + (scope_txt.get(r.scope_rule) if r.scope_rule else "否"))
    L.append(
        f"  条件1 部级推送：{yn(r.trigger_push)}；条件2 本人申请（O − P ≤ {settings.application_horizon}）："
        f"{yn(r.trigger_application)}；条件3 筛查预警（有预警且 O − P ≤ {settings.screening_horizon}）："
        f"{yn(r.trigger_screening)}"
    )
    L.append("")
    L.append("预警（rules.md §4）：" + ("" if flags else "无"))
    L += [f"  {label('flag', c)}（{c}）：{evidence_zh(e)}" for c, e in flags]
    L.append("")
    L.append("一人一档台账（rules.md §3、§7）：" + ("" if entries else "未纳入"))
    for e in entries:
        L.append(
            f"  台账 {e[0]}：经办机构 {e[1]}，{e[2]} 纳入（{labels_joined('entered_by', e[3], '、')}），"
            f"环节 {label('stage', e[4])}，服务责任人 {e[5] or '—'}，办结时限 {e[6]}"
            + (f"，{e[7]} 关闭（{label('close_reason', e[8])}）" if e[7] else "")
            + (f"，选定退休年月 {e[9]}" if e[9] else "")
        )
    for t in trans:
        frm = "—" if t[1] == "—" else label("stage", t[1])
        L.append(f"    {t[3]}  {frm} → {label('stage', t[2])}  [{shown_file_name(t[4])}] {detail_zh(t[5])}")
    L.append("")
    L.append("告知（rules.md §5）：" + ("" if notices or withdrawn else "无"))
    L += [
        f"  {label('notice_kind', n[0])}，所属 {n[1]}（{n[2]} 发出），渠道 {label('channel', n[3])}"
        + (f"：{label('offline_reason', n[4])}" if n[4] else "")
        for n in notices
    ]
    L += [
        f"  {label('notice_kind', w[0])}，所属 {w[1]}：{w[2]} 的运行撤回未发（台账已关闭：{label('close_reason', w[3])}）"
        for w in withdrawn
    ]
    if hand:
        L.append("")
        L.append("交接：")
        L += [f"  {h[0]} {h[1]}：{h[2]} → {h[3]}（{h[4]}）" for h in hand]
    return L
