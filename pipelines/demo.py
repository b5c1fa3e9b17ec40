"""``retire-prep demo``: the whole monthly flow on the shipped sample, no server.

1. ingest ``data/sample/push/*`` (a FULL for 2026-11, an INCR for 2026-12);
2. load the applications; run 2026-11;
3. apply the county feedback of ``data/sample/feedback/`` (persons travelling the
   whole path: reviewed → concluded → confirmed; an objection; a short record);
4. the month-start declaration of 2026-12 (on the 1st), then the run of 2026-12 (after the
   push, mid-month), whose SMS batch carries the declaration notices;
5. say where everything is.
"""

from __future__ import annotations

import csv
from pathlib import Path

from . import DATA_DIR

SAMPLE = DATA_DIR / "sample"


def _say(msg: str = "") -> None:
    print(msg, flush=True)


def run_demo(out: Path, warehouse: Path | None = None) -> int:
    from .declare import declare_month
    from .feedback import apply_feedback_files
    from .ingest import ingest_batches, load_applications
    from .monthly import run_month

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    warehouse = Path(warehouse) if warehouse else out / "warehouse.duckdb"
    for p in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
        if p.exists():
            p.unlink()

    batches = sorted((SAMPLE / "push").iterdir())
    _say(f"== 1. ingest {len(batches)} push batches from {SAMPLE / 'push'}")
    rep = ingest_batches(batches, warehouse)
    for line in rep.lines():
        _say("   " + line)
    apps = sorted((SAMPLE / "applications").glob("*.csv"))
    _say(f"== 2. applications: {load_applications(apps, warehouse)}")

    _say("== 3. monthly run 2026-11")
    for line in run_month("2026-11", warehouse, out).lines():
        _say("   " + line)

    fb = sorted((SAMPLE / "feedback").glob("*.csv"))
    _say(f"== 4. county feedback: {len(fb)} file(s)")
    if fb:
        rep = apply_feedback_files(fb, warehouse)
        for line in rep.lines():
            _say("   " + line)

    _say("== 5. month-start declaration 2026-12 (the 1st), then monthly run 2026-12 (INCR applied)")
    drep = declare_month("2026-12", warehouse, out)
    for line in drep.lines():
        _say("   " + line)
    for line in run_month("2026-12", warehouse, out).lines():
        _say("   " + line)

    month_dir = out / "2026-12"
    _say()
    _say("== where things are")
    from .analysts import analysts_path

    _say(f"   warehouse (the pipeline's):       {warehouse}")
    _say(f"   analysts' file (docs/analysts.md):{analysts_path(warehouse)}")
    _say(f"   worklists per office:             {out / '2026-11' / 'worklists'}/<office>/worklist.csv|.parquet")
    _say(f"   report (supervision, Chinese):    {month_dir / 'report' / 'index.html'}")
    _say(f"   validation results:               {out / '2026-11' / 'validation'}")
    _say(f"   declarations:                     {month_dir / 'declarations'}")
    sms = sorted((out / "2026-11" / "notifications").glob("*/sms.csv"))
    if sms:
        _say(f"   SMS batch ({sms[0].parent.name}), first rows of {sms[0]}:")
        with open(sms[0], encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
        for row in rows[:4]:
            # the demo prints the notice kind and text, not the ID number or the phone
            _say("     " + " | ".join(row[i] for i in (1, 4, 5) if i < len(row)))
    letters = sorted(out.glob("*/letters/*/*.html"))
    if letters:
        _say(f"   a coordination letter:            {letters[0]}")
    _say(f"   ({len(letters)} letters in all)")
    return 0
