"""Where the monthly run spends its time: every SQL statement and Python phase, timed in-process.

    .venv/bin/python bench/profile_run.py WAREHOUSE --month 2026-11 [--out DIR] [--top 40]

WAREHOUSE is copied first (the original is left as it was), then ``run_month`` runs on the
copy with ``pipelines.steps.run_step`` split into statements (DuckDB's
``extract_statements``) and each statement timed, and the Python phases (GX validation,
file writing, notice rendering) timed by wrapping them.  Prints the slowest items.
In-process figures lack the interpreter start-up and imports that ``retire-prep run`` pays.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIMES: collections.Counter = collections.Counter()
COUNTS: collections.Counter = collections.Counter()


def _label(name: str, stmt: str) -> str:
    first = " ".join(stmt.split())[:90]
    return f"{name}: {first}"


def _timed_run_step():
    """pipelines.steps.run_step split into statements, each timed (the stages' STEPS)."""
    import duckdb

    def run_step(con, step, *, bind=None, **params):
        sql = step.render(**params)
        rows = []
        statements = duckdb.extract_statements(sql)
        for i, st in enumerate(statements):
            text = st.query
            t0 = time.perf_counter()
            last = i == len(statements) - 1
            rows = (con.execute(text) if bind is None or not last else con.execute(text, bind)).fetchall()
            TIMES[_label(step.sql, text)] += time.perf_counter() - t0
            COUNTS[_label(step.sql, text)] += 1
        return rows

    return run_step


def _wrap(mod, attr, label=None):
    fn = getattr(mod, attr)

    def wrapper(*a, **k):
        t0 = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            TIMES[f"py {label or mod.__name__ + '.' + attr}"] += time.perf_counter() - t0
            COUNTS[f"py {label or mod.__name__ + '.' + attr}"] += 1

    setattr(mod, attr, wrapper)


def main() -> None:
    # One piece (issue 15): a bench script read top to bottom — its options, the wrappers installed,
    # the run, the table printed.
    ap = argparse.ArgumentParser()
    ap.add_argument("warehouse")
    ap.add_argument("--month", required=True)
    ap.add_argument("--out")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--in-place", action="store_true", help="run on WAREHOUSE itself, not a copy")
    a = ap.parse_args()

    import pipelines.feedback.apply as feedback_apply
    import pipelines.warehouse as wh
    from pipelines import (
        analysts,
        declare,
        forecast,
        ledger,
        monthly,
        notify,
        outputs,
        report,
        screen,
        steps,
        tabular,
        validate,
    )

    timed_step = _timed_run_step()
    for mod in (
        wh,
        steps,
        screen,
        ledger,
        notify,
        outputs,
        declare,
        feedback_apply,
        report,
        monthly,
        forecast,
        analysts,
    ):
        if hasattr(mod, "run_step"):
            mod.run_step = timed_step
    _wrap(validate, "validate_frames")
    _wrap(tabular, "write_table")
    for mod in (outputs, notify, declare, report):
        if hasattr(mod, "write_table"):
            mod.write_table = tabular.write_table
    _wrap(tabular, "write_arrow")
    for name in ("_render_texts", "record_transitions", "validate_notices"):
        if hasattr(notify, name):
            _wrap(notify, name)
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    _wrap(pq, "write_table", "pyarrow.parquet.write_table")
    _wrap(pacsv, "write_csv", "pyarrow.csv.write_csv")
    _orig_run = notify._run

    def _run(con, sql):
        t0 = time.perf_counter()
        _orig_run(con, sql)
        TIMES[_label("notify", sql)] += time.perf_counter() - t0
        COUNTS[_label("notify", sql)] += 1

    notify._run = _run

    tmp = Path(tempfile.mkdtemp(prefix="profile-run-"))
    try:
        if a.in_place:
            wpath = Path(a.warehouse)
        else:
            wpath = tmp / "w.duckdb"
            shutil.copyfile(a.warehouse, wpath)
        out = Path(a.out) if a.out else tmp / "out"
        t0 = time.perf_counter()
        rep = monthly.run_month(a.month, wpath, out)
        total = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n".join(rep.lines()))
    print(f"total in-process {total:.1f} s; slowest:")
    for k, v in TIMES.most_common(a.top):
        print(f"  {v:7.2f} s  x{COUNTS[k]:<5} {k}")


if __name__ == "__main__":
    main()
