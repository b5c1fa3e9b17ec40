"""A new warehouse copied from the one this process made first (the suite's time, seventeenth session).

A writer's connection to a warehouse file that does not exist yet (``pipelines.warehouse.connect``)
creates the schema: ≈ 0.12 s CPU of DDL (the tables, the views, the migrations, the stamp), paid by
every test that ingests into a new warehouse, ≈ a thousand in the suite. With :func:`copied`, the
first such connection of the process makes the warehouse as production does and keeps a copy of the
file; every later one starts from a copy of that file (≈ 0.01 s), and ``connect`` then finds this
code's stamp and goes on as on a warehouse it has just made. The file is the one the same code made:
the schema's SQL does not depend on the settings (``sql/warehouse/schema.sql`` and ``views.sql`` have no
placeholder), and a copy is made only while the stamp (``pipelines.warehouse.schema_stamp``: DuckDB's
version, the schema's files, the migrations, ``pipelines/warehouse.py`` itself) is the one of the copy,
so a test that changes the schema's code gets the DDL.

tests/conftest.py switches it on everywhere but in the modules that test the schema, its migrations,
the statements each step runs, or that count, break or kill the file operations of a command
(``KEPT_IN["schema"]``); a test elsewhere takes the mark ``schema``. Commands started as subprocesses
make their schema as production does.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
from pathlib import Path

import duckdb

import pipelines.warehouse as warehouse

_MADE: dict[str, Path] = {}  # stamp -> the fresh warehouse's file
_MAKING: list[bool] = []


def _made(stamp: str) -> Path | None:
    """The fresh warehouse of this stamp, made by ``connect`` itself on first use (None while it is being made)."""
    if stamp in _MADE and _MADE[stamp].is_file():
        return _MADE[stamp]
    if _MAKING:
        return None
    from pipelines.settings import load_settings

    folder = Path(tempfile.mkdtemp(prefix="fresh-warehouse-"))
    atexit.register(shutil.rmtree, folder, True)
    _MAKING.append(True)
    try:
        with warehouse.connect(folder / "w.duckdb", settings=load_settings()) as con:
            made = warehouse.stored_stamp(con)
    finally:
        _MAKING.pop()
    if made != stamp or Path(f"{folder / 'w.duckdb'}.wal").exists():
        return None
    _MADE[stamp] = folder / "w.duckdb"
    return _MADE[stamp]


class _DuckDB:
    """``pipelines.warehouse.duckdb``: the module itself, but a writer's ``connect`` to a file that does
    not exist yet copies the fresh warehouse first."""

    def __getattr__(self, name):
        return getattr(duckdb, name)

    def connect(self, database=":memory:", read_only=False, *args, **kwargs):
        path = Path(str(database))
        if not read_only and str(database) not in (":memory:", "") and not path.exists():
            from pipelines.settings import load_settings

            try:  # settings a test broke on purpose, a folder that cannot be written: DuckDB's own way
                fresh = None if Path(f"{path}.wal").exists() else _made(warehouse.schema_stamp(load_settings()))
                if fresh is not None:
                    shutil.copyfile(fresh, path)
            except Exception:
                with contextlib.suppress(OSError):  # a part copied: the file was not there before
                    path.unlink(missing_ok=True)
        return duckdb.connect(database, read_only, *args, **kwargs)


def copied(mp) -> None:
    """New warehouses from a copy (module docstring), for the monkeypatch ``mp``."""
    mp.setattr(warehouse, "duckdb", _DuckDB())
