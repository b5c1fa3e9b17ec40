"""Ingest: verify and apply the Ministry's push batches (push-format.md).

A batch is one folder: ``manifest.json`` + persons and segments files.  This
module checks the manifest (shape, names, hashes), decides the batch's fate
against what the warehouse already holds (apply, no-op, conflict, held back,
superseded), and applies it in **one** DuckDB transaction with the SQL of
``sql/ingest/``: stage → validate (quarantine) → account → apply versions.

Refusals raise :class:`~pipelines.errors.BatchRefused` with a one-line reason
naming the batch, the file, the row and the reason; they are also recorded in
``batch_refusals``.  No message carries an ID number, name or phone.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Iterable

from ..analysts import refreshes_analysts
from ..contract import APPLICATION_COLUMNS, PERSON_COLUMNS, SEGMENT_COLUMNS
from ..errors import ApplicationsRefused, BatchRefused, ValidationFailed
from ..settings import Settings, load_settings
from ..steps import run_step
from ..warehouse import connect, private_copies, register_id_checks, rollback

# the private names tests and bench/ingest.py reach through the package (and patch: _decide,
# _sha256, _apply, _upsert_batch_row are looked up here by the functions below) stay importable
from .apply import (  # noqa: F401
    _VALIDATION_ROOT,
    STEPS,
    _apply,
    _end_holds,
    _hold,
    _last_applied,
    _meta_row,
    _record_refusal,
    _upsert_batch_row,
    _validate_batch,
    validation_root,
)
from .files import _csv_header, _data_lines, _load_csv, _odd_quote_line, _unparsable_csv  # noqa: F401
from .manifest import (
    ALLOWED_FILES,
    FILE_COLUMNS,
    IngestReport,
    Manifest,
    _header_problem,
    _sha256,
    read_manifest,
)

log = logging.getLogger(__name__)

__all__ = [
    "ALLOWED_FILES",
    "FILE_COLUMNS",
    "PERSON_COLUMNS",
    "SEGMENT_COLUMNS",
    "STEPS",
    "IngestReport",
    "Manifest",
    "ingest_batches",
    "ingest_inbox",
    "load_applications",
    "read_manifest",
    "validation_root",
]


def _decide(con, man: Manifest) -> tuple[str, str]:
    """What to do with a verified batch: APPLY, NOOP, HOLD, SUPERSEDE or REFUSE (with why)."""
    same_id = con.execute(
        "SELECT seq, content_hash, status FROM push_batches WHERE batch_id = ?", [man.batch_id]
    ).fetchone()
    if same_id:
        if same_id[1] != man.content_hash or same_id[0] != man.seq:
            return "REFUSE", "CONFLICT: this batch_id was received before with other content"
        if same_id[2] in ("APPLIED", "SUPERSEDED"):
            return "NOOP", ""
    same_seq = con.execute(
        "SELECT batch_id FROM push_batches WHERE seq = ? AND batch_id <> ?", [man.seq, man.batch_id]
    ).fetchone()
    if same_seq:
        return "REFUSE", f"CONFLICT: seq {man.seq} already belongs to another batch"
    last = _last_applied(con)
    if man.seq <= last:
        return "REFUSE", f"STALE: seq {man.seq} is not above the last applied seq {last}"
    if man.push_type == "FULL":
        return "APPLY", ""
    if man.base_seq == last:
        return "APPLY", ""
    if man.base_seq < last:
        return "REFUSE", f"STALE: INCR on base_seq {man.base_seq}, but seq {last} is applied since"
    return "HOLD", f"waiting for seq {last + 1}" + (f"..{man.base_seq}" if man.base_seq > last + 1 else "")


@refreshes_analysts
def ingest_batches(
    batch_dirs,
    warehouse: str | Path,
    settings: Settings | None = None,
    *,
    validate: bool = True,
    accept_departures: Iterable[str] = (),
) -> IngestReport:
    """``retire-prep ingest``: verify and apply push batches in ``seq`` order.

    Each batch is applied in its own transaction; a crash leaves the warehouse
    as it was before that batch.  Held-back INCRs are retried whenever the seq
    they wait for has been applied.  ``accept_departures``: the batch_ids of FULLs to apply even
    though most of the push would leave with them (refused ``DEPARTURES`` otherwise).
    """
    settings = settings or load_settings()
    report = IngestReport()
    verified: list[Manifest] = []
    token = _VALIDATION_ROOT.set(validation_root(warehouse) if validate else None)
    try:
        _ingest(batch_dirs, warehouse, settings, report, verified, frozenset(accept_departures))
    finally:
        _VALIDATION_ROOT.reset(token)
    return report


def _ingest(batch_dirs, warehouse, settings: Settings, report: IngestReport, verified: list, accept: frozenset) -> None:
    # the copies' folder after connecting: the warehouse's lock is held, no other writer runs
    with connect(warehouse, settings=settings) as con, private_copies(warehouse, settings) as copies:
        for d in batch_dirs:
            d = Path(d)
            try:
                verified.append(read_manifest(d))
            except BatchRefused as ref:
                _record_refusal(con, ref, None, d, "MANIFEST")
                report.refused.append(ref)
                log.info("refused: %s", ref)  # the report carries it; the CLI prints one line
        verified.sort(key=lambda m: m.seq)
        for man in verified:
            _process(con, man, settings, report, copies, accept)
        _retry_held(con, settings, report, copies, accept)


def _process(
    con,
    man: Manifest,
    settings: Settings,
    report: IngestReport,
    copies: Path,
    accept: frozenset = frozenset(),
    held: bool = False,
) -> None:
    """Decide and carry out one batch.  ``held``: the batch is a held one tried again (_retry_held).
    A held batch (tried again, or delivered again: the same id, seq and content) has its HELD row
    replaced by the applied row, or dropped with its refusal, in that transaction: refused once, not
    again by the retry, and never left held for ever (a STALE one after a FULL)."""
    action, why = _decide(con, man)
    drop = man.batch_id if held or _is_held(con, man) else None
    if action == "NOOP":
        report.noop.append(man.batch_id)
        return
    if action == "REFUSE":
        ref = BatchRefused(man.batch_id, why)
        _record_refusal(con, ref, man, man.dir, why.split(":")[0], held=drop)
        report.refused.append(ref)
        log.info("refused: %s", ref)  # the report carries it; the CLI prints one line
        return
    if action == "HOLD":
        _hold(con, man, why)
        report.held.append({"batch_id": man.batch_id, "seq": man.seq, "missing": why.split("seq ")[-1]})
        log.warning("held back %s (seq %s): %s", man.batch_id, man.seq, why)
        return
    con.execute("BEGIN TRANSACTION")
    try:
        row = _apply(con, man, settings, copies, accept)
        _upsert_batch_row(con, row)
        superseded = []
        if man.push_type == "FULL":
            superseded = [
                r[0]
                for r in con.execute(
                    "UPDATE push_batches SET status = 'SUPERSEDED', message = ? "
                    "WHERE status = 'HELD' AND push_type = 'INCR' AND seq < ? RETURNING batch_id",
                    [f"superseded by FULL seq {man.seq}", man.seq],
                ).fetchall()
            ]
        run_step(con, STEPS["70_person_keys"])  # in the batch's transaction
        _end_holds(con)  # its own hold, if it was held, and the holds a FULL superseded
        con.execute("COMMIT")
    except (BatchRefused, ValidationFailed) as exc:
        rollback(con)
        ref = exc if isinstance(exc, BatchRefused) else BatchRefused(man.batch_id, f"validation failed: {exc}")
        code = (ref.code or "BATCH") if isinstance(exc, BatchRefused) else "VALIDATION"
        _record_refusal(con, ref, man, man.dir, code, held=drop)
        report.refused.append(ref)
        log.info("refused: %s", ref)  # the report carries it; the CLI prints one line
        return
    except BaseException:
        rollback(con)
        raise
    report.applied.append(row)
    report.superseded += superseded
    # a batch held earlier in this run and now superseded is no longer "held back"
    report.held = [h for h in report.held if h["batch_id"] not in superseded]
    log.info("applied %s (seq %s)", man.batch_id, man.seq)


def _is_held(con, man: Manifest) -> bool:
    """This delivery is a batch push_batches holds (the same id, seq and content)."""
    return bool(
        con.execute(
            "SELECT count(*) FROM push_batches WHERE batch_id = ? AND seq = ? AND content_hash = ? AND status = 'HELD'",
            [man.batch_id, man.seq, man.content_hash],
        ).fetchone()[0]
    )


def _retry_held(con, settings: Settings, report: IngestReport, copies: Path, accept: frozenset = frozenset()) -> None:
    """Try again the held batches whose wait is over: the one based on the last applied seq, and any
    based on an older seq (a FULL applied above its base: it can never apply, and is refused STALE as
    it would be when delivered again).  Each at most once per ingest."""
    tried: list[str] = []
    while True:
        nxt = con.execute(
            "SELECT source_dir, batch_id FROM push_batches WHERE status = 'HELD' AND base_seq <= ? "
            "AND NOT list_contains(?, batch_id) ORDER BY seq LIMIT 1",
            [_last_applied(con), tried],
        ).fetchone()
        if not nxt:
            return
        tried.append(nxt[1])
        # its HELD row goes in the transaction that applies or refuses it, never before: a crash in
        # between leaves it held, to be tried again by the next ingest (never in no table at all)
        try:
            man = read_manifest(nxt[0])
        except BatchRefused as ref:
            _record_refusal(con, ref, None, Path(nxt[0]), "MANIFEST", held=nxt[1])
            report.refused.append(ref)
            continue
        report.held = [h for h in report.held if h["batch_id"] != man.batch_id]
        _process(con, man, settings, report, copies, accept, held=True)


@refreshes_analysts
def ingest_inbox(
    inbox: str | Path, warehouse: str | Path, settings: Settings | None = None, accept_departures: Iterable[str] = ()
) -> IngestReport:
    """Ingest every batch folder waiting in ``inbox`` (folders holding a manifest.json)."""
    dirs = sorted(p.parent for p in Path(inbox).glob("*/manifest.json"))
    return ingest_batches(dirs, warehouse, settings, accept_departures=accept_departures)


# --------------------------------------------------------------------------- applications (trigger 2)


@refreshes_analysts
def load_applications(files, warehouse: str | Path, settings: Settings | None = None) -> dict:
    """Load pre-service applications (push-format.md "Applications", rules.md §3 trigger 2).

    Rows that break the format, and records that cannot be parsed (``UNPARSABLE_ROW``), are kept
    in ``applications_refused`` with a reason; a file already loaded (same sha256) is skipped.
    A file with a bad header, or that DuckDB cannot parse at all, raises ApplicationsRefused
    (nothing of it loaded; the files before it stay loaded and are skipped when given again).
    Returns counts.
    """
    settings = settings or load_settings()
    counts = {"files": 0, "accepted": 0, "refused": 0, "already loaded": 0}
    with connect(warehouse, settings=settings) as con, private_copies(warehouse, settings) as tmp:
        for f in files:
            f = Path(f)
            # one private copy is hashed, checked and loaded: a file replaced while it is read (an
            # upload going on) must not be loaded under the tag of other bytes (issue 14 item 2)
            copy = Path(tmp) / "applications.csv"
            shutil.copyfile(f, copy)
            digest = _sha256(copy)
            tag = f"{f.name}#{digest[:16]}"
            if (
                con.execute("SELECT count(*) FROM applications WHERE source_file = ?", [tag]).fetchall()[0][0]
                or con.execute("SELECT count(*) FROM applications_refused WHERE source_file = ?", [tag]).fetchall()[0][
                    0
                ]
            ):
                counts["already loaded"] += 1
                continue
            header = _csv_header(copy)
            problem = _header_problem(header, APPLICATION_COLUMNS)
            if problem:
                raise ApplicationsRefused(f.name, problem)
            con.execute("BEGIN TRANSACTION")
            try:
                _load_csv(
                    con,
                    copy,
                    header,
                    APPLICATION_COLUMNS,
                    "_apps",
                    "_apps_rej",
                    lambda reason, row=None: ApplicationsRefused(f.name, reason, row),
                )
                # every line a record: no field of an application holds a line break, so a record
                # over several lines is a quote never closed that swallowed the rows after it
                # (DuckDB reads them as one field); refused whole, never "loaded" (issue 14)
                records = con.execute(
                    "SELECT (SELECT count(*) FROM _apps) + (SELECT count(*) FROM _apps_rej)"
                ).fetchall()[0][0]
                lines = _data_lines(copy)
                if records != lines:
                    odd = _odd_quote_line(copy)
                    raise ApplicationsRefused(
                        f.name,
                        (
                            f"the file has {lines} data lines but only {records} records can be read"
                            + (
                                f': line {odd} (the header is line 1) holds an odd number of quotes ("), so a '
                                f"quote is never closed"
                                if odd
                                else ": a record spans several lines"
                            )
                            + "; nothing of the file was loaded"
                        ),
                    )
                register_id_checks(con)  # id_no_valid (sql/policy/identifiers_checks.sql)
                run_step(con, STEPS["60_applications"], source_file=tag)
                a, r = con.execute(
                    "SELECT count(*) FILTER (reason_code IS NULL), count(*) FILTER (reason_code IS NOT NULL) "
                    "FROM _apps_checked"
                ).fetchone()
                con.execute("COMMIT")
            except BaseException:
                rollback(con)  # nothing of a refused file stays half-loaded
                raise
            counts["files"] += 1
            counts["accepted"] += a
            counts["refused"] += r
    return counts
