"""The feedback package's tables (issue 15): one handler per event, the row checks, the buffers typed by the schema."""

from __future__ import annotations

import pytest

from pipelines import feedback
from pipelines.feedback.buffers import Buffer
from pipelines.settings import load_settings
from pipelines.warehouse import connect


def test_every_event_has_one_handler_and_checks_only_of_events():
    assert tuple(feedback.HANDLERS) == feedback.EVENTS
    assert set(feedback.CHECKS) <= set(feedback.EVENTS)


def test_buffers_take_their_columns_and_types_from_the_schema(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        _buffers(con)


def _buffers(con):
    feedback.ensure_schema(con, load_settings())
    buf = Buffer(con, "feedback_rows")
    declared = [r[0] for r in con.execute("DESCRIBE feedback_rows").fetchall()]
    assert buf.names == tuple(c for c in declared if c != "recorded_at")
    with pytest.raises(TypeError):
        buf.add(file_sha256="x")  # a column missing: refused at once, not inserted short
    row = dict.fromkeys(buf.names)
    row.update(file_sha256="s", file_name="f.csv", row_no=3, status="REFUSED", event_date="2026-11-02")
    buf.add(**row)
    buf.insert(con)
    got = con.execute("SELECT row_no, typeof(row_no), event_date, typeof(event_date) FROM feedback_rows").fetchall()
    assert [(r[0], r[1], str(r[2]), r[3]) for r in got] == [(3, "BIGINT", "2026-11-02", "DATE")]
    assert con.execute("SELECT count(*) FROM feedback_rows WHERE recorded_at IS NULL").fetchone()[0] == 0
    with pytest.raises(LookupError):
        Buffer(con, "no_such_table")
