"""The warehouse's schema stamp (pipelines.warehouse.create_schema): a writer's connection runs the
schema's statements, the views and the migrations only when the stamp differs from this code's."""

from __future__ import annotations

import duckdb
import pytest

from pipelines import steps, warehouse
from pipelines.settings import load_settings


@pytest.fixture
def ran(monkeypatch):
    """The names of the steps run on any connection, in order."""
    names: list[str] = []
    monkeypatch.setattr(steps, "OBSERVERS", [*steps.OBSERVERS, lambda con, step, given: names.append(step.name)])
    return names


def _q(wh, sql):
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_stamped_warehouse_skips_the_schema(tmp_path, ran):
    wh = tmp_path / "w.duckdb"
    with warehouse.connect(wh):
        pass
    assert {"schema", "schema_feedback", "views"} <= set(ran)
    assert _q(wh, "SELECT stamp FROM warehouse_schema") == [(warehouse.schema_stamp(load_settings()),)]
    ran.clear()
    with warehouse.connect(wh) as con:
        assert con.execute("SELECT count(*) FROM ledger_entries").fetchall() == [(0,)]
    assert not {"schema", "schema_feedback", "views"} & set(ran), ran
    assert ran  # the connection's own macros are made every time (TEMP)


def test_another_stamp_brings_the_schema_back(tmp_path, ran):
    """A warehouse of other code (another stamp, or none: made before the stamp) gets every statement,
    view and migration again, then this code's stamp."""
    wh = tmp_path / "w.duckdb"
    with warehouse.connect(wh):
        pass
    con = duckdb.connect(str(wh))
    con.execute("DROP VIEW notices")
    con.execute("UPDATE warehouse_schema SET stamp = 'older code'")
    con.close()
    ran.clear()
    with warehouse.connect(wh):
        pass
    assert "views" in ran
    assert _q(wh, "SELECT count(*) FROM notices") == [(0,)]
    assert _q(wh, "SELECT stamp FROM warehouse_schema") == [(warehouse.schema_stamp(load_settings()),)]


def test_the_stamp_follows_the_settings_the_schema_is_rendered_with():
    s = load_settings()
    assert warehouse.schema_stamp(s) == warehouse.schema_stamp(s)
    assert len(warehouse.schema_stamp(s)) == 64


def test_a_failed_schema_leaves_no_stamp(tmp_path, monkeypatch):
    """A statement that fails rolls the schema's transaction back; the next writer tries again."""
    wh = tmp_path / "w.duckdb"
    real = warehouse.STEPS

    class Broken(type(real)):
        def __getitem__(self, key):
            if key == slice("schema", "views"):
                raise OSError("disk full (simulated)")
            return real[key]

    monkeypatch.setattr(warehouse, "STEPS", Broken(real))
    with pytest.raises(OSError, match="simulated"):
        with warehouse.connect(wh):
            pass
    monkeypatch.setattr(warehouse, "STEPS", real)
    assert _q(wh, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'warehouse_schema'") == [(0,)]
    with warehouse.connect(wh):
        pass
    assert _q(wh, "SELECT count(*) FROM warehouse_schema") == [(1,)]


def test_the_stamp_changes_with_a_schema_file_or_the_migrations_code(monkeypatch, tmp_path):
    """A new column in schema.sql, or a change in pipelines/warehouse.py (where the migrations are),
    gives another stamp: the next writer runs the schema and the migrations again."""
    from pathlib import Path

    s = load_settings()
    before = warehouse.schema_stamp(s)
    step = warehouse.STEPS["schema"]
    real_render = type(step).render
    monkeypatch.setattr(
        type(step),
        "render",
        lambda self, **p: real_render(self, **p) + ("\n-- a new column" if self.name == "schema" else ""),
    )
    assert warehouse.schema_stamp(s) != before
    monkeypatch.undo()
    copy = tmp_path / "warehouse.py"
    copy.write_bytes(Path(warehouse.__file__).read_bytes() + b"\n# a changed migration\n")
    monkeypatch.setattr(warehouse, "__file__", str(copy))
    assert warehouse.schema_stamp(s) != before


def test_private_copies_beside_the_warehouse_and_leftovers_of_dead_commands_removed(tmp_path):
    """A command's copies go to ``<temp directory>.copies`` (not the system's /tmp); a folder a
    killed command left (its process gone) is removed by the next command, a running one's kept."""
    import dataclasses
    import os
    import shutil
    import subprocess
    import sys

    from pipelines.settings import load_settings
    from pipelines.warehouse import copies_directory, private_copies

    s = load_settings()
    wh = tmp_path / "w.duckdb"
    assert copies_directory(wh, s) == tmp_path / "w.duckdb.tmp.copies"
    elsewhere = dataclasses.replace(s, duckdb_temp_directory="spill")
    assert copies_directory(wh, elsewhere) == tmp_path / "spill.copies"
    root = copies_directory(wh, s)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = root / f"copies-{int(dead.stdout)}-x1"
    mine = root / f"copies-{os.getpid()}-x2"  # a command still running (this test)
    for d in (gone, mine):
        (d / "batch-1").mkdir(parents=True)
        (d / "batch-1" / "persons.csv").write_text("id_no\n")
    with private_copies(wh, s) as here:
        assert here.parent == root and here.name.startswith(f"copies-{os.getpid()}-")
        (here / "f.csv").write_text("x")
        assert not gone.exists() and mine.exists()
    assert not here.exists() and mine.exists()
    shutil.rmtree(mine)
    with private_copies(wh, s) as here:
        assert here.is_dir()
    assert not root.exists(), "an empty folder of copies is removed after the command"


def test_any_writer_removes_a_killed_commands_copies(tmp_path):
    """A killed ingest's copies (personal data) go with the next writer of the warehouse (a run,
    feedback), not a month later with the next ingest; a reader removes nothing."""
    import subprocess
    import sys

    from pipelines.settings import load_settings
    from pipelines.warehouse import connect, copies_directory

    s = load_settings()
    wh = tmp_path / "w.duckdb"
    with connect(wh, settings=s):
        pass
    root = copies_directory(wh, s)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = root / f"copies-{int(dead.stdout)}-x1" / "batch-1"
    gone.mkdir(parents=True)
    (gone / "persons.csv").write_text("id_no\n")
    with connect(wh, read_only=True, settings=s):
        assert gone.exists()
    with connect(wh, settings=s):
        assert not root.exists()
