"""Month-start declaration screening (``retire-prep declare --month P``): rules.md §6, seed notice 二(六).

On the first of month P, every open ledger entry whose retirement month R lies
1–3 months ahead (``1 ≤ R − P ≤ 3``; R = the elected month recorded by feedback, else
the statutory month S of the latest screening at or before P) is screened again:

* deceased or retired on the latest person data, no longer in the push (op D, absent from a
  FULL), or with a benefit place the latest push moved out of Ningxia (rules.md §2, computed again
  by ``sql/screen/benefit_place.sql`` for the persons of the window only): rules.md §3 closes such an
  entry at P's run → left out (counted in the report);
* pre-service complete (a conclusion was confirmed: stage CONFIRMED, or DECLARED
  already) and counted months ≥ the minimum for R's year → ``DECLARATION`` notice
  (附件3) and stage → DECLARED;
* complete but short → ``CONSULTATION`` notice (附件4);
* not complete → ``FOLLOW_UP``: listed for the office with the stage it is in, not notified.

Counted months are the confirmed conclusion's (``conclusions.counted_months``) when a
conclusion exists, else the screening's.  Notices carry ``reference_mi = R``: a person
gets one DECLARATION (or CONSULTATION) per retirement month, however many of the three
months before R the person is listed in, and a new one if R changes (a new elected month).
Notices join the SMS batch of P (``issued_mi = P``) — or, when P's monthly run is already
done, of the first month not yet run (:func:`pipelines.feedback.notice_month`): every notice
is in exactly one batch file, ``OUT/<batch month>/notifications/<office>/``, written by that
month's run.  ``declare`` does not write ``notifications/`` itself (before the third session
it re-wrote P's batch on the 1st and the run re-wrote it again with the same notices: an
office sending both files would have sent them twice).

Writes ``OUT/P/declarations/<office>/declarations.parquet`` and ``.csv`` for every
office (an empty list when the office has nobody), and ``declarations.xlsx`` for its officer
(labels, the reason in Chinese: :func:`write_declaration_books`), keeps the decisions in
``declaration_decisions`` and records the run in ``month_runs`` (command ``declare``).
Idempotent: a second run of P writes the same files and issues no new notice.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

from .analysts import refreshes_analysts
from . import DATA_DIR
from .errors import MonthRefused
from .labels import code_label as label
from .feedback import ensure_schema, notice_month, refresh_deadlines_unless_unreadable
from .ledger import record_transitions
from .months import first_day, format_month, format_month_zh
from .outputs import remove_path, swap_folder
from .settings import Settings, load_settings
from .tabular import write_table
from .steps import Step, Steps, query, run_step
from .warehouse import connect, rollback

log = logging.getLogger(__name__)

#: the declaration screening's steps, in order: its month_runs row begun, the screening
#: (screen_declarations; the notices are issued and the entries moved between them by notify and
#: ledger), the office files' query, its month_runs row ended
STEPS = Steps(
    (
        Step("declare/00_begin.sql"),
        Step("declare/10_screen.sql"),
        # rules.md §2 for the persons of the window: listed here for the order (and the headers' test),
        # run by pipelines.screen.benefit_place (its hash buckets), never by this list's runner
        Step("screen/benefit_place.sql"),
        Step("declare/11_decide.sql"),
        Step("declare/12_notice_rows.sql"),
        Step("declare/15_moves.sql"),
        Step("declare/18_changes.sql"),
        Step("declare/20_record.sql"),
        Step("declare/30_office_file.sql"),
        Step("declare/35_office_book.sql", inputs=("_code_labels",)),
        Step("declare/90_finish.sql"),
    )
)

DECISIONS = ("DECLARATION", "CONSULTATION", "FOLLOW_UP")


@dataclass
class DeclareReport:
    month: str
    as_of_seq: int | None = None
    replay: bool = False
    counts: dict = field(default_factory=dict)
    out_dir: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = (
            f"declaration screening {self.month}"
            + (f" on push seq {self.as_of_seq}" if self.as_of_seq is not None else "")
            + (" (replay)" if self.replay else "")
        )
        return (
            [head]
            + [f"  {k}: {v}" for k, v in self.counts.items()]
            + ([f"  outputs: {self.out_dir}"] if self.out_dir else [])
            + [f"  warning: {w}" for w in self.warnings]
        )


def _offices() -> list[str]:
    with open(DATA_DIR / "offices.csv", encoding="utf-8-sig", newline="") as fh:
        return [r["office_code"].strip() for r in csv.DictReader(fh)]


def _context(con, month: str, settings: Settings, replay: bool, ahead_of_push: bool = False):
    """Month P's push state and the month-order guard (shared with the monthly run)."""
    from .monthly import month_context

    return month_context(con, month, settings, command="declare", replay=replay, ahead_of_push=ahead_of_push)


