"""The state of a workspace, to compare a run with a reference (tests/robustness/test_fault_injection.py,
tests/robustness/test_publish_crash.py, tests/robustness/test_environment_faults.py): every base table of the warehouse
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


def compared_columns(con) -> dict[str, list[str]]:
    """Every base table of ``con`` (by name) with its columns in order, timestamps left out: what
    :func:`table_state` and support.state_digest compare. Two plain catalog reads (a join of the
    two costs five times as much; one read a table cost ≈ 0.02 s a state, eighteenth session)."""
    tables = con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY 1").fetchall()
    cols: dict[str, list[str]] = {t: [] for (t,) in tables}
    for table, column, typ in con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE NOT internal "
        "ORDER BY table_name, column_index"
    ).fetchall():
        if table in cols and "TIMESTAMP" not in typ.upper():
            cols[table].append(column)
    return cols


def table_state(wh: Path) -> dict[str, list]:
    """Every base table: its rows sorted, timestamp columns left out."""
    con = _real_connect(str(wh), read_only=True)
    try:
        out = {}
        for t, cols in compared_columns(con).items():
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


def in_analysts_rebuild(label) -> bool:
    """A step of the analysts' file's rebuild (pipelines/analysts.py: its temp ``.<name>.<pid>.new``
    or the file itself): it comes after the command's work is committed."""
    return ".analysts.duckdb" in str(label) or "retire_prep_analysts_new" in str(label)


def _without_rerun_of_a_done_month(a: dict, b: dict) -> dict:
    """``b`` without one month_runs row of a rerun: DONE, of a month and command already DONE in
    ``a`` (the rerun of a command whose work was committed before it was cut short, e.g. in the
    analysts' rebuild, records the run it made: its record, not a change of the month)."""
    if "month_runs" not in a or "month_runs" not in b:
        return b
    cols, rows = b["month_runs"]
    st, mi, cmd = cols.index("status"), cols.index("month_mi"), cols.index("command")
    extra = Counter(rows) - Counter(a["month_runs"][1])
    done = {(r[mi], r[cmd]) for r in a["month_runs"][1] if r[st] == "DONE"}
    cand = [r for r in extra if r[st] == "DONE" and (r[mi], r[cmd]) in done]
    if sum(extra.values()) != 1 or len(cand) != 1:
        return b
    rows = list(rows)
    rows.remove(cand[0])
    return dict(b, month_runs=(cols, rows))


def table_diff(a: dict, b: dict, *, rerun_after_commit: bool = False) -> list[str]:
    """The differences between the tables of ``a`` (the reference) and ``b``.  With
    ``rerun_after_commit`` (the command was cut short after its work was committed, then run again)
    ``b``'s month_runs may hold the one extra DONE row of that rerun."""
    a, b = _without_failed_runs(a), _without_failed_runs(b)
    if rerun_after_commit:
        b = _without_rerun_of_a_done_month(a, b)
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


def analysts_problems(wh: Path) -> list[str]:
    """The analysts' file of ``wh`` is whole (it opens, every table of pipelines.analysts is there
    and readable) and no temp file of a rebuild (``.*.new``, ``.*.new.wal``) is left beside it."""
    from pipelines.analysts import TABLES, analysts_path

    path = analysts_path(wh)
    out = [f"temp file left: {p.name}" for p in sorted(path.parent.glob(f".{path.name}.*.new*"))]
    if not path.is_file():
        return out + [f"no analysts' file {path.name}"]
    try:
        con = _real_connect(str(path), read_only=True)
    except Exception as exc:
        return out + [f"analysts' file does not open: {type(exc).__name__}: {exc}"[:300]]
    try:
        have = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        want = {t for t, _ in TABLES} | {"offices", "code_labels", "about", "dictionary"}
        if want - have:
            out.append(f"analysts' file lacks tables {sorted(want - have)}")
        for t in sorted(want & have):
            con.execute(f"SELECT count(*) FROM {t}").fetchall()
    except Exception as exc:
        out.append(f"analysts' file unreadable: {type(exc).__name__}: {exc}"[:300])
    finally:
        con.close()
    return out
