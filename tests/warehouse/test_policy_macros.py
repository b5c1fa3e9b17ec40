"""The policy macros' own file (pipelines/policy_macros.py): bound once, attached by every warehouse
connection, the same macros as the TEMP ones it replaces, and the TEMP ones wherever it cannot be used."""

from __future__ import annotations

import dataclasses
import os

import duckdb
import pytest

from pipelines import policy_macros
from pipelines.settings import load_settings
from pipelines.warehouse import connect, register_id_checks, register_policy

PROBE = (
    "SELECT statutory_age_mi(1, 1, 110, 1965 * 12), flexible_latest_mi(2, 1, 110, 1976 * 12 + 2), "
    "scope_rule_at(true, 110, 24300, 1, 24290), phone_valid('１３９１２３４５６７８'), mi_text(24300)"
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "retire-prep"


def _definitions(con, catalog: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT function_name, macro_definition FROM duckdb_functions() "
        "WHERE database_name = ? AND function_type = 'macro' AND function_name <> 'person_key'",
        [catalog],
    ).fetchall()
    return dict(rows)


def test_the_file_holds_the_same_macros_as_a_connection_creates_temp(cache, tmp_path):
    settings = load_settings()
    with connect(tmp_path / "w.duckdb", settings=settings) as con:
        attached = _definitions(con, policy_macros.ALIAS)
        via_file = con.execute(PROBE).fetchall()
    own = duckdb.connect()
    register_policy(own, settings, temp=True)
    register_id_checks(own)  # not attached: created TEMP, as on ingest's connection without the file
    assert attached and attached == _definitions(own, "temp")
    assert "id_no_valid" in attached
    assert via_file == own.execute(PROBE).fetchall()
    assert [p.name for p in cache.iterdir()] == [policy_macros.file_for(settings).name]


def test_the_warehouse_itself_holds_no_policy_macro(cache, tmp_path):
    """Kept out of the warehouse: EXPORT / IMPORT DATABASE (docs/operations.md) would fail on them."""
    with connect(tmp_path / "w.duckdb", settings=load_settings()):
        pass
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    names = {
        r[0] for r in con.execute("SELECT function_name FROM duckdb_functions() WHERE database_name = 'w'").fetchall()
    }
    own = duckdb.connect()
    register_policy(own, load_settings(), temp=True)
    policy = set(_definitions(own, "temp"))
    assert "statutory_age_mi" in policy and not names & policy


def test_another_setting_is_another_file_and_its_own_values(cache, tmp_path):
    base = load_settings()
    wide = dataclasses.replace(base, scope_window=base.scope_window + 24)
    assert policy_macros.file_for(wide) != policy_macros.file_for(base)
    probe = "SELECT scope_rule_at(true, 110, 24300, 1, 24300 - ?)"
    months = base.scope_window + 12
    with connect(tmp_path / "w.duckdb", settings=base) as con:
        assert con.execute(probe, [months]).fetchall() == [(None,)]
    with connect(tmp_path / "w.duckdb", settings=wide) as con:
        assert con.execute(probe, [months]).fetchall() == [("a",)]
    assert len(list(cache.iterdir())) == 2


@pytest.mark.parametrize("why", ["others may write the folder", "the folder cannot be made"])
def test_where_the_file_cannot_be_used_the_connection_creates_them_temp(why, cache, tmp_path, monkeypatch):
    if why == "others may write the folder":
        cache.mkdir(parents=True)
        os.chmod(cache, 0o777)
    else:
        (tmp_path / "cache").write_text("a file where the folder would be", encoding="utf-8")
    with connect(tmp_path / "w.duckdb", settings=load_settings()) as con:
        assert _definitions(con, "temp") and not _definitions(con, policy_macros.ALIAS)
        assert con.execute("SELECT statutory_age_mi(1, 1, 110, 1965 * 12)").fetchall() == [(1965 * 12 + 12 * 60 + 1,)]
    if why == "others may write the folder":
        assert not list(cache.iterdir())  # nothing written where another account could have put a file


def test_a_leftover_of_a_build_killed_midway_is_never_attached(cache, tmp_path):
    settings = load_settings()
    final = policy_macros.file_for(settings)
    cache.mkdir(parents=True, mode=0o700)
    (cache / f".{final.name}.999999.tmp").write_bytes(b"half a file")
    with connect(tmp_path / "w.duckdb", settings=settings) as con:
        assert _definitions(con, policy_macros.ALIAS)
    assert final.exists()


def test_a_reader_attaches_it_too_and_the_key_macro_stays_on_the_connection(cache, tmp_path):
    settings = load_settings()
    with connect(tmp_path / "w.duckdb", settings=settings):
        pass
    with connect(tmp_path / "w.duckdb", read_only=True, settings=settings) as con:
        assert _definitions(con, policy_macros.ALIAS)
        keyed = con.execute(
            "SELECT database_name FROM duckdb_functions() WHERE function_name = 'person_key'"
        ).fetchall()
        assert keyed == [("temp",)]


def test_ingest_binds_no_id_check_of_its_own_where_the_file_is_attached(cache, tmp_path):
    """The ID-number and credit-code checks come with the file; register_id_checks creates them TEMP
    only on a connection without it (docs/decisions.md "the policy macros bound once")."""
    with connect(tmp_path / "w.duckdb", settings=load_settings()) as con:
        register_id_checks(con)
        assert "id_no_valid" not in _definitions(con, "temp")
        assert con.execute("SELECT id_no_valid('11010519491231002X'), uscc_valid('91110000100000000X')").fetchall()
