"""The digest the crash and fault sweeps compare warehouses by (tests/support/state_digest.py) gives
the full comparison's answer (support.state.table_diff): equal when only what table_diff leaves out
differs (timestamps, a FAILED month_runs row), and a difference, with table_diff's message, for a
changed value, a value moved between rows, a repeated row, a missing row, a new table."""

from __future__ import annotations

import shutil

import pytest

from support.publish import first_batch, no_validation
from support.pushkit import run_cli
from support.state import _real_connect, table_diff, table_state
from support.state_digest import table_digest, tables_diff


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    """A warehouse after the ingest of the sample push: its state and digest."""
    mp = pytest.MonkeyPatch()
    no_validation(mp)
    base = tmp_path_factory.mktemp("digest")
    b1 = first_batch(base / "b1")
    wh = base / "w.duckdb"
    assert run_cli("ingest", b1, "--warehouse", wh)[0] == 0
    mp.undo()
    return wh, table_state(wh), table_digest(wh)


CHANGES = {
    "a value changed": "UPDATE person_versions SET phone = '13700000999' WHERE id_no = (SELECT min(id_no) FROM person_versions)",
    "two rows' values swapped": (
        "UPDATE person_versions p SET phone = (SELECT phone FROM person_versions q WHERE q.id_no <> p.id_no "
        "AND q.phone IS DISTINCT FROM p.phone ORDER BY q.id_no LIMIT 1) "
        "WHERE id_no = (SELECT min(id_no) FROM person_versions)"
    ),
    "two rows' values truly swapped": (
        "UPDATE person_versions p SET phone = CASE WHEN p.id_no = (SELECT min(id_no) FROM person_versions) "
        "THEN (SELECT phone FROM person_versions WHERE id_no = (SELECT max(id_no) FROM person_versions)) "
        "ELSE (SELECT phone FROM person_versions WHERE id_no = (SELECT min(id_no) FROM person_versions)) END "
        "WHERE p.id_no IN ((SELECT min(id_no) FROM person_versions), (SELECT max(id_no) FROM person_versions))"
    ),
    "a row repeated": "INSERT INTO segment_versions SELECT * FROM segment_versions LIMIT 1",
    "a row missing": "DELETE FROM person_keys WHERE rowid = (SELECT min(rowid) FROM person_keys)",
    "a new table": "CREATE TABLE extra AS SELECT 1 AS x",
}
LEFT_OUT = {
    "a timestamp changed": "UPDATE push_batches SET received_at = received_at + INTERVAL 1 HOUR",
    "a FAILED attempt recorded": "INSERT INTO month_runs VALUES (24322, 'run', 1, false, now(), NULL, 'FAILED')",
}


def _changed(ref, tmp_path, sql):
    wh = tmp_path / "w.duckdb"
    shutil.copy(ref[0], wh)
    con = _real_connect(str(wh))
    try:
        con.execute(sql)
    finally:
        con.close()
    return wh


@pytest.mark.parametrize("sql", CHANGES.values(), ids=CHANGES.keys())
def test_a_difference_is_found_and_said_as_table_diff_says_it(ref, tmp_path, sql):
    wh = _changed(ref, tmp_path, sql)
    assert table_digest(wh) != ref[2]
    full = table_diff(ref[1], table_state(wh))
    assert full and tables_diff(ref[1], ref[2], wh) == full


@pytest.mark.parametrize("sql", LEFT_OUT.values(), ids=LEFT_OUT.keys())
def test_what_table_diff_leaves_out_is_left_out(ref, tmp_path, sql):
    wh = _changed(ref, tmp_path, sql)
    assert table_digest(wh) == ref[2]
    assert table_diff(ref[1], table_state(wh)) == [] == tables_diff(ref[1], ref[2], wh)


def test_a_copy_is_equal(ref, tmp_path):
    wh = tmp_path / "w.duckdb"
    shutil.copy(ref[0], wh)
    assert table_digest(wh) == ref[2] and tables_diff(ref[1], ref[2], wh) == []
