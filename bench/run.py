"""Benchmark of the monthly run (issue 4): 1,000,000 persons, FULL month and INCR month.

In one run, on the same files:
  bare     DuckDB read_csv of persons.csv and segments.csv into tables (the floor);
  FULL     `retire-prep ingest` of the FULL + `retire-prep run` of its month;
  INCR     `retire-prep ingest` of an INCR with 1 % of persons changed + `run` of the next month.
Each step runs in its own process; wall time and peak RSS are recorded.
Targets: ingest + run <= 3x bare load; the INCR month <= 10 % of the FULL month.

    .venv/bin/python bench/run.py [--persons 1000000] [--keep] [--note TEXT] [--no-record]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work" / "run"
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


STAGES: dict[str, float] = {}   # label -> sum of the stage seconds the run printed (its `time:` line)


def timed(cmd: list[str], label: str) -> tuple[float, float]:
    """Run cmd in a child process (through a fresh wrapper, so the peak RSS is this step's own)."""
    t0 = time.perf_counter()
    proc = subprocess.run([PY, "-c", _WRAP] + cmd, cwd=ROOT, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{label} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    rss = int(proc.stdout.strip().splitlines()[-1]) / 1024
    stages = " ".join(l.strip() for l in proc.stderr.splitlines() if l.strip().startswith("time:"))
    STAGES[label] = sum(float(x) for x in re.findall(r" ([0-9]+(?:\.[0-9]+)?) s", stages))
    print(f"  {label:<28} {secs:8.1f} s   peak RSS {rss:7.0f} MiB  {stages}", flush=True)
    return secs, rss


BARE = """
import duckdb, sys
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE persons AS SELECT * FROM read_csv(?, header=true, all_varchar=true)", [sys.argv[2]])
con.execute("CREATE TABLE segments AS SELECT * FROM read_csv(?, header=true, all_varchar=true)", [sys.argv[3]])
con.close()
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep bench/work/run afterwards")
    ap.add_argument("--no-record", action="store_true",
                    help="do not append the figures as a row of the history table ending docs/benchmarks.md")
    ap.add_argument("--note", default="", help="the note column of that row (e.g. what changed)")
    a = ap.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    full, incr = WORK / "full", WORK / "incr"
    changes = max(1, a.persons // 100)
    print(f"generating {a.persons:,} persons (FULL 2026-11) and an INCR of {changes:,} changes (2026-12)", flush=True)
    subprocess.run(CLI + ["sample", "--persons", str(a.persons), "--month", "2026-11", "--out", str(full),
                          "--seed", "7", "--bad-rows", "0.001"], cwd=ROOT, check=True)
    subprocess.run(CLI + ["sample", "--month", "2026-12", "--out", str(incr), "--incr-from", str(full),
                          "--changes", str(changes), "--seed", "7"], cwd=ROOT, check=True)

    print("timings (each step its own process):", flush=True)
    bare, bare_rss = timed([PY, "-c", BARE, str(WORK / "bare.duckdb"), str(full / "persons.csv"),
                            str(full / "segments.csv")], "bare DuckDB read_csv")
    wh, out = WORK / "w.duckdb", WORK / "out"
    ing_f, ing_f_rss = timed(CLI + ["ingest", str(full), "--warehouse", str(wh)], "ingest FULL")
    run_f, run_f_rss = timed(CLI + ["run", "--month", "2026-11", "--warehouse", str(wh), "--out", str(out)],
                             "run 2026-11 (FULL month)")
    ing_i, ing_i_rss = timed(CLI + ["ingest", str(incr), "--warehouse", str(wh)], "ingest INCR (1 %)")
    run_i, run_i_rss = timed(CLI + ["run", "--month", "2026-12", "--warehouse", str(wh), "--out", str(out)],
                             "run 2026-12 (INCR month)")
    full_month, incr_month = ing_f + run_f, ing_i + run_i
    stage_f = STAGES.get("run 2026-11 (FULL month)", 0)
    stage_i = STAGES.get("run 2026-12 (INCR month)", 0)
    print(f"ingest + run of the FULL month / bare load: {full_month / bare:.1f}x (target <= 3x)")
    print(f"INCR month / FULL month: {incr_month / full_month:.0%} (target <= 10 %)")
    print(f"of the runs' wall time, in their stages: FULL {stage_f:.1f} of {run_f:.1f} s, "
          f"INCR {stage_i:.1f} of {run_i:.1f} s")
    # one row of the history table that ends docs/benchmarks.md (its columns: see that table's header)
    row = (f"| {dt.date.today()} | {a.persons:,} | {os.cpu_count()} | {bare:.1f} | {ing_f:.1f} | {run_f:.1f} | "
           f"{ing_i:.1f} | {run_i:.1f} | **{full_month / bare:.1f}×** | **{incr_month / full_month:.0%}** | "
           f"{max(ing_f_rss, run_f_rss, ing_i_rss, run_i_rss):,.0f} | {a.note} |")
    print(row)
    if not a.no_record:
        doc = ROOT / "docs" / "benchmarks.md"
        text = doc.read_text(encoding="utf-8")
        if not text.rstrip("\n").splitlines()[-1].startswith("|"):
            sys.exit("docs/benchmarks.md does not end with the monthly-run history table: row not recorded")
        doc.write_text(text.rstrip("\n") + "\n" + row + "\n", encoding="utf-8")
    if not a.keep:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
