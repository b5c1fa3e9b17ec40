"""Bounded memory (issue 19): files written as DuckDB streams them, DuckDB's limit and spill folder
from the settings."""

from __future__ import annotations

import csv
import dataclasses

import duckdb
import pyarrow.parquet as pq
import pytest

import pipelines.tabular as tabular
from pipelines.settings import load_settings
from pipelines.tabular import write_partitioned, write_table
from pipelines.warehouse import connect, temp_directory


@pytest.fixture()
def con():
    c = duckdb.connect()
    # 3 offices, 7 + 5 + 1 rows; one name a spreadsheet would run as a formula
    c.execute(
        "CREATE TABLE t AS SELECT CASE WHEN i < 7 THEN '640104' WHEN i < 12 THEN '640105' ELSE '640106' END "
        "AS office_code, 'P' || lpad(i::VARCHAR, 2, '0') AS id_no, "
        "CASE WHEN i = 8 THEN '=1+1' ELSE '名' || i END AS name, i AS delay_months FROM range(13) r(i)"
    )
    yield c
    c.close()


@pytest.fixture()
def small(monkeypatch):
    """Batches of 2 rows and row groups of 3: every file spans several of each."""
    monkeypatch.setattr(tabular, "BATCH_ROWS", 2)
    monkeypatch.setattr(tabular, "ROW_GROUP_ROWS", 3)


def _rows(path):
    return list(csv.reader(path.read_bytes().decode("utf-8-sig").splitlines()))


