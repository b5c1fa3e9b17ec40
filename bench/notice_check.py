"""The cost of notice_log's uniqueness (issue 19): the UNIQUE indexes it had against the check that
replaced them (sql/notify/35_unique.sql), on the notices of a warehouse bench/run.py kept.

In a scratch database beside it (the warehouse is only read): its notice_log inserted, in buckets
as the notice stage does, into (a) the table as it was, PRIMARY KEY + UNIQUE, and (b) the table as
it is, each bucket followed by the check; one transaction each, as the stage.  Printed: seconds, the
process's CPU seconds, DuckDB's memory by tag before COMMIT, and the check alone over the whole log.

    .venv/bin/python bench/notice_check.py bench/work/run/1000000/w.duckdb [--buckets 2] [--memory 1GB]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from pipelines.notify import STEPS  # noqa: E402
from support.old_schema import OLD_NOTICE_LOG  # noqa: E402


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def memory(con) -> str:
    rows = con.execute(
        "SELECT tag, memory_usage_bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0 ORDER BY 2 DESC"
    ).fetchall()
    return ", ".join(f"{t} {b / 2**20:.0f} MiB" for t, b in rows) or "-"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("warehouse")
    ap.add_argument("--buckets", type=int, default=2)
    ap.add_argument("--memory", default="1GB")
    a = ap.parse_args()
    scratch = Path(a.warehouse).with_name("notice_check.duckdb")
    scratch.unlink(missing_ok=True)
    con = duckdb.connect(str(scratch))
    con.execute("SET memory_limit = ?", [a.memory])
    con.execute("SET temp_directory = ?", [str(scratch) + ".tmp"])
    con.execute(f"ATTACH '{a.warehouse}' AS src (READ_ONLY)")
    n = con.execute("SELECT count(*) FROM src.notice_log").fetchall()[0][0]
    print(f"{n:,} notices, {a.buckets} buckets, DuckDB memory_limit {a.memory}, load {os.getloadavg()[0]:.1f}")
    check = STEPS["35_unique"]
    for variant in ("UNIQUE indexes", "check"):
        con.execute("DROP TABLE IF EXISTS notice_log")
        if variant == "UNIQUE indexes":
            con.execute(OLD_NOTICE_LOG)
        else:
            con.execute(
                OLD_NOTICE_LOG.replace(" PRIMARY KEY", "").replace(",\n    UNIQUE (id_no, kind, reference_mi)", "")
            )
        t0, c0, t_check = time.perf_counter(), cpu(), 0.0
        con.execute("BEGIN TRANSACTION")
        for b in range(a.buckets):
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _notice_ins AS SELECT * FROM src.notice_log "
                f"WHERE hash(id_no) % {a.buckets} = {b} ORDER BY notice_id"
            )
            con.execute("INSERT INTO notice_log SELECT * FROM _notice_ins")
            if variant == "check":
                t1 = time.perf_counter()
                dup = con.execute(check.render(source="_notice_ins")).fetchall()[0]
                t_check += time.perf_counter() - t1
                assert dup == (0, 0), dup
        before_commit = memory(con)
        con.execute("COMMIT")
        print(
            f"  {variant:<15} {time.perf_counter() - t0:6.1f} s  cpu {cpu() - c0:6.1f} s"
            + (f"  (the checks {t_check:.1f} s)" if variant == "check" else "")
            + f"  DuckDB before COMMIT: {before_commit}"
        )
    t0, c0 = time.perf_counter(), cpu()
    con.execute("CREATE OR REPLACE TEMP TABLE _all AS SELECT notice_id, id_no FROM notice_log")
    dup = con.execute(check.render(source="_all")).fetchall()[0]
    print(f"  the check over the whole log: {time.perf_counter() - t0:.1f} s, cpu {cpu() - c0:.1f} s, {dup}")
    con.close()
    scratch.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
