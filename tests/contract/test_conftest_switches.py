"""The suite's switches (tests/conftest.py KEPT_IN): a module not in KEPT_IN runs without Great
Expectations and the workbooks, and a test marked ``gx`` / ``workbooks`` gets the real ones back."""

from __future__ import annotations

import pytest

import pipelines.outputs
import pipelines.validate
import pipelines.warehouse
from conftest import _REAL, EVERYTHING, KEPT_IN


def test_this_module_is_in_no_list():
    assert all("test_conftest_switches" not in modules for modules in KEPT_IN.values())


@pytest.mark.skipif(EVERYTHING, reason="RETIRE_PREP_TEST_ALL=1: nothing is left out")
def test_left_out_here():
    assert pipelines.validate.validate_frames is not _REAL[(pipelines.validate, "validate_frames")]
    assert pipelines.outputs.write_workbooks is not _REAL[(pipelines.outputs, "write_workbooks")]
    assert pipelines.declare.write_declaration_books is not _REAL[(pipelines.declare, "write_declaration_books")]
    assert pipelines.warehouse.duckdb is not _REAL[(pipelines.warehouse, "duckdb")]


@pytest.mark.gx
def test_the_gx_mark_gives_validation_back():
    assert pipelines.validate.validate_frames is _REAL[(pipelines.validate, "validate_frames")]
    assert pipelines.validate.warm_up is _REAL[(pipelines.validate, "warm_up")]


@pytest.mark.workbooks
def test_the_workbooks_mark_gives_the_workbooks_back():
    assert pipelines.outputs.write_workbooks is _REAL[(pipelines.outputs, "write_workbooks")]
    assert pipelines.declare.write_declaration_books is _REAL[(pipelines.declare, "write_declaration_books")]


@pytest.mark.schema
def test_the_schema_mark_gives_the_ddl_back(tmp_path):
    from pipelines.warehouse import connect, stored_stamp

    assert pipelines.warehouse.duckdb is _REAL[(pipelines.warehouse, "duckdb")]
    with connect(tmp_path / "w.duckdb") as con:
        assert stored_stamp(con) is not None


@pytest.mark.skipif(EVERYTHING, reason="RETIRE_PREP_TEST_ALL=1: nothing is left out")
def test_a_new_warehouse_from_the_copy_is_the_warehouse_its_ddl_makes(tmp_path):
    """support.fresh_warehouse: the copy has every table, view and macro (with its definition), every
    index and constraint, and the stamp of a warehouse made by its DDL; and the copy is the writer's."""
    from pipelines.warehouse import connect

    catalog = (
        "SELECT 'table', table_name, sql FROM duckdb_tables() WHERE NOT temporary "
        "UNION ALL SELECT 'view', view_name, sql FROM duckdb_views() WHERE NOT internal AND NOT temporary "
        "UNION ALL SELECT 'index', index_name, sql FROM duckdb_indexes() "
        "UNION ALL SELECT 'constraint', table_name || ':' || constraint_text, '' FROM duckdb_constraints() "
        "UNION ALL SELECT 'macro', function_name, macro_definition FROM duckdb_functions() "
        "WHERE database_name = current_database() AND NOT internal AND function_type LIKE '%macro' "
        "UNION ALL SELECT 'stamp', stamp, '' FROM warehouse_schema ORDER BY ALL"
    )
    seen = []
    for name, mp in (("copied", pytest.MonkeyPatch()), ("made", pytest.MonkeyPatch())):
        if name == "made":
            mp.setattr(pipelines.warehouse, "duckdb", _REAL[(pipelines.warehouse, "duckdb")])
        try:
            with connect(tmp_path / f"{name}.duckdb") as con:
                seen.append(con.execute(catalog).fetchall())
                con.execute("INSERT INTO warehouse_schema VALUES ('written', now())")  # a writer's file
        finally:
            mp.undo()
    assert len(seen[0]) > 50 and seen[0] == seen[1]


@pytest.mark.skipif(EVERYTHING, reason="RETIRE_PREP_TEST_ALL=1: nothing is left out")
def test_and_after_a_marked_test_they_are_left_out_again():
    assert pipelines.validate.validate_frames is not _REAL[(pipelines.validate, "validate_frames")]
