"""Ingest, the apply: one verified batch staged, validated (quarantine), accounted and applied as
versions inside the caller's transaction (the SQL of ``sql/ingest/``), then its GX validation."""

from __future__ import annotations

import contextvars
import tempfile
from pathlib import Path

from ..errors import BatchRefused
from ..settings import Settings
from ..steps import Step, Steps, run_step, run_steps
from ..warehouse import register_id_checks, rollback
from .files import _odd_quotes, _stage_file
from .manifest import Manifest

# the files read as text by 01–06 (TEMP tables named by the caller, pipelines.ingest.files)
_STAGED = ("raw_persons", "raw_segments", "rej_persons", "rej_segments")

#: the ingest's steps, in the order a batch runs them: each file read as text (CSV 01–04, Parquet
#: 05–06; raw/rej name its tables), checked (10, 20), accounted (30), its quarantine kept (50), the
#: versions applied (40, by push type), its ID numbers keyed (70); then an applications file (60)
STEPS = Steps(
    (
        Step("ingest/01_read_csv.sql"),
        Step("ingest/02_csv_rejects.sql", inputs=("reject_errors",)),  # DuckDB's, made by 01's read_csv
        Step("ingest/03_blank_records.sql"),
        Step("ingest/04_number_rows.sql"),
        Step("ingest/05_read_parquet.sql"),
        Step("ingest/06_parquet_rejects.sql"),
        Step("ingest/10_validate_persons.sql", inputs=_STAGED),
        Step("ingest/20_validate_segments.sql", inputs=_STAGED),
        Step("ingest/30_accounting.sql", inputs=_STAGED),
        Step("ingest/50_record.sql", inputs=_STAGED),
        Step("ingest/40_apply_full.sql", inputs=("rej_segments",)),  # a person's unparsable segment rows
        Step("ingest/40_apply_incr.sql", inputs=("rej_segments",)),
        Step("ingest/70_person_keys.sql"),
        Step("ingest/60_applications.sql", inputs=("_apps", "_apps_rej")),  # read by 01–04 too
    )
)


def _last_applied(con) -> int:
    return con.execute("SELECT coalesce(max(seq), 0) FROM push_batches WHERE status = 'APPLIED'").fetchall()[0][0]


def _record_refusal(
    con, ref: BatchRefused, man: Manifest | None, source: Path | None, code: str, held: str | None = None
) -> None:
    """The refusal in ``batch_refusals`` and, in the same transaction, the HELD row of ``held`` (a held
    batch refused when it was tried again) removed and its hold ended (:func:`_end_holds`)."""
    con.execute("BEGIN TRANSACTION")
    try:
        if held is not None:
            con.execute("DELETE FROM push_batches WHERE batch_id = ? AND status = 'HELD'", [held])
        con.execute(
            "INSERT INTO batch_refusals VALUES (now(), ?, ?, ?, ?, ?, ?, ?)",
            [
                ref.batch if man is None else man.batch_id,
                ref.seq if man is None else man.seq,
                str(source) if source else None,
                ref.file,
                ref.row,
                code,
                ref.reason,
            ],
        )
        _end_holds(con)
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise


def _hold(con, man: Manifest, why: str) -> None:
    """A batch held (waiting for a missing seq): its HELD row, and its hold's start in
    ``batch_holds`` the first time (held again when delivered again, it keeps its first start)."""
    con.execute("BEGIN TRANSACTION")
    try:
        _upsert_batch_row(con, _meta_row(man, "HELD"), why)
        con.execute(
            "INSERT INTO batch_holds SELECT ?, ?, ?, ?, ?, now(), NULL, NULL WHERE NOT EXISTS "
            "(SELECT 1 FROM batch_holds WHERE batch_id = ? AND ended_at IS NULL)",
            [man.seq, man.batch_id, man.push_type, man.base_seq, man.data_month, man.batch_id],
        )
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise


def _end_holds(con) -> None:
    """End every open hold whose batch push_batches no longer holds, as what became of it: APPLIED,
    SUPERSEDED, or REFUSED when its row is gone (a held batch tried again and refused).  Inside the
    caller's transaction: the apply's, the refusal's (docs/decisions.md "Held batches have a history")."""
    con.execute(
        "UPDATE batch_holds h SET ended_at = now(), ended_as = coalesce((SELECT b.status FROM push_batches b "
        "WHERE b.batch_id = h.batch_id), 'REFUSED') WHERE h.ended_at IS NULL AND NOT EXISTS "
        "(SELECT 1 FROM push_batches b WHERE b.batch_id = h.batch_id AND b.status = 'HELD')"
    )


def validation_root(warehouse: str | Path) -> Path:
    """Where ingest writes its validation results (beside the warehouse; runs copy them into OUT/P)."""
    w = Path(warehouse)
    return w.with_name(w.stem + ".validation")


