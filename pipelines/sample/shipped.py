"""Regenerate the shipped sample (``data/sample/``) byte for byte:
``python -m pipelines.sample.shipped data/sample`` (``make sample``).

GENERATED DATA ONLY (pipelines/sample/): no real person is in it.

* ``push/2026-11-full/``  FULL, seq 1, data month 2026-11, 2,000 persons, 0.5 % broken rows
  (visible in the quarantine, far below the 5 % refusal threshold);
* ``push/2026-12-incr/``  INCR, seq 2 on base 1, data month 2026-12, 60 changed persons;
* ``applications/applications-2026-11.csv``  40 applications for the run of 2026-11.

``data/sample/README.md`` is written by hand and left alone.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from .applications import write_applications
from .batch import generate_batch

SEED = 1
PERSONS = 2000
BAD_ROWS = 0.005
CHANGES = 60
APPLICATIONS = 40
FULL_DIR = Path("push") / "2026-11-full"
INCR_DIR = Path("push") / "2026-12-incr"
APPS_FILE = Path("applications") / "applications-2026-11.csv"


def build(out) -> list[Path]:
    """Write the sample under ``out``; returns the paths written (replaced when present)."""
    out = Path(out)
    full, incr, apps = out / FULL_DIR, out / INCR_DIR, out / APPS_FILE
    for d in (full, incr):
        if d.exists():
            shutil.rmtree(d)
    generate_batch(
        full, persons=PERSONS, month="2026-11", seed=SEED, bad_rows=BAD_ROWS, batch_id="NX640000-202611-FULL-0001"
    )
    generate_batch(
        incr, month="2026-12", seed=SEED, incr_from=full, changes=CHANGES, batch_id="NX640000-202612-INCR-0002"
    )
    write_applications(apps, full, "2026-11", seed=SEED, n=APPLICATIONS)
    return [full, incr, apps, *build_feedback(out)]


def build_feedback(out) -> list[Path]:
    """County feedback files for the demo (issue 6): the sample's FULL run for 2026-11 in a
    scratch warehouse, then ``feedback.demo_feedback`` picks persons deterministically."""
    import tempfile
    import tomllib

    from .. import DATA_DIR
    from ..feedback import demo_feedback
    from ..ingest import ingest_batches, load_applications
    from ..monthly import run_month
    from ..settings import load_settings

    out = Path(out)
    target = out / "feedback"
    if target.exists():
        shutil.rmtree(target)
    # the shipped settings and their demo key, whatever the environment says
    with open(DATA_DIR / "settings.toml", "rb") as fh:
        key = tomllib.load(fh)["person_key_secret"]
    settings = load_settings(DATA_DIR / "settings.toml").with_overrides(person_key_secret=key)
    with tempfile.TemporaryDirectory(prefix="retire-prep-sample-") as tmp:
        wh = Path(tmp) / "w.duckdb"
        ingest_batches([out / FULL_DIR], wh, settings, validate=False)
        load_applications([out / APPS_FILE], wh, settings)
        run_month("2026-11", wh, Path(tmp) / "out", settings=settings, validate=False)
        return list(demo_feedback(wh, target, "2026-11", settings=settings))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m pipelines.sample.shipped OUT_DIR", file=sys.stderr)
        return 2
    for p in build(argv[0]):
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
