"""County feedback at production size: ``retire-prep feedback`` on the warehouse of ``bench/run.py``.

    .venv/bin/python bench/run.py --keep --no-record     # once: bench/work/run/1000000/w.duckdb, of 1,000,000 persons, 2 months run
    .venv/bin/python bench/feedback.py [--rows 5000]

Copies ``bench/work/run/w.duckdb`` (the original is left as it was), writes one feedback file per
office with ARCHIVE_REVIEWED rows for ROWS open entries in stage NOTIFIED (each office's own persons,
split like the ledger), and applies them all in one ``retire-prep feedback`` process, as an office
intake does. Prints the wall time, rows per second and peak RSS; figures go into docs/benchmarks.md
("County feedback") by hand. Generated data only (the bench's own sample).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from run import write_feedback  # noqa: E402

RUN = ROOT / "bench" / "work" / "run" / "1000000" / "w.duckdb"
WORK = ROOT / "bench" / "work" / "feedback"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--day", default="2026-12-10", help="event_date of the rows (after the entries opened)")
    a = ap.parse_args()
    if not RUN.exists():
        sys.exit(f"{RUN.relative_to(ROOT)} is missing: run `bench/run.py --keep --no-record` first")
    import duckdb

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    wh = WORK / "w.duckdb"
    shutil.copyfile(RUN, wh)
    con = duckdb.connect(str(wh), read_only=True)
    persons = con.execute("SELECT count(*) FROM ledger_entries").fetchall()[0][0]
    con.close()
    paths = write_feedback(wh, WORK, a.rows, a.day)  # bench/run.py's files, one per office
    picked = sum(1 for p in paths for _ in open(p, encoding="utf-8")) - len(paths)
    # the indexes of the schema are created by the first writer that opens an older warehouse: once
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pipelines.warehouse import connect\nwith connect(sys.argv[1]): pass",
            str(wh),
        ],
        cwd=ROOT,
        check=True,
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "feedback", "--warehouse", str(wh), *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    secs = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    rss = after.ru_maxrss / 1024
    if p.returncode != 0:
        sys.exit(p.stderr[-2000:])
    print(p.stdout.strip().splitlines()[-1] if p.stdout.strip() else "")
    print(
        f"{picked:,} rows in {len(paths)} files on a ledger of {persons:,} entries: {secs:.1f} s, "
        f"{picked / secs:,.0f} rows/s, {cpu:.1f} CPU s, peak RSS {rss:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
