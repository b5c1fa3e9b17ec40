"""Benchmark of the analysts' file (issue 17 item 3): its upkeep at 1,000,000 persons against the run.

The same data as bench/run.py (a FULL 2026-11 of N persons, an INCR 2026-12 with 1 % changed):
ingest and run each month (each command brings the analysts' file up to date when it ends, as in
production).  The file as it stood before each run is kept aside; after the run it is put back and
the upkeep timed alone (``pipelines.analysts.rebuild``, its own process): the work the run's own
upkeep did.  Also timed: a full rebuild (no previous file) and an upkeep with nothing changed (what a
small command such as a feedback file pays at least).  The runs are without the offices' workbooks
(``worklist_workbooks = false``, as the figures before issue 16).  Target: the upkeep at most 10 % of the run.

    .venv/bin/python bench/analysts.py [--persons 1000000] [--keep]

Prints the figures; docs/benchmarks.md "The analysts' file" records them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import CLI, PY, ROOT, generate_full_incr, timed, without_workbooks  # noqa: E402

WORK = ROOT / "bench" / "work" / "analysts"

REBUILD = """
import sys, time
from pipelines.analysts import rebuild
t = time.perf_counter()
path = rebuild(sys.argv[1], full=sys.argv[2] == "full")
print(f"time: rebuild {time.perf_counter() - t:.1f} s", file=sys.stderr)
"""


def analysts_file(wh: Path) -> Path:
    return wh.with_name(wh.name.replace(".duckdb", ".analysts.duckdb"))


def sizes(wh: Path) -> str:
    return (
        f"warehouse {wh.stat().st_size / 2**20:,.0f} MiB, "
        f"analysts' file {analysts_file(wh).stat().st_size / 2**20:,.0f} MiB"
    )


def upkeep_of(cmd: list[str], label: str, wh: Path, env: dict) -> tuple[float, float]:
    """Run ``cmd`` (which keeps the file up to date itself), then time the upkeep of its changes alone:
    the file as before the command put back, brought up to date in its own process."""
    ana, before = analysts_file(wh), WORK / "before.analysts.duckdb"
    shutil.copyfile(ana, before)
    run = timed(cmd, label, env).secs
    os.replace(before, ana)
    return run, timed([PY, "-c", REBUILD, str(wh), "incremental"], f"upkeep after {label}", env).secs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    full, incr, _ = generate_full_incr(WORK, a.persons)
    wh, out = WORK / "w.duckdb", WORK / "out"
    env = without_workbooks(WORK)  # as the figures before issue 16: the run without worklist.xlsx
    print("timings (each step its own process; ingest and run include their upkeep):", flush=True)
    ing_f = timed(CLI + ["ingest", str(full), "--warehouse", str(wh)], "ingest FULL", env).secs
    run_f, reb_f = upkeep_of(
        CLI + ["run", "--month", "2026-11", "--warehouse", str(wh), "--out", str(out)], "run 2026-11", wh, env
    )
    print("  " + sizes(wh), flush=True)
    ing_i, ing_reb = upkeep_of(CLI + ["ingest", str(incr), "--warehouse", str(wh)], "ingest INCR (1 %)", wh, env)
    run_i, reb_i = upkeep_of(
        CLI + ["run", "--month", "2026-12", "--warehouse", str(wh), "--out", str(out)], "run 2026-12", wh, env
    )
    noop = timed([PY, "-c", REBUILD, str(wh), "incremental"], "upkeep, nothing changed", env).secs
    whole = timed([PY, "-c", REBUILD, str(wh), "full"], "full rebuild (no previous file)", env).secs
    print("  " + sizes(wh), flush=True)
    # the run's wall time includes its own upkeep: compare with the run without it
    for label, reb, run, ing in (("FULL", reb_f, run_f, ing_f), ("INCR", reb_i, run_i, ing_i)):
        print(f"upkeep / run without it, {label} month: {reb / (run - reb):.1%}")
    print(f"upkeep after ingest INCR: {ing_reb:.1f} s; with nothing changed: {noop:.1f} s; full rebuild {whole:.1f} s")
    print(f"full rebuild / INCR run without its upkeep: {whole / (run_i - reb_i):.1%}")
    print("target: at most 10 % of the run")
    if not a.keep:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
