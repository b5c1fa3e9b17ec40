"""``retire-prep explain ID_NO --month P``: every decision about one person, with its rule.

Read-only.  For an officer at the terminal: the person is shown by the
pseudonymous key and office, never by name or phone; each line names the
rules.md section (and national document) that made the decision.
"""

from __future__ import annotations

from pathlib import Path

from .errors import RetirePrepError
from .policy import format_month, parse_month
from .settings import load_settings
from .warehouse import connect


def _m(mi) -> str:
    return "—" if mi is None else format_month(int(mi))


def explain_person(id_no: str, month: str, warehouse: str | Path) -> str:
    settings = load_settings()
    id_no = id_no.strip().upper()
    mi = parse_month(month)
    with connect(warehouse, read_only=True, settings=settings) as con:
        r = con.execute("SELECT * FROM screen_results WHERE month_mi = ? AND id_no = ?", [mi, id_no]).df()
        key = con.execute("SELECT person_key(?)", [id_no]).fetchall()[0][0]
        if r.empty:
            raise RetirePrepError(
                f"person {key} was not screened in {format_month(mi)} (not in the push, or the month was not run)")
        r = r.iloc[0]
        flags = con.execute(
            "SELECT code, evidence FROM flags WHERE month_mi = ? AND id_no = ? ORDER BY code", [mi, id_no]).fetchall()
        entries = con.execute(
            "SELECT entry_id, office_code, mi_text(opened_mi), opened_by, stage, officer_id, due_date, "
            "mi_text(closed_mi), close_reason, mi_text(elected_retirement_mi) FROM ledger_entries "
            "WHERE id_no = ? ORDER BY opened_mi", [id_no]).fetchall()
        trans = con.execute(
            "SELECT entry_id, coalesce(from_stage, '—'), to_stage, event_date, source, coalesce(detail, '') "
            "FROM ledger_transitions WHERE id_no = ? ORDER BY event_date, recorded_at", [id_no]).fetchall()
        notices = con.execute(
            "SELECT kind, mi_text(reference_mi), mi_text(issued_mi), channel, coalesce(offline_reason, '') "
            "FROM notice_log WHERE id_no = ? ORDER BY issued_mi, kind", [id_no]).fetchall()
        withdrawn = con.execute(
            "SELECT kind, mi_text(reference_mi), mi_text(withdrawn_mi), reason FROM notice_withdrawals "
            "WHERE id_no = ? ORDER BY withdrawn_mi, kind", [id_no]).fetchall() if con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'notice_withdrawals'").fetchall()[0][0] else []
        hand = con.execute(
            "SELECT mi_text(month_mi), kind, from_code, to_code, reason FROM handovers WHERE id_no = ? "
            "ORDER BY month_mi", [id_no]).fetchall()
        outside = _forecast_lines(con, id_no, mi, settings)

    P = mi
    O, S = int(r.original_age_mi), int(r.statutory_age_mi)
    ins = int(r.insurance_type)
    age_years = (O - int(r.birth_mi)) // 12
    who = {1: "man", 2: "woman"}[int(r.gender)]
    ptype = "" if r.person_type is None or str(r.person_type) in ("<NA>", "nan") else f", person_type {int(r.person_type)}"
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
    L.append(f"  minimum contribution months for {S // 12}: {int(r.min_contribution_months)}; counted "
             f"{int(r.counted_months)}, projected {int(r.projected_months)}")
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
    L.append(f"  trigger 1 push: {bool(r.trigger_push)}; trigger 2 application (O − P ≤ "
             f"{settings.application_horizon}): {bool(r.trigger_application)}; trigger 3 screening (a flag and "
             f"O − P ≤ {settings.screening_horizon}): {bool(r.trigger_screening)}")
    L.append("")
    L.append("Flags (rules.md §4):" + ("" if flags else " none"))
    L += [f"  {c}: {e}" for c, e in flags]
    L.append("")
    L.append("Ledger (rules.md §3, §7):" + ("" if entries else " never taken in"))
    for e in entries:
        L.append(f"  entry {e[0]}: office {e[1]}, opened {e[2]} by {e[3]}, stage {e[4]}, officer {e[5]}, "
                 f"due {e[6]}" + (f", closed {e[7]} ({e[8]})" if e[7] else "") +
                 (f", elected retirement month {e[9]}" if e[9] else ""))
    for t in trans:
        L.append(f"    {t[3]}  {t[1]} → {t[2]}  [{t[4]}] {t[5]}")
    L.append("")
    L.append("Notices (rules.md §5):" + ("" if notices or withdrawn else " none"))
    L += [f"  {n[0]} for {n[1]} (issued {n[2]}) via {n[3]} {n[4]}" for n in notices]
    L += [f"  {w[0]} for {w[1]} withdrawn unsent by the run of {w[2]}: entry closed {w[3]}" for w in withdrawn]
    if hand:
        L.append("")
        L.append("Handovers:")
        L += [f"  {h[0]} {h[1]}: {h[2]} → {h[3]} ({h[4]})" for h in hand]
    if outside:
        L += [""] + outside
    return "\n".join(L)


def _forecast_lines(con, id_no: str, month_mi: int, settings) -> list[str]:
    """For a person outside the ledger after P's run: in which month and by which rule of rules.md §3
    the run would take them in, on P's data (issue 18, pipelines.forecast); nothing for a person in
    the ledger, or when P's run is not on record."""
    from .forecast import entry_forecast_lines

    in_ledger = con.execute(
        "SELECT count(*) FROM ledger_entries WHERE id_no = ? AND opened_mi <= ? AND (closed_mi IS NULL OR closed_mi > ?)",
        [id_no, month_mi, month_mi]).fetchall()[0][0]
    if in_ledger:
        return []
    try:
        return entry_forecast_lines(con, id_no, month_mi, settings)
    except RetirePrepError:   # the month's run is not on record (screened only): no forecast to tell
        return []
