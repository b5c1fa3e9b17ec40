"""Has a push arrived? The push inbox's sensor and the guard against a month run twice.

The monthly DAG starts when the Ministry's push has arrived (``dags/push_arrival.py``
pokes :func:`new_complete_batches`; an asset event then starts ``pre_service_monthly``),
and at 02:00 on the 16th as the fallback.  Two rules keep that safe:

* **Only a complete batch fires.**  A batch folder counts once its ``manifest.json`` is there
  and every file it names is there with the manifest's sha256 (``ingest.read_manifest``, the
  same check the ingest makes).  A batch still being copied — manifest first and the files
  partial, or the files first and no manifest yet — is simply not there yet: no event, no run.
  A batch that never verifies (a bad hash for good) is left to the fallback run, whose ingest
  refuses it loudly.
* **A month never runs twice because both fired.**  An automatic run (no ``month`` param) first
  asks :func:`automatic_run_due`: when month P already has a finished run on the push state that
  is now current and no application was loaded since, the run is a no-op (its tasks are
  skipped, nothing is written).  A month before the last month run is never rerun automatically.

Which batches the sensor has announced is kept in a small text file beside the warehouse
(``<warehouse>.arrivals``: one ``<folder> <content hash>`` a line), so a batch announces itself
once; a batch whose bytes change (a corrected copy) is a new arrival.  No personal data anywhere.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def arrivals_file(warehouse: str | Path) -> Path:
    """Where the sensor remembers the batches it announced (beside the warehouse)."""
    w = Path(warehouse)
    return w.with_name(w.name + ".arrivals")


def complete_batches(inbox: str | Path) -> list[dict]:
    """Every batch folder of ``inbox`` whose manifest is there and verifies (names, shape, hashes).

    Returns ``[{"folder", "batch_id", "seq", "data_month", "content_hash"}]`` in seq order; an
    incomplete or broken folder is left out (and logged at debug level only: a copy in progress
    is normal)."""
    from .contract import shown_file_name
    from .errors import BatchRefused
    from .ingest import read_manifest

    found = []
    for mpath in sorted(Path(inbox).glob("*/manifest.json")):
        try:
            man = read_manifest(mpath.parent)
        except (BatchRefused, OSError) as exc:
            log.debug("not complete (yet): %s: %s", shown_file_name(mpath.parent.name), exc)
            continue
        found.append(
            {
                "folder": mpath.parent.name,
                "batch_id": man.batch_id,
                "seq": man.seq,
                "data_month": man.data_month,
                "content_hash": man.content_hash,
            }
        )
    return sorted(found, key=lambda b: b["seq"])


def _seen(warehouse: str | Path) -> set[str]:
    f = arrivals_file(warehouse)
    return set(f.read_text(encoding="utf-8").split("\n")) - {""} if f.is_file() else set()


def _key(batch: dict) -> str:
    return f"{batch['folder']} {batch['content_hash']}"


def new_complete_batches(inbox: str | Path, warehouse: str | Path) -> list[dict]:
    """The sensor's poke: complete batches not announced before (empty list = keep waiting)."""
    seen = _seen(warehouse)
    return [b for b in complete_batches(inbox) if _key(b) not in seen]


def mark_announced(batches: list[dict], warehouse: str | Path) -> None:
    """Remember ``batches`` as announced (atomically: a crash leaves the old file or the new one)."""
    f = arrivals_file(warehouse)
    f.parent.mkdir(parents=True, exist_ok=True)
    lines = sorted(_seen(warehouse) | {_key(b) for b in batches})
    tmp = f.with_name(f.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.replace(tmp, f)


def month_of_arrivals(batches: list[dict]) -> str | None:
    """The month an arrival asks to run: the latest data_month among the batches."""
    return max((b["data_month"] for b in batches), default=None)


def automatic_run_due(month: str, warehouse: str | Path) -> tuple[bool, str]:
    """Should an automatic run (sensor or fallback schedule, no ``month`` param) of P go ahead?

    Not when P is before the last month run (months only go forward; a rerun of a past month
    is the operator's decision), nor when P already finished on the push state that is current
    now with no application loaded since (both the arrival and the fallback fired).  Otherwise
    yes — including a P whose run failed or never finished, and a P a correction push changed.
    Returns ``(due, reason)``; the reason is logged by the task."""
    from .policy import format_month, parse_month
    from .warehouse import connect

    mi = parse_month(month)
    month = format_month(mi)
    if not Path(warehouse).is_file():
        return True, f"month {month}: no warehouse yet"
    with connect(warehouse, read_only=True) as con:
        last = con.execute(
            "SELECT max(month_mi) FROM month_runs WHERE command = 'run' "
            "AND status IN ('DONE', 'RUNNING') AND NOT replay"
        ).fetchall()[0][0]
        if last is not None and mi < last:
            return False, (
                f"month {month} is before the last month run ({format_month(last)}): an automatic run "
                f'does not rerun it (trigger with {{"month": "{month}"}} if that is meant)'
            )
        seq = con.execute(
            "SELECT max(seq) FROM push_batches WHERE status = 'APPLIED' AND data_month <= ?", [month]
        ).fetchall()[0][0]
        done = con.execute(
            "SELECT as_of_seq, finished_at FROM month_runs WHERE command = 'run' AND status = 'DONE' "
            "AND NOT replay AND month_mi = ? ORDER BY finished_at DESC LIMIT 1",
            [mi],
        ).fetchone()
        if done is None or seq is None:
            return True, f"month {month}: not run yet"
        if done[0] != seq:
            return True, f"month {month}: run on push seq {done[0]}, seq {seq} applied since"
        later = con.execute("SELECT count(*) FROM applications WHERE loaded_at > ?", [done[1]]).fetchall()[0][0]
        if later:
            return True, f"month {month}: {later} application(s) loaded since its run"
        return False, f"month {month} already ran on push seq {seq} and nothing arrived since: nothing to do"
