"""The state of a workspace, to compare a run with a reference (tests/test_fault_injection.py,
tests/test_publish_crash.py, tests/test_environment_faults.py): every base table of the warehouse
(timestamps left out) and every file under OUT (``validation/`` left out)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb

# the real one, taken at import: tests switch duckdb.connect to inject faults
_real_connect = duckdb.connect

# the columns of a county feedback file (docs/feedback-format.md), in order
FB_COLUMNS = [
    "office_code",
    "event",
    "id_no",
    "event_date",
    "officer_id",
    "result",
    "months",
    "items",
    "counted_months",
    "merge_status",
    "archive_conclusion",
    "base_data",
    "elected_month",
    "confirmer",
    "pre_review_office",
    "reason",
    "basis",
    "remedy",
    "note",
]


def table_state(wh: Path) -> dict[str, list]:
    """Every base table: its rows sorted, timestamp columns left out."""
    con = _real_connect(str(wh), read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY 1").fetchall()
        ]
        out = {}
        for t in tables:
            cols = [
                c
                for c, typ in con.execute(
                    "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? AND NOT internal "
                    "ORDER BY column_index",
                    [t],
                ).fetchall()
                if "TIMESTAMP" not in typ.upper()
            ]
            out[t] = (
                cols,
                con.execute(
                    f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM {t} ORDER BY ALL"
                ).fetchall(),
            )
        return out
    finally:
        con.close()


def file_state(out: Path) -> dict[str, bytes]:
    """Every file under OUT (hidden ones included), validation/ left out."""
    if not out.exists():
        return {}
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and "validation" not in p.relative_to(out).parts
    }


def _without_failed_runs(state: dict) -> dict:
    """month_runs keeps a FAILED row for a failed attempt (its record, benign): left out of comparisons."""
    if "month_runs" not in state:
        return state
    cols, rows = state["month_runs"]
    i = cols.index("status")
    return dict(state, month_runs=(cols, [r for r in rows if r[i] != "FAILED"]))


def table_diff(a: dict, b: dict) -> list[str]:
    a, b = _without_failed_runs(a), _without_failed_runs(b)
    diffs = []
    for t in sorted(set(a) | set(b)):
        if t not in a or t not in b:
            diffs.append(f"{t}: table only on one side")
            continue
        ra, rb = Counter(a[t][1]), Counter(b[t][1])
        if ra != rb:
            diffs.append(
                f"{t}: -{sum((ra - rb).values())} +{sum((rb - ra).values())} rows "
                f"(e.g. -{list((ra - rb))[:1]} +{list((rb - ra))[:1]})"[:400]
            )
    return diffs


def file_diff(a: dict, b: dict) -> list[str]:
    missing = sorted(set(a) - set(b))
    extra = sorted(set(b) - set(a))
    changed = sorted(k for k in set(a) & set(b) if a[k] != b[k])
    out = []
    if missing:
        out.append(f"files missing: {missing[:4]}{'…' if len(missing) > 4 else ''} ({len(missing)})")
    if extra:
        out.append(f"files extra: {extra[:4]}{'…' if len(extra) > 4 else ''} ({len(extra)})")
    if changed:
        out.append(f"files differ: {changed[:4]}{'…' if len(changed) > 4 else ''} ({len(changed)})")
    return out