def _validate_batch(con, man: Manifest, settings: Settings, vroot: Path, acc: tuple) -> None:
    """GX suites ``raw`` (row accounting) and ``ingest`` (the versions this batch made current)."""
    import pandas as pd

    from ..validate import sample_clause, validate_frames

    # The accounting is read back from what was stored (quarantine_rows of this batch), not from
    # the counts already compared with the manifest: a quarantined row lost between the checks
    # and the warehouse, or stored twice or under a wrong row number, fails here.
    p_ok, _, s_ok, _ = acc
    rows = {kind: man.files[kind]["rows"] for kind in ("persons", "segments")}
    stored = dict(
        con.execute("SELECT file, count(*) FROM quarantine_rows WHERE seq = ? GROUP BY file", [man.seq]).fetchall()
    )
    # bounded like every frame handed to GX (up to bad_row_share of a national push otherwise)
    n_quarantined = sum(stored.values())
    quarantine = con.execute(
        "SELECT seq, file, row_no, reason_code, "
        "CASE file WHEN 'persons' THEN ? WHEN 'segments' THEN ? END AS manifest_rows "
        f"FROM quarantine_rows WHERE seq = ? AND {sample_clause(n_quarantined, settings, 'row_no')} "
        "ORDER BY file, row_no",
        [rows["persons"], rows["segments"], man.seq],
    ).df()
    accounting = pd.DataFrame(
        [
            {
                "seq": man.seq,
                "batch_id": man.batch_id,
                "file": kind,
                "manifest_rows": rows[kind],
                "accepted_rows": ok,
                "quarantined_rows": stored.get(kind, 0),
                "accounted_rows": ok + stored.get(kind, 0),
            }
            for kind, ok in (("persons", p_ok), ("segments", s_ok))
        ]
    )
    validate_frames(
        "raw",
        {"batch_accounting": accounting, "quarantine": quarantine},
        vroot,
        label=man.batch_id,
        settings=settings,
        populations={"quarantine": n_quarantined},
    )
    if not p_ok:
        return
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _v_ids AS
            SELECT DISTINCT id_no FROM persons_checked
            WHERE reason_code IS NULL AND op IN ('', 'I', 'U') AND {sample_clause(p_ok, settings)}"""
    )
    persons = con.execute(
        """SELECT id_no, gender, birth_date, insurance_type, person_type, insured_region, contribution_status,
                  survival_status, actual_contribution_months, deemed_status, arrears_months, in_push
           FROM person_versions v SEMI JOIN _v_ids USING (id_no) WHERE valid_to_seq IS NULL"""
    ).df()
    segments = con.execute(
        """SELECT id_no, region_code, start_mi, end_mi, relation_status
           FROM segment_versions SEMI JOIN _v_ids USING (id_no) WHERE valid_to_seq IS NULL"""
    ).df()
    if persons.empty:
        return
    validate_frames("ingest", {"persons": persons, "segments": segments}, vroot, label=man.batch_id, settings=settings)


def _apply(con, man: Manifest, settings: Settings, copies: Path, accept_departures: frozenset = frozenset()) -> dict:
    """Stage, validate, account and apply one batch inside the caller's transaction; ``copies``:
    the command's folder for private copies (``warehouse.private_copies``)."""
    with tempfile.TemporaryDirectory(prefix="batch-", dir=copies) as tmp:
        for kind in ("persons", "segments"):
            _stage_file(con, man, kind, Path(tmp))
        return _apply_staged(con, man, settings, Path(tmp), accept_departures)


def _check_departures(man: Manifest, settings: Settings, before: int, left: int, accepted: frozenset) -> None:
    """Refuse (``DEPARTURES``) a FULL that would mark most of the push as having left it.

    push-format.md: a FULL replaces the whole population, so a header-only or half-written FULL
    whose manifest agrees with it would close every ledger entry it leaves out (no reminder, no
    worklist row) until a good FULL comes.  Above ``full_departure_max_share`` of the persons in the
    push (and at least ``full_departure_min_persons``), the batch is refused whole, as written, until
    an operator names it in ``--accept-departures`` (the DAG's ``accept_departures`` param).
    docs/decisions.md "A FULL that empties the push".
    """
    if man.batch_id in accepted or not before or left < settings.full_departure_min_persons:
        return
    if left / before > settings.full_departure_max_share:
        raise BatchRefused(
            man.batch_id,
            f"DEPARTURES: this FULL would mark {left} of the {before} persons in the push "
            f"({left / before:.1%}) as having left it, more than full_departure_max_share "
            f"({settings.full_departure_max_share:.0%}); if the push is right, apply it with "
            f"`retire-prep ingest --accept-departures {man.batch_id}`",
            code="DEPARTURES",
        )