def test_partitioned_files_are_written_batch_by_batch(con, tmp_path, small):
    q = "SELECT office_code AS _office, id_no, name, delay_months FROM t ORDER BY office_code, id_no"
    counts = write_partitioned(
        con, q, "_office", lambda k: tmp_path / k / "w", ["640104", "640105", "640106", "640107"]
    )
    assert counts == {"640104": 7, "640105": 5, "640106": 1, "640107": 0}
    for office, n in counts.items():
        f = pq.ParquetFile(tmp_path / office / "w.parquet")
        assert f.metadata.num_rows == n
        assert f.metadata.num_row_groups == max(1, -(-n // 3))  # row groups of 3 rows, not one per file
        want = con.execute(
            "SELECT id_no, name, delay_months FROM t WHERE office_code = ? ORDER BY id_no", [office]
        ).fetchall()
        assert [tuple(r.values()) for r in f.read().to_pylist()] == want
        rows = _rows(tmp_path / office / "w.csv")
        assert len(rows) == n + 1  # one header, then each row once
        assert [r[0] for r in rows[1:]] == [w[0] for w in want]
    assert _rows(tmp_path / "640105" / "w.csv")[2][1] == "'=1+1"  # formula-safe in any batch
    assert not list(tmp_path.rglob("*.tmp"))


def test_streamed_file_equals_the_whole_table_file(con, tmp_path, small):
    # what a file of the month looked like when written from one Arrow table
    import pyarrow as pa
    import pyarrow.csv as pacsv

    q = "SELECT id_no, name, delay_months FROM t ORDER BY id_no"
    write_table(con, q, tmp_path / "s")
    whole = con.sql(q).to_arrow_table()
    names = tabular.dictionary()
    cols = [tabular.safe_text(c) if pa.types.is_string(c.type) else c for c in whole.columns]
    with open(tmp_path / "w.csv", "wb") as fh:
        fh.write(tabular.BOM)
        pacsv.write_csv(pa.table(cols, names=[names[c] for c in whole.column_names]), fh)
    assert (tmp_path / "s.csv").read_bytes() == (tmp_path / "w.csv").read_bytes()
    assert pq.read_table(tmp_path / "s.parquet").to_pylist() == whole.to_pylist()


def test_a_small_file_is_byte_for_byte_one_row_group(con, tmp_path):
    # up to ROW_GROUP_ROWS rows a file is what pq.write_table of the whole table wrote
    import pyarrow as pa

    q = "SELECT id_no, name, delay_months FROM t ORDER BY id_no"
    write_table(con, q, tmp_path / "s")
    whole = con.sql(q).to_arrow_table()
    whole = whole.cast(pa.schema([f.with_nullable(True) for f in whole.schema]))
    pq.write_table(whole, tmp_path / "w.parquet", compression="zstd")
    assert (tmp_path / "s.parquet").read_bytes() == (tmp_path / "w.parquet").read_bytes()


def test_errors_still_raised_when_streaming(con, tmp_path, small):
    with pytest.raises(ValueError, match="no file to go to"):
        write_partitioned(
            con,
            "SELECT office_code AS _office, id_no FROM t ORDER BY 1, 2",
            "_office",
            lambda k: tmp_path / k / "w",
            ["640104", "640105"],
        )
    with pytest.raises(ValueError, match="not together"):
        write_partitioned(
            con,
            "SELECT office_code AS _office, id_no FROM t ORDER BY delay_months % 2, 2",
            "_office",
            lambda k: tmp_path / k / "w",
            ["640104", "640105", "640106"],
        )
    assert not list(tmp_path.rglob("*.tmp"))  # no half-written file stays


def test_duckdb_memory_limit_and_spill_folder_come_from_the_settings(tmp_path):
    s = load_settings()
    wh = tmp_path / "w.duckdb"
    assert temp_directory(wh, s) == tmp_path / "w.duckdb.tmp"  # default: beside the warehouse
    assert temp_directory(wh, dataclasses.replace(s, duckdb_temp_directory="spill")) == tmp_path / "spill"
    assert temp_directory(wh, dataclasses.replace(s, duckdb_temp_directory="/abs/spill")).as_posix() == "/abs/spill"
    mine = dataclasses.replace(s, duckdb_memory_limit="300MB", duckdb_temp_directory="spill")
    with connect(wh, settings=mine) as c:
        limit, folder = c.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
        assert limit in ("286.1 MiB", "300.0 MB") or limit.startswith("286")
        assert folder == str(tmp_path / "spill")
    with connect(wh, read_only=True, settings=mine) as c:
        assert c.execute("SELECT current_setting('temp_directory')").fetchone()[0] == str(tmp_path / "spill")


def test_duckdb_threads_come_from_the_settings(tmp_path):
    s = dataclasses.replace(load_settings(), duckdb_threads=1)
    with connect(tmp_path / "w.duckdb", settings=s) as c:
        assert c.execute("SELECT current_setting('threads')").fetchone()[0] == 1


def test_the_shipped_settings_bound_duckdb():
    s = load_settings()
    assert s.duckdb_memory_limit == "1GB" and s.duckdb_temp_directory == ""


def test_benefit_place_and_scope_in_buckets_equal_one_pass(tmp_path, monkeypatch):
    # issue 19: a month too large for one pass of sql/screen/benefit_place.sql is computed in
    # buckets of persons; the screening (and the place evidence in the flags) is the same
    from pipelines import DATA_DIR, screen
    from pipelines.ingest import ingest_batches
    from pipelines.monthly import month_context

    wh = tmp_path / "w.duckdb"
    assert ingest_batches([DATA_DIR / "sample" / "push" / "2026-11-full"], wh).applied
    s = load_settings()

    def screened(con):
        ctx = month_context(con, "2026-11", s)
        con.execute("DELETE FROM screen_cache_state")  # everyone computed afresh
        counts = screen.screen_month(con, ctx, validate=False)
        mi = ctx.month_mi
        return (
            counts,
            con.execute(f"SELECT * FROM screen_results WHERE month_mi = {mi} ORDER BY id_no").fetchall(),
            con.execute(f"SELECT id_no, code, evidence FROM flags WHERE month_mi = {mi} ORDER BY ALL").fetchall(),
            con.execute("SELECT * FROM screen_place_cache ORDER BY ALL").fetchall(),
        )

    with connect(wh, settings=s) as con:
        one = screened(con)
        # the sample's 2,000 persons in 20 buckets (a bucket of 7 made 286 passes: 10 s of the suite)
        monkeypatch.setattr(screen, "BENEFIT_PLACE_PERSONS", 100)
        buckets = screened(con)
        monkeypatch.setattr(screen, "BENEFIT_PLACE_PERSONS", 1_000_000)
        monkeypatch.setattr(screen, "SCOPE_PERSONS", 100)  # sql/screen/40_scope.sql in many buckets too
        scope_buckets = screened(con)
    assert one[0]["screened"] > 100 * 10
    assert buckets == one
    assert scope_buckets == one


def test_duckdb_out_of_memory_is_one_clear_line(monkeypatch, capsys):
    import pipelines.cli as cli

    def boom(a):
        raise duckdb.OutOfMemoryException("Out of Memory Error: failed to pin block (953.6 MiB/953.6 MiB used)")

    monkeypatch.setattr(cli, "cmd_policy", boom)
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    for sp in parser._subparsers._group_actions[0].choices.values():
        if sp.prog.endswith(" policy"):
            sp.set_defaults(func=boom)
    assert cli.main(["policy", "--gender", "1", "--birth", "1966-05"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "duckdb_memory_limit" in err[0] and "rolled back" in err[0]