def screen_declarations(con, month_mi: int, settings: Settings) -> dict:
    """Decide, notify and move stages for month P inside the caller's transaction."""
    from . import notify

    from .screen import benefit_place

    month_first = first_day(month_mi).isoformat()
    run_step(con, STEPS["10_screen"], month_mi=month_mi)
    # the benefit place on the latest push (rules.md §2), by the screening's SQL, of the window's persons
    benefit_place(con, con.execute("SELECT count(*) FROM _decl_bp_persons").fetchall()[0][0])
    run_step(con, STEPS["11_decide"])
    counts = dict(
        zip(
            DECISIONS,
            con.execute(
                "SELECT count(*) FILTER (WHERE decision = 'DECLARATION'), count(*) FILTER (WHERE decision = 'CONSULTATION'), "
                "count(*) FILTER (WHERE decision = 'FOLLOW_UP') FROM _declare"
            ).fetchone(),
        )
    )
    deceased, retired, left_push, place_out = con.execute(
        "SELECT deceased, retired, left_push, place_out FROM _decl_excluded"
    ).fetchone()
    counts["left out: deceased"] = deceased
    counts["left out: retired"] = retired
    counts["left out: left the push"] = left_push
    counts["left out: benefit place left Ningxia"] = place_out
    issued = 0
    batch_mi = notice_month(con, month_mi)
    counts["SMS batch month"] = format_month(batch_mi)
    for kind in ("DECLARATION", "CONSULTATION"):
        run_step(con, STEPS["12_notice_rows"], kind=kind)
        n = notify.issue_notices(con, kind, "_decl_notice_rows", batch_mi, settings) or 0
        counts[f"notices {kind}"] = n
        issued += n
    run_step(con, STEPS["15_moves"], month_first=month_first)
    month_text = month_first[:7]
    counts["moved to DECLARED"] = record_transitions(
        con, "_decl_moves", f"declare:{month_text}", month_mi, settings, to_stage="DECLARED"
    )
    # declared again: what changed in the lists the offices already have (counts only)
    for change, from_office, to_office, n in run_step(con, STEPS["18_changes"], month_mi=month_mi):
        counts[f"declared again, {change}: {from_office} -> {to_office}"] = n
        log.warning(
            "declare %s again: %d person(s) %s: %s -> %s (the lists of the month's earlier declaration replaced)",
            month_text,
            n,
            change,
            from_office,
            to_office,
        )
    run_step(con, STEPS["20_record"], month_mi=month_mi)
    return counts


def write_declarations(con, month_mi: int, out: Path, settings: Settings | None = None) -> dict:
    """``OUT/P/declarations/<office>/declarations.{parquet,csv,xlsx}`` from the stored decisions,
    one folder per office (every office of data/offices.csv, and any other office with rows; an
    office without rows gets its files with the header only), swapped in whole."""
    final_parent = Path(out) / format_month(month_mi)
    final_parent.mkdir(parents=True, exist_ok=True)
    stage = final_parent / ".declarations.partial"
    remove_path(stage)  # an interrupted declare's (a failure to remove it must say why)
    offices = set(_offices()) | {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT office_code FROM declaration_decisions WHERE month_mi = ?", [month_mi]
        ).fetchall()
    }
    rows = 0
    for office in sorted(offices):
        if not office.isdigit() or len(office) != 6:
            raise MonthRefused(f"office code of the wrong shape in the warehouse: {office!r}")
        q = query(STEPS["30_office_file"], month_mi=month_mi, office=office)
        rows += write_table(con, q, stage / office / "declarations")
    books = write_declaration_books(con, month_mi, {o: stage / o / "declarations.xlsx" for o in offices}, settings)
    assert sum(books.values()) == rows, "the workbooks and the CSVs hold the same rows"
    swap_folder(stage, final_parent / "declarations")
    return {"declaration rows": rows, "offices": len(offices)}


