"""The shipped sample's two months, run the way ``retire-prep demo`` runs them (issue 17 tests).

FULL 2026-11 + applications → run 2026-11 → county feedback → declare 2026-12 → INCR → run
2026-12.  ``steps`` yields each step so that a test can act between them (e.g. hold an analyst
session open).  Ingest and run skip Great Expectations (``validate=False``) to stay fast; the
report and the analysts' file are written as in production.
"""

from __future__ import annotations

from pathlib import Path

from pipelines import DATA_DIR

SAMPLE = DATA_DIR / "sample"


def steps(wh: Path, out: Path):
    """Yield (name, callable) for each command of the demo, in order."""
    from pipelines.declare import declare_month
    from pipelines.feedback import apply_feedback_files
    from pipelines.ingest import ingest_batches, load_applications
    from pipelines.monthly import run_month

    full, incr = sorted((SAMPLE / "push").iterdir())
    yield "ingest FULL", lambda: ingest_batches([full], wh, validate=False)
    yield "applications", lambda: load_applications(sorted((SAMPLE / "applications").glob("*.csv")), wh)
    yield "run 2026-11", lambda: run_month("2026-11", wh, out, validate=False)
    yield "feedback", lambda: apply_feedback_files(sorted((SAMPLE / "feedback").glob("*.csv")), wh)
    yield "declare 2026-12", lambda: _declare_without_gx(declare_month, wh, out)
    yield "ingest INCR", lambda: ingest_batches([incr], wh, validate=False)
    yield "run 2026-12", lambda: run_month("2026-12", wh, out, validate=False)


def _declare_without_gx(declare_month, wh, out):
    """declare has no ``validate`` switch: its Great Expectations step is left out here (speed)."""
    import pipelines.declare as d

    real = d._validate_month
    d._validate_month = lambda *a, **k: None
    try:
        return declare_month("2026-12", wh, out)
    finally:
        d._validate_month = real


def build(tmp: Path) -> tuple[Path, Path]:
    """Run every step into ``tmp``; returns (warehouse, out)."""
    wh, out = tmp / "warehouse.duckdb", tmp / "out"
    for _, step in steps(wh, out):
        step()
    return wh, out


def first_sample_month(tmp: Path) -> tuple[Path, Path]:
    """The sample's FULL of 2026-11 and its applications ingested into ``tmp``, nothing run; returns
    (warehouse, out)."""
    from pipelines.ingest import ingest_batches, load_applications

    wh, out = tmp / "w.duckdb", tmp / "out"
    assert not ingest_batches([SAMPLE / "push" / "2026-11-full"], wh, validate=False).refused
    load_applications(sorted((SAMPLE / "applications").glob("*.csv")), wh)
    return wh, out
