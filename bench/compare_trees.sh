#!/bin/bash
# Run the demo of two checkouts (OLD_TREE NEW_TREE) with this venv and compare every output file and
# every warehouse table (timestamps and paths aside): the check that a refactor changed no behaviour.
set -u
PY=${PY:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python}
A=$(cd "$1" && pwd); B=$(cd "$2" && pwd)
OUT=${OUT:-$(mktemp -d)}; rm -rf $OUT; mkdir -p $OUT
for t in A B; do
  src=${!t}
  (cd $src && PYTHONPATH=$src $PY -m pipelines.cli demo --out $OUT/$t --warehouse $OUT/$t/warehouse.duckdb > $OUT/$t.log 2>&1; echo "$t rc=$?")
done
diff -r -q $OUT/A $OUT/B | grep -v "warehouse.duckdb\|validation" 
$PY - <<PY
import duckdb
a = duckdb.connect("$OUT/A/warehouse.duckdb", read_only=True); b = duckdb.connect("$OUT/B/warehouse.duckdb", read_only=True)
ta = {r[0] for r in a.execute("SELECT table_name FROM information_schema.tables WHERE table_type='BASE TABLE'").fetchall()}
tb = {r[0] for r in b.execute("SELECT table_name FROM information_schema.tables WHERE table_type='BASE TABLE'").fetchall()}
print("tables only in A:", sorted(ta-tb), "only in B:", sorted(tb-ta))
skip_cols = ("recorded_at", "applied_at", "started_at", "finished_at", "loaded_at", "created_at", "received_at", "run_at", "at")
for t in sorted(ta & tb):
    cols = [r[0] for r in a.execute(f"SELECT column_name FROM information_schema.columns WHERE table_name='{t}' ORDER BY ordinal_position").fetchall()]
    keep = [c for c in cols if not (c.endswith("_at") or c in skip_cols)]
    q = f"SELECT {', '.join(keep)} FROM {t}" if keep else None
    if not q: continue
    ra = sorted(map(repr, a.execute(q).fetchall())); rb = sorted(map(repr, b.execute(q).fetchall()))
    print(("SAME " if ra == rb else "DIFF ") + t, len(ra), len(rb))
PY