#: the declarations' workbook (pipelines.xlsx_list): the CSV's columns, labels, the reason in Chinese
DECLARATIONS_COLUMNS = (
    "id_no",
    "name",
    "office_code",
    "retirement_month",
    "decision",
    "reason",
    "retirement_source",
    "statutory_age_month",
    "counted_contribution_months",
    "min_contribution_months",
    "stage",
    "responsible_officer",
    "notice_id",
    "channel",
)


def _book_note(month: str):
    """The 说明 sheet of an office's declarations.xlsx: what each decision asks of the officer (rules.md §6)."""
    when = format_month_zh(month)

    def note(office: str, counts: dict) -> list[tuple[str, str]]:
        n = sum(counts.values())
        tally = "；".join(f"{label('decision', d)} {counts.get(d, 0)} 人" for d in DECISIONS) + f"；共 {n} 人。"
        return [
            (f"{when}初退休申报名单（经办机构 {office}）", ""),
            (
                "本表",
                f"{when}1日月初申报筛查列出的本经办机构人员：退休年月在本月之后1至3个月内、仍在台账中的人员"
                "（按最新推送数据已死亡、已退休、已不在推送中或待遇领取地已不在宁夏的不列，已转至其他经办机构的"
                "列在新经办机构）。每人一行，按可申报、咨询、待跟进排列，同类按退休年月、公民身份号码排列。",
            ),
            ("本月人数", tally if n else "本月无人需申报、咨询或跟进：名单只有表头。"),
            (
                label("decision", "DECLARATION"),
                "预服务已完成（综合结论已确认），已计缴费月数达到退休当年的最低缴费月数：已通知本人办理退休申报"
                "（申报告知，见“通知编号”“告知渠道”）。请在其退休年月前为其办理退休申报。",
            ),
            (
                label("decision", "CONSULTATION"),
                "预服务已完成，但已计缴费月数不足退休当年的最低缴费月数，暂不符合按月领取条件：已通知本人到经办机构咨询"
                "（咨询告知）。请接待其咨询，说明缴费年限不足时的办理方式。",
            ),
            (
                label("decision", "FOLLOW_UP"),
                "预服务尚未完成（尚无已确认的综合结论），或选定的退休年月已不在弹性退休区间内：未通知本人。"
                "请尽快完成预服务（档案预审、缴费年限核对、参保关系归集、综合结论及其确认），或请其重新选定退休年月；"
                "下月1日的筛查将重新判断。",
            ),
            (
                "原因",
                "判断的依据：已计缴费月数与最低缴费月数，或所处环节及其起始日期，以及退休年月是本人选定的还是法定到龄的。",
            ),
            (
                "告知渠道",
                "短信：随短信批次发送（notifications/<经办机构>/sms）；参保单位转告、乡镇（街道）转告："
                "见线下告知清单 notifications/<经办机构>/offline.xlsx。",
            ),
            (
                "注意",
                "公民身份号码等列为文本格式，请勿改为数字格式。本表供查阅和办理，不作反馈报送；"
                "反馈请填写工作台账 worklist.xlsx 的“反馈”表。",
            ),
        ]

    return note


def write_declaration_books(con, month_mi: int, paths: dict, settings: Settings | None = None) -> dict[str, int]:
    """``declarations.xlsx`` of each office of ``paths`` (office → path): the rows of its CSV, for the
    county officer (pipelines.xlsx_list); returns the rows written per office."""

    from .xlsx_list import ListBook, write_list_workbooks

    month = format_month(month_mi)
    book = ListBook(
        sheet="申报名单",
        title="月初退休申报名单",
        columns=DECLARATIONS_COLUMNS,
        kinds=tuple(
            "number" if c.endswith("contribution_months") else "long" if c in ("reason", "notice_id") else "text"
            for c in DECLARATIONS_COLUMNS
        ),
        keep=(0, 1),
        note=_book_note(month),
        count_by="_decision",
        widths={"reason": 40, "notice_id": 22},  # (wrapped: the list fits one page wide at ≈ 80 %)
    )
    rows = query(STEPS["35_office_book"], month_mi=month_mi, office=None, offices=sorted(paths))
    return write_list_workbooks(con, rows, paths, book, month=month, settings=settings)


