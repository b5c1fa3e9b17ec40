"""Applying feedback files: each file in one transaction, every row accounted for (rules.md §7).

A file is read whole first (:mod:`.reading`, :mod:`.xlsx`) and bound to an office; then, in one
transaction, its rows are decided one by one in file order (:class:`.run.FileRun`), its
``feedback_rows`` / ``feedback_events`` inserted, the RESULT notices of the conclusions it issued
given out, and the file recorded in ``feedback_files`` (``accepted + refused = rows``).  A file
whose key (bytes and office) was applied before is not applied again.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from ..analysts import refreshes_analysts
from ..contract import shown_file_name
from ..errors import RetirePrepError
from ..settings import Settings, load_settings
from ..steps import run_step
from ..warehouse import STEPS as WAREHOUSE_STEPS
from ..warehouse import connect, rollback
from . import xlsx
from .deadlines import issue_result_notices, refresh_deadlines
from .format import OFFICE, _Refuse
from .queries import sql
from .reading import is_gb18030, read_file
from .receipts import reason_zh as reason_zh_of
from .receipts import write_receipt
from .report import FeedbackFileRefused, FeedbackReport, FileOutcome
from .run import FileRun

log = logging.getLogger("pipelines.feedback")


def ensure_schema(con, settings: Settings) -> None:
    """The tables and views of sql/warehouse/schema_feedback.sql (idempotent)."""
    run_step(con, WAREHOUSE_STEPS["schema_feedback"])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_office(office: str, settings: Settings) -> str:
    """``office`` if it is one of the responsible offices (rules.md §3), else RetirePrepError."""
    from ..validate import office_codes

    if not (isinstance(office, str) and OFFICE.match(office) and office in office_codes(settings)):
        raise RetirePrepError(f"--office {office!r} is not one of the responsible offices (rules.md §3)")
    return office


def _file_office(records, office: str | None, settings: Settings) -> str | None:
    """The office a file is bound to (docs/feedback-format.md "Whose file"): ``office`` when the
    sender is known (``--office``, the inbox folder); else the one office its rows name.  A file
    whose rows name several offices, without ``--office``, is refused whole (``MIXED_OFFICES``)."""
    if office is not None:
        return office
    from ..validate import office_codes

    known = frozenset(office_codes(settings))
    named = {r["office_code"] for _, r in records if isinstance(r, dict) and r.get("office_code") in known}
    if len(named) > 1:
        raise _Refuse(
            "MIXED_OFFICES",
            (
                f"rows of {len(named)} offices: a feedback file is one office's; apply each office's file "
                f"with --office <office>, or put it in that office's inbox folder"
            ),
            n=len(named),
        )
    return next(iter(named), None)


def _file_key(data: bytes, office: str | None) -> str:
    """What identifies an applied file (``feedback_files.file_sha256``): its bytes and the office it
    is bound to.  The same bytes sent for another office are another file: a file first applied
    under the wrong office (its rows refused WRONG_OFFICE) is applied when its own office sends it,
    never "already applied"."""
    return _sha256(data if office is None else f"office {office}\n".encode() + data)


def _refuse_file(
    con, report: FeedbackReport, path: Path, sha: str, code: str, reason: str, reason_zh: str | None = None
) -> None:
    params = {"file_sha256": sha, "file_name": path.name, "reason_code": code, "reason": reason}
    params["reason_zh"] = reason_zh or reason_zh_of(code, code, {})
    con.execute(sql("files", "record_refused"), params)
    report.files.append(FileOutcome(shown_file_name(path.name), sha, "REFUSED", reason=f"{code}: {reason}"))
    log.info("feedback file %s refused: %s: %s", shown_file_name(path.name), code, reason)  # the caller reports it


def _read(path: Path, data: bytes, report: FeedbackReport) -> list:
    """The file's records (CSV, or the 反馈 sheet of a worklist.xlsx, issue 16); _Refuse: refused whole."""
    if xlsx.is_workbook(path, data[:8]):
        return xlsx.read_workbook(path, data)[1]
    records = read_file(path, data)[1]
    if is_gb18030(data):
        report.warn(f'{shown_file_name(path.name)}: read as GB18030/GBK (a plain "CSV" of Excel or WPS), not UTF-8')
    return records


