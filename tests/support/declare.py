"""Shared test support, moved from tests/declare/test_declare.py (issue 15: no test module imports another)."""

from __future__ import annotations

import duckdb
from pipelines.declare import declare_month
from support.feedback import P, Wh, path_rows


D = P + 1  # the declare month: 2026-12


DM = "2026-12"


def confirm(wh: Wh, persons, **over) -> None:
    """Feedback to CONFIRMED for ``persons``: one file per office (a file is one office's, issue 14)."""
    for office in dict.fromkeys(p.office for p in persons):
        rows = []
        for p in persons:
            if p.office == office:
                rows += path_rows(p, "CONFIRMED", **over)
        rep = wh.apply(rows)
        assert rep.refused == 0, rep.lines()


def declare(wh: Wh, month: str = DM, **kw):
    return declare_month(month, wh.path, wh.tmp / "out", wh.settings, **kw)


def listed(wh: Wh, month: str = DM, office: str = "640104") -> list[dict]:
    f = wh.tmp / "out" / month / "declarations" / office / "declarations.parquet"
    return duckdb.sql(f"SELECT * FROM '{f}'").df().to_dict("records")


def by_id(rows):
    return {r["id_no"]: r for r in rows}