def _validate_month(con, ctx, out: Path, settings: Settings) -> None:
    """GX suites ``declarations`` (the month's list) and ``notices`` (its SMS) before anything commits."""
    from .validate import expected_sms_segments, sample_clause, validate_frames

    vdir = Path(out) / ctx.month / "validation"
    # frames bounded like every frame handed to GX (validation_max_rows, a hash sample above it)
    n = con.execute("SELECT count(*) FROM declaration_decisions WHERE month_mi = ?", [ctx.month_mi]).fetchall()[0][0]
    text, keep = (
        query(STEPS["30_office_file"], month_mi=ctx.month_mi, office=None),
        sample_clause(n, settings),
    )
    frame = con.execute(text if keep == "TRUE" else f"SELECT * FROM ({text}) WHERE {keep}").df()
    validate_frames(
        "declarations",
        {"declarations": frame},
        vdir,
        label=ctx.month,
        settings=settings,
        populations={"declarations": n},
    )
    sms_where = "issued_mi = ? AND channel = 'SMS' AND kind IN ('DECLARATION', 'CONSULTATION')"
    issued = notice_month(con, ctx.month_mi)
    n_sms = con.execute(f"SELECT count(*) FROM notice_log WHERE {sms_where}", [issued]).fetchall()[0][0]
    sms = con.execute(
        "SELECT notice_id, kind AS notice_kind, id_no, phone, text, segments, mi_text(reference_mi) AS reference_month "
        f"FROM notice_log WHERE {sms_where} AND {sample_clause(n_sms, settings)}",
        [issued],
    ).df()
    sms["expected_segments"] = expected_sms_segments(sms["text"])
    validate_frames(
        "notices", {"sms": sms}, vdir, label=f"{ctx.month}-declare", settings=settings, populations={"sms": n_sms}
    )


@refreshes_analysts
def declare_month(
    month: str,
    warehouse: Path,
    out: Path,
    settings: Settings | None = None,
    *,
    replay: bool = False,
    ahead_of_push: bool = False,
) -> DeclareReport:
    """``retire-prep declare --month P``: the month-start declaration screening (rules.md §6).

    ``replay`` re-writes the files of a month already declared from its stored
    decisions, without screening again (a month before the last one declared needs it).
    """
    settings = settings or load_settings()
    out = Path(out)
    with connect(warehouse, settings=settings) as con:
        ensure_schema(con, settings)
        ctx = _context(con, month, settings, replay, ahead_of_push)
        report = DeclareReport(month=ctx.month, as_of_seq=ctx.as_of_seq, replay=replay)
        if ctx.forced_ahead:
            from .monthly import keep_copy_before_forcing

            report.counts["ahead of the push: the warehouse before this declaration is kept as"] = str(
                keep_copy_before_forcing(con, warehouse, ctx, "declare")
            )
        if con.execute("SELECT count(*) FROM screen_results WHERE month_mi <= ?", [ctx.month_mi]).fetchall()[0][0] == 0:
            raise MonthRefused(f"month {ctx.month}: no screening at or before it; run `retire-prep run` first")
        if (
            replay
            and not con.execute(
                "SELECT count(*) FROM month_runs WHERE command = 'declare' AND status = 'DONE' AND month_mi = ?",
                [ctx.month_mi],
            ).fetchall()[0][0]
        ):
            raise MonthRefused(f"month {ctx.month} was never declared: nothing to replay")
        run_step(con, STEPS["00_begin"], month_mi=ctx.month_mi, seq=ctx.as_of_seq, replay=replay)
        try:
            if not replay:
                con.execute("BEGIN TRANSACTION")
                try:
                    # the screening of the 1st (rules.md §6) does not use the deadlines: a calendar file
                    # being edited does not stop it
                    _, warning = refresh_deadlines_unless_unreadable(con, settings)
                    report.warnings += [warning] if warning else []
                    report.counts.update(screen_declarations(con, ctx.month_mi, settings))
                    _validate_month(con, ctx, out, settings)
                    con.execute("COMMIT")
                except BaseException:
                    rollback(con)
                    raise
            report.counts.update(write_declarations(con, ctx.month_mi, out, settings))
        except BaseException:
            from .monthly import _record_failure

            _record_failure(con, lambda: run_step(con, STEPS["90_finish"], month_mi=ctx.month_mi, status="FAILED"))
            raise
        run_step(con, STEPS["90_finish"], month_mi=ctx.month_mi, status="DONE")
        report.out_dir = out / ctx.month / "declarations"
    return report
