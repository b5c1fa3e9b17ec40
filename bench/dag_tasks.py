"""Peak RSS of each task of the ``pre_service_monthly`` DAG, each task its own process (issue 19).

Runs the month's DAG tasks in the order Airflow does (begin, the writers of pipelines/stages.py,
office_files per office, month_files, finish) through the same ``pipelines.monthly`` functions the
DAG calls (``stage_begin``, ``stage_run``, ``stage_finish``), on a warehouse that holds the month's push (e.g. the one `bench/run.py
--keep` leaves, after `retire-prep ingest` of the next batch), each in its own process measured by
bench/measure.py. Prints one line per task; with ``--offices N`` only the N largest offices' tasks
(each alike).

    .venv/bin/python bench/dag_tasks.py --warehouse bench/work/run/1000000/w.duckdb --month 2026-12 --out /tmp/dag-out
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
CALL = (
    "import json, sys, logging; logging.basicConfig(level=logging.INFO, stream=sys.stderr, "
    "format='%(asctime)s %(levelname)s %(name)s: %(message)s')\n"
    "from pipelines import monthly\n"
    "kw = json.loads(sys.argv[2])\n"
    "name = sys.argv[1]\n"
    "f = {'begin': monthly.stage_begin, 'finish': monthly.stage_finish, 'month_offices': monthly.month_offices}\n"
    "out = f[name](**kw) if name in f else monthly.stage_run(name, **kw)\n"  # the stages of pipelines/stages.py
    "print(json.dumps(out, default=str))\n"
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--month", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--offices", type=int, default=3, help="office tasks to run (the largest offices first)")
    a = ap.parse_args()
    base = dict(month=a.month, warehouse=a.warehouse, out=a.out)
    peaks = {}

    def task(name, **extra):
        m = measure([sys.executable, "-c", CALL, name, json.dumps({**base, **extra})], name, cwd=ROOT)
        if m.returncode:
            sys.exit(f"{name} failed:\n{m.stderr[-2000:]}")
        label = name + (f"[{','.join(extra['offices'])}]" if "offices" in extra else "")
        peaks[label] = m.rss_mib
        print(
            f"  {label:<24} {m.secs:7.1f} s  peak RSS {m.rss_mib:6.0f} MiB  (peak in: {m.peak_at})  "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        return json.loads(m.stdout.strip().splitlines()[-1])

    from pipelines.stages import READERS, WRITERS

    task("begin")
    for st in WRITERS:
        task(st.name)
    offices = task("month_offices")
    import duckdb

    con = duckdb.connect(a.warehouse, read_only=True)
    mi = con.execute("SELECT max(month_mi) FROM worklist_rows").fetchall()[0][0]
    size = dict(
        con.execute("SELECT office_code, count(*) FROM worklist_rows WHERE month_mi = ? GROUP BY 1", [mi]).fetchall()
    )
    con.close()
    for st in READERS:
        if st.per_office:
            for office in sorted(offices, key=lambda o: -size.get(o, 0))[: a.offices]:
                task(st.name, offices=[office])
        else:
            task(st.name)
    task("finish")
    print(f"largest peak RSS of a task: {max(peaks.values()):,.0f} MiB ({max(peaks, key=peaks.get)})")


if __name__ == "__main__":
    main()