def _apply_rows(run: FileRun, records: list, out: FileOutcome) -> None:
    """Decide every record of the file (inside the caller's transaction) and keep its outcome."""
    for row_no, row in records:
        status, code, reason = run.decide(row_no, row)
        if status == "REFUSED":
            out.refused += 1
            out.reasons[code] = out.reasons.get(code, 0) + 1
            log.info("%s row %d refused: %s: %s", out.file, row_no, code, reason)
        else:
            out.accepted += 1
            out.already_applied += status == "ALREADY_APPLIED"
    run.insert_rows()
    out.sent_again = run.sent_again


def apply_file(con, path: Path, settings: Settings, report: FeedbackReport, office: str | None = None) -> FileOutcome:
    """Apply one feedback file in one transaction (the schema must exist), bound to ``office``
    (the sender, when known: see :func:`_file_office`)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        name = exc.__class__.__name__
        _refuse_file(
            con,
            report,
            path,
            _sha256(path.name.encode()),
            "UNREADABLE",
            name,
            reason_zh_of("UNREADABLE", None, {"error": name}),
        )
        return report.files[-1]
    try:
        records = _read(path, data, report)
        bound = _file_office(records, office, settings)
    except _Refuse as r:
        _refuse_file(con, report, path, _file_key(data, office), r.code, r.reason, r.reason_zh)
        return report.files[-1]
    sha = _file_key(data, bound)
    done = con.execute(sql("files", "applied_before"), {"file_sha256": sha}).fetchone()
    if done:
        out = FileOutcome(shown_file_name(path.name), sha, "ALREADY_APPLIED", *done, office=bound)
        report.files.append(out)
        return out

    out = FileOutcome(shown_file_name(path.name), sha, "APPLIED", rows=len(records), office=bound)
    # transaction control stays here, not in sql/feedback/: the transaction spans the Python that decides the rows
    con.execute("BEGIN TRANSACTION")
    try:
        run = FileRun(con, settings, report, path.name, sha, records, office=bound)
        _apply_rows(run, records, out)
        report.notices += issue_result_notices(con, run.result_notices, settings)
        counts = {"rows": out.rows, "accepted": out.accepted, "refused": out.refused}
        counts["already_applied"] = out.already_applied
        con.execute(sql("files", "record_applied"), {"file_sha256": sha, "file_name": path.name, **counts})
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise
    assert out.accepted + out.refused == out.rows
    report.files.append(out)
    return out


@refreshes_analysts
def apply_feedback_files(
    files: list[Path],
    warehouse: Path,
    settings: Settings | None = None,
    *,
    office: str | None = None,
    receipts: Path | None = None,
) -> FeedbackReport:
    """``retire-prep feedback [--office O] FILE...``: apply county feedback files in the order given,
    each bound to ``office`` when given (else to the one office its rows name, see :func:`_file_office`).

    Each file is one transaction.  Rows are refused one by one with a reason code
    (``feedback_rows``); a file that is not the documented format is refused whole
    (``feedback_files`` status REFUSED), the other files are still applied, and then
    :class:`FeedbackFileRefused` is raised (its ``report`` holds what was done).

    ``receipts``: the folder of the offices' receipts (``<out>/feedback``): each file's receipt,
    in Chinese, is written there once the file is decided (:mod:`.receipts`).
    """
    settings = settings or load_settings()
    if office is not None:
        check_office(office, settings)
    report = FeedbackReport()
    with connect(warehouse, settings=settings) as con:
        ensure_schema(con, settings)
        con.execute("BEGIN TRANSACTION")
        try:
            refresh_deadlines(con, settings)
            con.execute("COMMIT")
        except BaseException:
            rollback(con)
            raise
        for f in files:
            out = apply_file(con, Path(f), settings, report, office)
            if receipts is not None:
                try:
                    write_receipt(con, Path(receipts), out.sha256, Path(f).name, out.office or office)
                except OSError as exc:  # the file is applied; its receipt is derived, written next time
                    report.warn(
                        f"the receipt of {out.file} was not written ({exc.__class__.__name__}): "
                        "it is written by the next feedback of the file"
                    )
    refused = report.refused_files
    if refused:
        raise FeedbackFileRefused(
            f"{len(refused)} feedback file(s) refused whole, first {refused[0].file}: {refused[0].reason}", report
        )
    return report
