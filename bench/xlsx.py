"""Benchmark of the offices' workbooks (issue 16): what ``worklist.xlsx`` adds to the monthly run.

1,000,000 persons (``retire-prep sample``, as bench/run.py), ingested once; then the FULL month's
``run`` twice, each in its own process on its own copy of the ingested warehouse:
  without   settings ``worklist_workbooks = false`` (Parquet and CSV only, as before issue 16);
  with      the default (every office's worklist.xlsx too).
Wall time and peak RSS of each run process; the workbooks' rows and bytes.
Wall time, CPU time (user + system, all threads: steadier than wall time on a shared machine) and
peak RSS of each run process; the workbooks' rows and bytes.
Budget (issue 16): the workbooks add at most 50 % to the run, and no process's peak memory grows.
Since issue 16 item 7 the data rows are made set-based: one DuckDB query builds every row's XML
for every office, spliced into the template XlsxWriter writes without them (pipelines/xlsx.py).

Beside it, a Rust-backed writer (rustpy-xlsxwriter, over rust_xlsxwriter) writes the same offices'
工作台账 sheets from the same query (Arrow batches → rows), in its own process, when it is installed
(``.venv/bin/pip install rustpy-xlsxwriter==0.8.0``; not a dependency of the project).

    .venv/bin/python bench/xlsx.py [--persons 1000000] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work" / "xlsx"
PY = sys.executable
CLI = [PY, "-m", "pipelines.cli"]

_WRAP = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stderr.write(p.stderr[-2000:])\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(u.ru_maxrss, u.ru_utime + u.ru_stime)\n"
    "sys.exit(p.returncode)\n"
)


def timed(cmd: list[str], label: str, env: dict | None = None) -> tuple[float, float, float]:
    """Run cmd in a child process through a fresh wrapper (the peak RSS is this step's own)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [PY, "-c", _WRAP] + cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    secs = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{label} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    maxrss, cpu = proc.stdout.strip().splitlines()[-1].split()
    rss = int(maxrss) / 1024
    print(f"  {label:<34} {secs:8.1f} s   CPU {float(cpu):8.1f} s   peak RSS {rss:7.0f} MiB", flush=True)
    return secs, rss, float(cpu)


RUST = r"""
import sys, time
from pathlib import Path
import duckdb
import rustpy_xlsxwriter as rx
from pipelines.outputs import WORKLIST_COLUMNS
from pipelines.tabular import dictionary
from pipelines.xlsx import _shown, _NUMBERS

wh, out = sys.argv[1], Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
con = duckdb.connect(wh, read_only=True)
cols = [c.strip() for c in WORKLIST_COLUMNS.split(",")]
heads = [dictionary()[c] for c in cols]
text = rx.Format().set_num_format("@")
mi = con.execute("SELECT max(month_mi) FROM worklist_rows").fetchall()[0][0]
offices = [r[0] for r in con.execute("SELECT DISTINCT office_code FROM worklist_rows WHERE month_mi = ? ORDER BY 1",
                                     [mi]).fetchall()]
sel = ", ".join(f'{_shown(c)} AS "{h}"' for c, h in zip(cols, heads))
n = 0
for office in offices:
    reader = con.sql(f"SELECT {sel} FROM worklist_rows WHERE month_mi = {mi} AND office_code = '{office}' "
                     "ORDER BY statutory_age_month, entry_id").to_arrow_reader(20000)
    def rows():
        global n
        for batch in reader:
            for r in batch.to_pylist():
                n += 1
                yield r
    rx.write_worksheet(rows(), str(out / f"{office}.xlsx"), sheet_name="工作台账", freeze_row=1, freeze_col=2,
                       autofilter=True, header_format=rx.Format().set_bold(),
                       column_formats={h: text for c, h in zip(cols, heads) if c not in _NUMBERS},
                       page_setup={"landscape": True, "paper_size": 9, "repeat_rows": 0})
print(n)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep bench/work/xlsx afterwards")
    a = ap.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    full = WORK / "full"
    print(f"generating {a.persons:,} persons (FULL 2026-11)", flush=True)
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
    base = WORK / "ingested.duckdb"
    timed(CLI + ["ingest", str(full), "--warehouse", str(base)], "ingest FULL (once)")
    off = WORK / "settings-no-workbooks.toml"
    settings = (ROOT / "data" / "settings.toml").read_text(encoding="utf-8")
    assert "worklist_workbooks = true" in settings
    off.write_text(settings.replace("worklist_workbooks = true", "worklist_workbooks = false"), encoding="utf-8")
    results = {}
    for label, env in (("without", {"RETIRE_PREP_SETTINGS": str(off)}), ("with", {})):
        wh, out = WORK / f"{label}.duckdb", WORK / f"out-{label}"
        shutil.copyfile(base, wh)
        for side in base.parent.glob(base.name + ".*"):  # validation results kept beside it, if any
            if side.is_dir():
                shutil.copytree(side, wh.parent / side.name.replace(base.name, wh.name), dirs_exist_ok=True)
        results[label] = timed(
            CLI + ["run", "--month", "2026-11", "--warehouse", str(wh), "--out", str(out)],
            f"run 2026-11 {label} workbooks",
            env,
        )
    try:
        import rustpy_xlsxwriter  # noqa: F401

        rust = timed(
            [PY, "-c", RUST, str(WORK / "with.duckdb"), str(WORK / "rust")], "rustpy-xlsxwriter, 工作台账 only"
        )
    except ImportError:
        rust = None
        print("  rustpy-xlsxwriter not installed: the Rust-backed writer is not measured")
    books = sorted((WORK / "out-with" / "2026-11" / "worklists").glob("*/worklist.xlsx"))
    csvs = sorted((WORK / "out-with" / "2026-11" / "worklists").glob("*/worklist.csv"))
    rows = sum(sum(1 for _ in open(c, encoding="utf-8-sig")) - 1 for c in csvs)
    size = sum(b.stat().st_size for b in books)
    (t0, r0, c0), (t1, r1, c1) = results["without"], results["with"]
    print(
        f"offices: {len(books)} workbooks, {rows:,} worklist rows, {size / 2**20:.1f} MiB of .xlsx "
        f"(largest {max(b.stat().st_size for b in books) / 2**20:.1f} MiB)"
    )
    print(
        f"run with workbooks / without: {t1 / t0:.2f}x (+{(t1 - t0) / t0:.0%}; budget +50 %); "
        f"CPU {c1 / c0:.2f}x (+{(c1 - c0) / c0:.0%}); peak RSS {r0:.0f} -> {r1:.0f} MiB"
    )
    if rust:
        print(
            f"Rust-backed writer, the 工作台账 sheets alone (its own process, incl. start and queries): "
            f"{rust[0]:.1f} s, peak RSS {rust[1]:.0f} MiB"
        )
    print(
        f"| {a.persons:,} | {os.cpu_count()} | {t0:.1f} | {t1:.1f} | +{(t1 - t0) / t0:.0%} | {c0:.1f} | {c1:.1f} "
        f"| +{(c1 - c0) / c0:.0%} | {r0:,.0f} | {r1:,.0f} "
        f"| {len(books)} | {rows:,} | {size / 2**20:.1f} |"
    )
    if not a.keep:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
