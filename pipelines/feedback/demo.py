"""Deterministic feedback files for the shipped sample (``make demo``, ``retire-prep sample``).

Given the warehouse after the monthly run of a month, :func:`demo_feedback` picks persons (lowest
person_key among the suitable ones, sql/feedback/demo_candidates.sql) so that the declaration
screening of the month after shows each outcome, and writes the rows a county office would send.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

from ..months import format_month, parse_month
from ..settings import Settings, load_settings
from ..steps import run_step
from ..warehouse import connect
from .format import COLUMNS
from .queries import STEPS

DEMO_HEADER = COLUMNS

_CANDIDATE_COLUMNS = (
    "entry_id",
    "id_no",
    "office_code",
    "insurance_type",
    "statutory_age_mi",
    "flex_lo",
    "flex_hi",
    "counted_months",
    "min_at_r",
    "r_mi",
    "elect",
    "expected_confirmer",
    "base_day",
    "key",
)


def _roles(people: list[dict]) -> tuple[dict[str, dict], int | None]:
    """role → person (each person one role at most), and the counted months given to ``short``
    when nobody in the sample is short (None: their own)."""
    roles: dict[str, dict] = {}
    used: set[str] = set()

    def pick(role, pred):
        for p in people:
            if p["entry_id"] not in used and pred(p):
                used.add(p["entry_id"])
                roles[role] = p
                return

    pick("short", lambda p: p["counted_months"] < p["min_at_r"])
    pick("full", lambda p: p["counted_months"] >= p["min_at_r"] + 12)
    pick("upheld", lambda p: p["counted_months"] >= p["min_at_r"])
    pick("rejected", lambda p: p["counted_months"] >= p["min_at_r"])
    short_counted = None
    if "short" not in roles:
        # no one in the sample is short: the archive review of one person does not recognise
        # part of the deemed years (the conclusion's months, not the push's, decide)
        pick("short", lambda p: True)
        if "short" in roles:
            short_counted = max(0, roles["short"]["min_at_r"] - 6)
    pick("follow", lambda p: True)
    return roles, short_counted


class _Script:
    """The rows of the demo files, in the order written."""

    def __init__(self):
        self.rows: list[dict] = []

    def add(self, p: dict, event: str, day: date, **kw) -> None:
        r = {c: "" for c in COLUMNS}
        r.update(office_code=p["office_code"], event=event, id_no=p["id_no"], event_date=day.isoformat())
        r.update({k: str(v) for k, v in kw.items()})
        self.rows.append(r)

    def elect(self, p: dict) -> None:
        if p["elect"]:
            self.add(p, "ELECTED_MONTH", p["base_day"] + timedelta(days=4), elected_month=format_month(p["r_mi"]))

    def path_to_conclusion(self, p: dict, counted: int, note: str = "") -> None:
        b = p["base_day"]
        self.add(p, "ARCHIVE_REVIEWED", b + timedelta(days=1), result="PASS", note=note)
        self.add(p, "YEARS_CONFIRMED", b + timedelta(days=2), months=counted)
        self.add(p, "RELATIONS_MERGED", b + timedelta(days=3), merge_status="NOT_NEEDED")
        self.add(
            p,
            "CONCLUSION_ISSUED",
            b + timedelta(days=4),
            counted_months=counted,
            merge_status="NOT_NEEDED",
            archive_conclusion="PASS",
            base_data="demo: 待遇核算预备数据已核对",
        )
        self.elect(p)

    def full(self, p: dict) -> None:
        """The whole path → DECLARATION, with two rows refused on purpose."""
        self.path_to_conclusion(p, p["counted_months"], note="demo: whole path")
        b = p["base_day"]
        self.add(p, "RESULT_RECEIVED", b + timedelta(days=5))
        wrong = "PERSON" if p["expected_confirmer"] == "EMPLOYER" else "EMPLOYER"
        self.add(p, "CONFIRMED", b + timedelta(days=6), confirmer=wrong, note="demo: refused, wrong confirmer")
        self.add(p, "CONFIRMED", b + timedelta(days=6), confirmer=p["expected_confirmer"])
        if p["flex_hi"] is not None:
            self.add(
                p,
                "ELECTED_MONTH",
                b + timedelta(days=6),
                elected_month=format_month(p["flex_hi"] + 1),
                note="demo: refused, outside the flexible window",
            )

    def upheld(self, p: dict) -> None:
        """An objection filed incomplete, completed, upheld (counted months corrected), confirmed."""
        self.path_to_conclusion(p, max(0, p["counted_months"] - 12), note="demo: objection upheld")
        b = p["base_day"]
        self.add(p, "RESULT_RECEIVED", b + timedelta(days=5))
        self.add(p, "OBJECTION_FILED", b + timedelta(days=7), items="EVIDENCE;WORK_HISTORY")
        self.add(p, "OBJECTION_FILED", b + timedelta(days=9))
        self.add(
            p,
            "OBJECTION_RESOLVED",
            b + timedelta(days=11),
            result="UPHELD",
            counted_months=p["counted_months"],
            reason="补充工作经历材料核实",
            basis="国发〔1995〕6号",
        )
        self.add(p, "RESULT_RECEIVED", b + timedelta(days=12), note="demo: corrected result")
        self.add(p, "CONFIRMED", b + timedelta(days=13), confirmer=p["expected_confirmer"])

    def rejected(self, p: dict) -> None:
        """An objection rejected with reason, basis and remedy, then confirmed."""
        self.path_to_conclusion(p, p["counted_months"], note="demo: objection rejected")
        b = p["base_day"]
        self.add(p, "RESULT_RECEIVED", b + timedelta(days=5))
        self.add(p, "OBJECTION_FILED", b + timedelta(days=8))
        self.add(
            p,
            "OBJECTION_RESOLVED",
            b + timedelta(days=10),
            result="REJECTED",
            reason="所附材料不能证明视同缴费年限",
            basis="国发〔1995〕6号",
            remedy="可依法申请行政复议或提起行政诉讼",
        )
        self.add(p, "CONFIRMED", b + timedelta(days=12), confirmer=p["expected_confirmer"])

    def short(self, p: dict, counted: int | None) -> None:
        """Counted months below the minimum → CONSULTATION."""
        counted = p["counted_months"] if counted is None else counted
        self.path_to_conclusion(p, counted, note="demo: counted months short")
        b = p["base_day"]
        self.add(p, "RESULT_RECEIVED", b + timedelta(days=5))
        self.add(p, "CONFIRMED", b + timedelta(days=6), confirmer=p["expected_confirmer"])

    def follow(self, p: dict) -> None:
        """Only archive-reviewed (FAIL) → FOLLOW_UP."""
        day = p["base_day"] + timedelta(days=1)
        self.add(p, "ARCHIVE_REVIEWED", day, result="FAIL", items="MILITARY_SERVICE", note="demo: follow-up")
        self.elect(p)


def _write(rows: list[dict], out_dir: Path, month: str) -> list[Path]:
    """One file per office (``feedback-<office>-<month>.csv``), UTF-8, LF."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for office in sorted({r["office_code"] for r in rows}):
        path = out_dir / f"feedback-{office}-{month}.csv"
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
        w.writeheader()
        for r in rows:
            if r["office_code"] == office:
                w.writerow(r)
        path.write_bytes(buf.getvalue().encode("utf-8"))
        written.append(path)
    return written


