"""Benchmark of the analysts' file (issue 17 item 3): its rebuild at 1,000,000 persons against the run.

The same data as bench/run.py (a FULL 2026-11 of N persons, an INCR 2026-12 with 1 % changed):
ingest and run each month (each command rebuilds the analysts' file when it ends, as in
production), then time the rebuild alone (``pipelines.analysts.rebuild``, in its own process)
after each month's run.  Target: the rebuild at most 10 % of the month's run.

    .venv/bin/python bench/analysts.py [--persons 1000000] [--keep]

Prints the figures; docs/benchmarks.md "The analysts' file" records them.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CLI = [PY, "-m", "pipelines.cli"]

_WRAP = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stderr.write(p.stderr[-2000:])\n"
    "sys.stderr.write(''.join(l + '\\n' for l in p.stdout.splitlines() if l.strip().startswith('time:')))\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(p.returncode)\n"
)


def timed(cmd: list[str], label: str) -> tuple[float, float]:
    """Run cmd in a child process (through a fresh wrapper, so the peak RSS is this step's own)."""
    t0 = time.perf_counter()
    proc = subprocess.run([PY, "-c", _WRAP] + cmd, cwd=ROOT, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{label} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    rss = int(proc.stdout.strip().splitlines()[-1]) / 1024
    stages = " ".join(l.strip() for l in proc.stderr.splitlines() if l.strip().startswith("time:"))
    print(f"  {label:<28} {secs:8.1f} s   peak RSS {rss:7.0f} MiB  {stages}", flush=True)
    return secs, rss


WORK = ROOT / "bench" / "work" / "analysts"

REBUILD = """
import sys, time
from pipelines.analysts import rebuild
t = time.perf_counter()
path = rebuild(sys.argv[1])
print(f"time: rebuild {time.perf_counter() - t:.1f} s", file=sys.stderr)
"""


def sizes(wh: Path) -> str:
    ana = wh.with_name(wh.name.replace(".duckdb", ".analysts.duckdb"))
    return f"warehouse {wh.stat().st_size / 2**20:,.0f} MiB, analysts' file {ana.stat().st_size / 2**20:,.0f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    full, incr = WORK / "full", WORK / "incr"
    changes = max(1, a.persons // 100)
    print(f"generating {a.persons:,} persons (FULL 2026-11) and an INCR of {changes:,} changes (2026-12)", flush=True)
    t0 = time.perf_counter()
    subprocess.run(
        CLI
        + [
            "sample",
            "--persons",
            str(a.persons),
            "--month",
            "2026-11",
            "--out",
            str(full),
            "--seed",
            "7",
            "--bad-rows",
            "0.001",
        ],
        cwd=ROOT,
        check=True,
    )
    subprocess.run(
        CLI
        + [
            "sample",
            "--month",
            "2026-12",
            "--out",
            str(incr),
            "--incr-from",
            str(full),
            "--changes",
            str(changes),
            "--seed",
            "7",
        ],
        cwd=ROOT,
        check=True,
    )
    print(f"  generated in {time.perf_counter() - t0:.0f} s", flush=True)
    wh, out = WORK / "w.duckdb", WORK / "out"
    print("timings (each step its own process; ingest and run include their rebuild):", flush=True)
    ing_f, _ = timed(CLI + ["ingest", str(full), "--warehouse", str(wh)], "ingest FULL")
    run_f, _ = timed(CLI + ["run", "--month", "2026-11", "--warehouse", str(wh), "--out", str(out)], "run 2026-11")
    reb_f, reb_f_rss = timed([PY, "-c", REBUILD, str(wh)], "rebuild after 2026-11")
    print("  " + sizes(wh), flush=True)
    ing_i, _ = timed(CLI + ["ingest", str(incr), "--warehouse", str(wh)], "ingest INCR (1 %)")
    run_i, _ = timed(CLI + ["run", "--month", "2026-12", "--warehouse", str(wh), "--out", str(out)], "run 2026-12")
    reb_i, reb_i_rss = timed([PY, "-c", REBUILD, str(wh)], "rebuild after 2026-12")
    print("  " + sizes(wh), flush=True)
    # the run's wall time includes its own rebuild: compare with the run without it
    for label, reb, run, ing in (("FULL", reb_f, run_f, ing_f), ("INCR", reb_i, run_i, ing_i)):
        print(
            f"rebuild / run without it, {label} month: {reb / (run - reb):.1%} "
            f"(of ingest + run: {reb / (ing + run - 2 * reb):.1%})"
        )
    print("target: at most 10 % of the run")
    if not a.keep:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
