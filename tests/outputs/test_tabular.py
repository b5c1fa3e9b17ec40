"""County file writing (pipelines/tabular.py): dictionary headers, BOM, formula-safe cells,
nullable Parquet schema, and the one-query-many-offices split."""

from __future__ import annotations

import csv

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines.tabular import dictionary, write_partitioned, write_table


@pytest.fixture()
def con():
    c = duckdb.connect()
    c.execute("CREATE TABLE t (office_code VARCHAR, id_no VARCHAR, name VARCHAR, delay_months INTEGER)")
    c.execute(
        "INSERT INTO t VALUES ('640104', 'A1', '=SUM(A1)', 3), ('640104', 'A2', '张三', NULL), "
        "('640105', 'B1', '-1', 0), ('640105', 'B2', NULL, 12), ('640105', 'B3', '@x', 1)"
    )
    yield c
    c.close()


def _csv(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(raw.decode("utf-8-sig").splitlines()))


def test_write_table_headers_bom_formula_safe_nullable(con, tmp_path):
    n = write_table(con, "SELECT id_no, name, delay_months FROM t ORDER BY id_no", tmp_path / "w")
    assert n == 5
    rows = _csv(tmp_path / "w.csv")
    assert rows[0] == [dictionary()["id_no"], dictionary()["name"], dictionary()["delay_months"]]
    got = {r[0]: r[1:] for r in rows[1:]}
    assert got["A1"] == ["'=SUM(A1)", "3"]  # a formula is neutralised
    assert got["B1"] == ["'-1", "0"]
    assert got["B3"] == ["'@x", "1"]
    assert got["A2"] == ["张三", ""]  # NULL: empty cell; numbers stay numbers
    table = pq.read_table(tmp_path / "w.parquet")
    assert table.column("name").to_pylist()[0] == "=SUM(A1)"  # Parquet keeps the value as it is
    assert all(f.nullable for f in table.schema)


def test_write_table_refuses_a_column_not_in_the_dictionary(con, tmp_path):
    with pytest.raises(KeyError, match="not in data/dictionary.csv"):
        write_table(con, "SELECT id_no AS no_such_column FROM t", tmp_path / "w")
    assert not list(tmp_path.iterdir())


def test_write_partitioned_one_file_pair_per_key_own_rows_only(con, tmp_path):
    counts = write_partitioned(
        con,
        "SELECT office_code AS _office, id_no, name FROM t ORDER BY office_code, id_no",
        "_office",
        lambda k: tmp_path / k / "w",
        ["640104", "640105", "640106"],
    )
    assert counts == {"640104": 2, "640105": 3, "640106": 0}
    assert [r[0] for r in _csv(tmp_path / "640104" / "w.csv")[1:]] == ["A1", "A2"]
    assert [r[0] for r in _csv(tmp_path / "640105" / "w.csv")[1:]] == ["B1", "B2", "B3"]
    assert len(_csv(tmp_path / "640106" / "w.csv")) == 1  # headers only
    assert pq.read_table(tmp_path / "640105" / "w.parquet").column_names == ["id_no", "name"]


def test_write_partitioned_refuses_rows_without_a_file_or_out_of_order(con, tmp_path):
    with pytest.raises(ValueError, match="no file to go to"):
        write_partitioned(
            con,
            "SELECT office_code AS _office, id_no FROM t ORDER BY 1, 2",
            "_office",
            lambda k: tmp_path / k / "w",
            ["640104"],
        )
    with pytest.raises(ValueError, match="not together"):
        write_partitioned(
            con,
            "SELECT office_code AS _office, id_no FROM t ORDER BY delay_months",
            "_office",
            lambda k: tmp_path / k / "w",
            ["640104", "640105"],
        )