def demo_feedback(
    warehouse: Path,
    out_dir: Path,
    month: str = "2026-11",
    *,
    declare_month: str | None = None,
    settings: Settings | None = None,
) -> list[Path]:
    """Write deterministic feedback files for the shipped sample (``make demo``).

    Given the warehouse after the monthly run of ``month``, picks persons (lowest
    person_key among the suitable ones) so that the declaration screening of
    ``declare_month`` (default: the month after) shows them:

    * ``full``: the whole path → DECLARATION (elected month recorded when the statutory
      month does not fall 1–3 months after the declare month);
    * ``upheld``: an objection filed incomplete, completed, upheld (counted months
      corrected), the new result received and confirmed → DECLARATION;
    * ``rejected``: an objection rejected with reason, basis and remedy, then confirmed;
    * ``short``: counted months below the minimum → CONSULTATION;
    * ``follow``: only archive-reviewed → FOLLOW_UP;
    * a few rows that are refused on purpose (wrong confirmer, elected month outside the window).

    One file per office (``feedback-<office>-<month>.csv``).  Returns the paths written.
    """
    settings = settings or load_settings()
    p_mi = parse_month(month)
    d_mi = parse_month(declare_month) if declare_month else p_mi + 1
    with connect(warehouse, read_only=True, settings=settings) as con:
        cands = run_step(con, STEPS["demo_candidates"], month_mi=p_mi, declare_mi=d_mi)
    roles, short_counted = _roles([dict(zip(_CANDIDATE_COLUMNS, c)) for c in cands])
    script = _Script()
    if "full" in roles:
        script.full(roles["full"])
    if "upheld" in roles:
        script.upheld(roles["upheld"])
    if "rejected" in roles:
        script.rejected(roles["rejected"])
    if "short" in roles:
        script.short(roles["short"], short_counted)
    if "follow" in roles:
        script.follow(roles["follow"])
    return _write(script.rows, Path(out_dir), month)
