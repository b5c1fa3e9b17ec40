"""Benchmark of the workload forecast (issue 18) at 1,000,000 persons: its cost against the run.

Target: the forecast stage costs at most 10 % of the monthly run (one pass over the screening,
not a run per month).  In one go, on generated data (`retire-prep sample`, as bench/run.py):

  1. ingest a FULL of N persons (2026-11) and run its month — the run prints each stage's seconds
     (`time:` line), the forecast stage among them (compute, store, GX suite);
  2. ingest an INCR with 1 % of the persons changed (2026-12) and run that month (the screening
     cache makes this run shorter, so the forecast's share is larger);
  3. in a separate read-only process, the forecast's SQL alone (sql/forecast/, TEMP tables) for the
     last month, timed, with the number of persons it considered.

    .venv/bin/python bench/forecast.py [--persons 1000000] [--keep] [--no-record]

The figures are appended to docs/benchmarks.md under "## Forecast (issue 18)".
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import CLI, PY, ROOT, generate_full_incr, stage_seconds, timed, without_workbooks  # noqa: E402

WORK = ROOT / "bench" / "work" / "forecast"

SQL_ONLY = r"""
import sys, time
from pipelines import forecast as F
from pipelines.settings import load_settings
from pipelines.warehouse import connect
from pipelines.policy import parse_month
s = load_settings()
mi = parse_month(sys.argv[2])
with connect(sys.argv[1], read_only=True, settings=s) as con:
    F._state_of_month(con, mi)
    t = time.perf_counter()
    F.compute(con, mi, s)
    secs = time.perf_counter() - t
    n = con.execute("SELECT (SELECT count(*) FROM screen_results WHERE month_mi = ?), "
                    "(SELECT count(*) FROM _fc_entering), (SELECT count(*) FROM _fc_open), "
                    "(SELECT count(*) FROM _fc_notices)", [mi]).fetchall()[0]
print(f"{secs:.2f} {n[0]} {n[1]} {n[2]} {n[3]}")
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--no-record", action="store_true")
    a = ap.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    wh, out = WORK / "w.duckdb", WORK / "out"
    load = os.getloadavg()
    full, incr, changes = generate_full_incr(WORK, a.persons)
    env = without_workbooks(WORK)  # as the figures before issue 16: the run without worklist.xlsx
    timed(CLI + ["ingest", str(full), "--warehouse", str(wh)], "ingest FULL", env)
    m = timed(
        CLI + ["run", "--month", "2026-11", "--warehouse", str(wh), "--out", str(out)], "run 2026-11 (FULL month)", env
    )
    run_f, rss_f, so_f = m.secs, m.rss_mib, m.stdout
    timed(CLI + ["ingest", str(incr), "--warehouse", str(wh)], "ingest INCR (1 %)", env)
    m = timed(
        CLI + ["run", "--month", "2026-12", "--warehouse", str(wh), "--out", str(out)], "run 2026-12 (INCR month)", env
    )
    run_i, rss_i, so_i = m.secs, m.rss_mib, m.stdout
    sql = timed([PY, "-c", SQL_ONLY, str(wh), "2026-12"], "forecast SQL alone (read-only)", env).stdout
    sql_s, screened, entering, open_, notices = sql.split()
    st_f, st_i = stage_seconds(so_f), stage_seconds(so_i)
    print(f"  stages FULL month: {st_f}")
    print(f"  stages INCR month: {st_i}")
    fc_f, fc_i = st_f.get("forecast", 0.0), st_i.get("forecast", 0.0)
    share_f, share_i = fc_f / run_f, fc_i / run_i
    print(f"forecast / run: FULL month {share_f:.1%}, INCR month {share_i:.1%} (target <= 10 %)")
    section = f"""
### {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} +0000 — {a.persons:,} persons

Machine: {os.cpu_count()} CPUs, load average before the run {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (shared with other work).
Data: `retire-prep sample --persons {a.persons} --seed 7` (FULL 2026-11) and an INCR of {changes:,} changes (2026-12);\nruns without the offices' workbooks (`worklist_workbooks = false`, as before issue 16).

| month | run wall | forecast stage | share | peak RSS of the run |
|---|---:|---:|---:|---:|
| 2026-11 (FULL) | {run_f:.1f} s | {fc_f:.1f} s | **{share_f:.1%}** | {rss_f:,.0f} MiB |
| 2026-12 (INCR 1 %) | {run_i:.1f} s | {fc_i:.1f} s | **{share_i:.1%}** | {rss_i:,.0f} MiB |

Stage seconds as the runs printed them: FULL {st_f}; INCR {st_i}.
The forecast's SQL alone (sql/forecast/10–20, TEMP tables, read-only connection) for 2026-12: **{float(sql_s):.2f} s**
over {int(screened):,} screened persons — {int(open_):,} open ledger entries, {int(entering):,} persons entering
in the horizon, {int(notices):,} notices due.
"""
    print(section)
    if not a.no_record:
        doc = ROOT / "docs" / "benchmarks.md"
        text = doc.read_text(encoding="utf-8")
        head = "\n## Forecast (issue 18)\n"
        if head not in text:
            raise SystemExit("docs/benchmarks.md has no '## Forecast (issue 18)' section: add its head first")
        i = text.index(head) + len(head)
        nxt = text.find("\n## ", i)
        end = len(text) if nxt < 0 else nxt
        doc.write_text(text[:end].rstrip("\n") + "\n" + section + text[end:], encoding="utf-8")
    if not a.keep:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