def _apply_staged(
    con, man: Manifest, settings: Settings, workdir: Path, accept_departures: frozenset = frozenset()
) -> dict:
    params = dict(
        settings=settings, seq=man.seq, batch_id=man.batch_id, push_type=man.push_type, data_month=man.data_month
    )
    register_id_checks(con)  # id_no_valid, uscc_valid (sql/policy/identifiers_checks.sql)
    acc = run_steps(con, STEPS["10_validate_persons":"30_accounting"], **params)["30_accounting"][0]
    p_ok, p_bad, s_ok, s_bad = acc
    for kind, ok, badn in (("persons", p_ok, p_bad), ("segments", s_ok, s_bad)):
        if ok + badn != man.files[kind]["rows"]:
            hint = ""
            if (
                ok + badn < man.files[kind]["rows"]
                and man.file_format == "csv"
                and _odd_quotes(workdir / man.files[kind]["name"])
            ):
                hint = ': a quote (") is never closed, so the rest of the file reads as one field'
            raise BatchRefused(
                man.batch_id,
                f"the file has {ok + badn} data rows, the manifest says {man.files[kind]['rows']}{hint}",
                man.files[kind]["name"],
            )
    total = p_ok + p_bad + s_ok + s_bad
    if total and (p_bad + s_bad) / total > settings.bad_row_share:
        first = con.execute(
            "SELECT file, row_no, reason_code FROM batch_quarantine ORDER BY file, row_no LIMIT 1"
        ).fetchone()
        raise BatchRefused(
            man.batch_id,
            f"{p_bad + s_bad} of {total} data rows break the contract "
            f"({(p_bad + s_bad) / total:.1%} > {settings.bad_row_share:.0%}); first: {first[2]}",
            f"{first[0]}.{man.file_format}",
            first[1],
        )
    # Quarantine first: it is the last use of the raw text, whose tables (a copy of both files)
    # are then dropped before the apply, the step that needs the most memory.
    run_step(con, STEPS["50_record"], **params)
    full = man.push_type == "FULL"
    # the persons in the push before a FULL (one count, kept in Python: a look-up, not a step)
    before = (
        full
        and con.execute("SELECT count(*) FROM person_versions WHERE valid_to_seq IS NULL AND in_push").fetchall()[0][0]
    )
    stats = run_step(con, STEPS[f"40_apply_{man.push_type.lower()}"], **params)[0]
    inserted, updated, left, kept, warnings = stats
    if full:
        _check_departures(man, settings, before, left, accept_departures)
    if _VALIDATION_ROOT.get() is not None:
        _validate_batch(con, man, settings, _VALIDATION_ROOT.get(), acc)
    row = dict(
        seq=man.seq,
        batch_id=man.batch_id,
        push_type=man.push_type,
        base_seq=man.base_seq,
        data_month=man.data_month,
        generated_at=man.generated_at,
        encoding=man.encoding,
        file_format=man.file_format,
        source_dir=str(man.dir.resolve()),
        content_hash=man.content_hash,
        status="APPLIED",
        persons_rows=man.files["persons"]["rows"],
        persons_accepted=p_ok,
        persons_quarantined=p_bad,
        segments_rows=man.files["segments"]["rows"],
        segments_accepted=s_ok,
        segments_quarantined=s_bad,
        warnings=warnings,
        persons_inserted=inserted,
        persons_updated=updated,
        persons_left=left,
        persons_kept_segments=kept,
    )
    return row


_BATCH_COLS = (
    "seq, batch_id, push_type, base_seq, data_month, generated_at, encoding, file_format, source_dir, "
    "content_hash, status, persons_rows, persons_accepted, persons_quarantined, segments_rows, "
    "segments_accepted, segments_quarantined, warnings, persons_inserted, persons_updated, persons_left, "
    "persons_kept_segments"
).split(", ")


def _upsert_batch_row(con, row: dict, message: str | None = None) -> None:
    con.execute("DELETE FROM push_batches WHERE seq = ?", [row["seq"]])
    cols = _BATCH_COLS + ["received_at", "applied_at", "message"]
    vals = [row.get(c) for c in _BATCH_COLS]
    con.execute(
        f"INSERT INTO push_batches ({', '.join(cols)}) VALUES ({', '.join('?' * len(_BATCH_COLS))}, now(), "
        f"{'now()' if row['status'] == 'APPLIED' else 'NULL'}, ?)",
        vals + [message],
    )


def _meta_row(man: Manifest, status: str) -> dict:
    return dict(
        seq=man.seq,
        batch_id=man.batch_id,
        push_type=man.push_type,
        base_seq=man.base_seq,
        data_month=man.data_month,
        generated_at=man.generated_at,
        encoding=man.encoding,
        file_format=man.file_format,
        source_dir=str(man.dir.resolve()),
        content_hash=man.content_hash,
        status=status,
        persons_rows=man.files["persons"]["rows"],
        segments_rows=man.files["segments"]["rows"],
    )


_VALIDATION_ROOT: contextvars.ContextVar[Path | None] = contextvars.ContextVar("validation_root", default=None)
