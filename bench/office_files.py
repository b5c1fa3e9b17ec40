"""Peak RSS of the office_files task, or of its parts alone, for one office (issue 16 item 7, ninth session).

On a warehouse whose month is begun and its writing stages done (e.g. `bench/dag_tasks.py` without its
``finish``, or ``monthly.stage_begin`` and ``monthly.stage_run`` of each writer), each run its own
process, measured by bench/measure.py (peak RSS: the kernel's; CPU: user + system):

  task     ``monthly.stage_run("office_files", offices=[office])``: the DAG's task (read-only);
  writer   ``outputs.write_workbooks`` alone, for the office, on a read-only connection;
  csv      the worklist's Parquet and CSV alone (``outputs.write_worklists`` without the workbooks).

    .venv/bin/python bench/office_files.py --warehouse bench/work/om/w.duckdb --month 2026-12 \\
        --out /tmp/of --offices 640104,640106,640105 --what task,writer --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import measure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CALL = """
import json, sys
from pathlib import Path
from pipelines import monthly, outputs
from pipelines.settings import load_settings
from pipelines.warehouse import connect
what, month, warehouse, out, office = sys.argv[1:6]
if what == "task":
    monthly.stage_run("office_files", month=month, warehouse=warehouse, out=out, offices=[office])
else:
    settings = load_settings()
    if what == "csv":
        import dataclasses
        settings = dataclasses.replace(settings, worklist_workbooks=False)
    with connect(warehouse, read_only=True, settings=settings) as con:
        ctx = monthly.month_context(con, month, settings, replay=True)
        f = outputs.write_workbooks if what == "writer" else outputs.write_worklists
        f(con, ctx, Path(out), [office])
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--month", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--offices", required=True, help="comma-separated office codes")
    ap.add_argument("--what", default="task", help="comma-separated: task, writer, csv")
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    for _ in range(a.repeat):
        for office in a.offices.split(","):
            for what in a.what.split(","):
                cmd = [sys.executable, "-c", CALL, what, a.month, a.warehouse, a.out, office]
                m = measure(cmd, what, cwd=ROOT)
                if m.returncode:
                    sys.exit(f"{what} {office} failed:\n{m.stderr[-2000:]}")
                fell_back = "did not fit DuckDB's memory_limit" in m.stderr
                print(
                    json.dumps(
                        dict(
                            what=what,
                            office=office,
                            peak_mib=round(m.rss_mib),
                            cpu=round(m.cpu, 2),
                            wall=round(m.secs, 1),
                            fell_back=fell_back,
                            load=round(os.getloadavg()[0], 1),
                        )
                    ),
                    flush=True,
                )


if __name__ == "__main__":
    main()
