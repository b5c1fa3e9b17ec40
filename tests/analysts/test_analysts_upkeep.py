"""The analysts' file brought up to date in a copy of the previous one equals a full rebuild
(issues 17/18: pipelines/analysts.py UPKEEP, sql/analysts/upkeep_*.sql).

A multi-month flow: the sample's two months (FULL, applications, run, county feedback, declare,
INCR, run), then a third month whose FULL push drops some persons (their entries close LEFT_PUSH)
and moves others to another county (their entries change office, and so do their transitions'
rows), the run of that month, a rerun of it (a correction), and the declaration screening of the
month after.  After every command (each keeps the file up to date itself) every table of the file
is compared, row for row and column for column, with a full rebuild of the same warehouse.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from support.pushkit import write_batch
from support import sample_world
from pipelines.analysts import UPKEEP, analysts_path, build_analysts, rebuild

FULL_DIR = sample_world.SAMPLE / "push" / "2026-11-full"


def _read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _third_month(tmp: Path, wh: Path) -> Path:
    """The FULL push of 2027-01: the sample's persons less some of the ledger's, some of them moved
    to another county's insured region."""
    persons, segs = _read(FULL_DIR / "persons.csv"), _read(FULL_DIR / "segments.csv")
    with duckdb.connect(str(wh), read_only=True) as con:
        ledger = [
            r[0]
            for r in con.execute(
                "SELECT id_no FROM ledger_entries WHERE closed_mi IS NULL ORDER BY entry_id LIMIT 40"
            ).fetchall()
        ]
    gone, moved = set(ledger[:15]), set(ledger[15:40])
    out = []
    for p in persons:
        if p["id_no"] in gone:
            continue
        if p["id_no"] in moved:
            p = dict(p, insured_region="640104" if p["insured_region"] != "640104" else "640105")
        out.append(p)
    return write_batch(tmp / "2027-01-full", out, [s for s in segs if s["id_no"] not in gone], seq=3, month="2027-01")


def _steps(tmp: Path, wh: Path, out: Path):
    from pipelines.declare import declare_month
    from pipelines.ingest import ingest_batches
    from pipelines.monthly import run_month

    yield from sample_world.steps(wh, out)
    yield "ingest FULL 2027-01", lambda: ingest_batches([_third_month(tmp, wh)], wh, validate=False)
    yield "run 2027-01", lambda: run_month("2027-01", wh, out, validate=False)
    yield "rerun 2027-01", lambda: run_month("2027-01", wh, out, validate=False)
    yield (
        "declare 2027-02",
        lambda: sample_world._declare_without_gx(lambda _m, w, o: declare_month("2027-02", w, o), wh, out),
    )


def differences(wh: Path, tmp: Path) -> list[str]:
    """Every table of the analysts' file of ``wh`` against a full rebuild of ``wh`` (``about``: its
    columns only, it holds the time of building)."""
    full = tmp / "full.analysts.duckdb"
    full.unlink(missing_ok=True)
    con = duckdb.connect(str(wh))
    try:
        con.execute("SET TimeZone = 'Asia/Shanghai'")
        build_analysts(con, full, full=True)
    finally:
        con.close()
    problems = []
    c = duckdb.connect()
    try:
        c.execute(f"ATTACH '{analysts_path(wh)}' AS kept (READ_ONLY)")
        c.execute(f"ATTACH '{full}' AS fresh (READ_ONLY)")

        def tables(db):
            return [
                r[0]
                for r in c.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY 1", [db]
                ).fetchall()
            ]

        def columns(db, t):
            return c.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? AND table_name = ? "
                "ORDER BY column_index",
                [db, t],
            ).fetchall()

        if tables("kept") != tables("fresh"):
            return [f"tables {tables('kept')} != {tables('fresh')}"]
        for t in tables("fresh"):
            if columns("kept", t) != columns("fresh", t):
                problems.append(f"{t}: columns differ")
                continue
            if t == "about":
                continue
            for a, b in (("kept", "fresh"), ("fresh", "kept")):
                n = c.execute(f"SELECT count(*) FROM (FROM {a}.{t} EXCEPT ALL FROM {b}.{t})").fetchone()[0]
                if n:
                    problems.append(f"{t}: {n} rows of the {a} file not in the {b} one")
    finally:
        c.close()
    return problems


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    from unittest import mock

    import pipelines.analysts as analysts
    from pipelines import steps as steps_module

    tmp = tmp_path_factory.mktemp("upkeep")
    wh, out = tmp / "warehouse.duckdb", tmp / "out"
    seen, ran, files = [], {}, []

    def observe(con, step, given):  # the SQL files each command's upkeep ran
        files.append(step.sql)

    def rendering(step, **params):  # and those it rendered for another step
        files.append(step.sql)
        return query(step, **params)

    query = analysts.query
    steps_module.OBSERVERS.append(observe)
    try:
        with mock.patch.object(analysts, "query", rendering):
            for name, step in _steps(tmp, wh, out):
                files.clear()
                step()
                ran[name] = set(files)
                seen.append((name, differences(wh, tmp)))
    finally:
        steps_module.OBSERVERS.remove(observe)
    return {"wh": wh, "tmp": tmp, "seen": seen, "ran": ran}


def test_kept_up_to_date_after_every_command_equals_a_full_rebuild(flow):
    names = [n for n, _ in flow["seen"]]
    assert names[-4:] == ["ingest FULL 2027-01", "run 2027-01", "rerun 2027-01", "declare 2027-02"]
    assert [(n, p) for n, p in flow["seen"] if p] == []


def test_the_flow_changes_what_upkeep_must_follow(flow):
    """Not vacuous: the third month closed entries, moved entries to another office (their
    transitions too) and the per-person tables hold rows of every kind."""
    con = duckdb.connect(str(analysts_path(flow["wh"])), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM ledger_current WHERE close_reason = 'LEFT_PUSH'").fetchone()[0] > 0
        assert con.execute("SELECT count(*) FROM transitions WHERE to_stage = 'LEFT_PUSH'").fetchone()[0] > 0
        assert con.execute("SELECT DISTINCT screened_month FROM ledger_current").fetchall() == [("2027-01",)]
        for t in UPKEEP:
            assert con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] > 80, t
    finally:
        con.close()
    with duckdb.connect(str(flow["wh"]), read_only=True) as w:
        # entries handed to another office (sql/ledger/20_office_change.sql), with earlier transitions
        moved = w.execute(
            "SELECT count(DISTINCT entry_id) FROM ledger_transitions WHERE detail LIKE 'office % -> %' "
            "AND entry_id IN (SELECT entry_id FROM ledger_transitions WHERE month_mi < 2027 * 12)"
        ).fetchone()[0]
        assert moved > 0
        # persons of the ledger whose screening (the columns ledger_current shows) changed from one
        # month to the next: their rows are written again after a run, the others' updated in place
        for mi in (2026 * 12 + 11, 2027 * 12):
            changed = w.execute(
                "SELECT count(*) FROM (SELECT id_no, insurance_type, gender, original_age_mi, statutory_age_mi, "
                "benefit_province, flags FROM screen_results WHERE month_mi = ? "
                "EXCEPT SELECT id_no, insurance_type, gender, original_age_mi, statutory_age_mi, "
                "benefit_province, flags FROM screen_results WHERE month_mi = ? - 1) "
                "WHERE id_no IN (SELECT id_no FROM ledger_entries)",
                [mi, mi],
            ).fetchone()[0]
            assert changed > 0, mi


def test_the_upkeep_takes_its_cheap_paths(flow):
    """What keeps the upkeep within 10 % of each command at 1,000,000 persons (issue 17): after an
    ingest nothing of the ledger is compared entry by entry (the checksum is equal: only the overdue
    entries are looked at) and no transition is written again (the source's latest stamp and count are
    the copy's); after a run the ledger follows in place (but after a rerun of the month the copy
    shows: written whole) and the month's flags by office are counted from flags_current."""
    ran = flow["ran"]
    for ingest in ("ingest INCR", "ingest FULL 2027-01"):
        assert "analysts/upkeep_overdue.sql" in ran[ingest], ingest
        assert not {"analysts/upkeep_ledger.sql", "analysts/upkeep_units.sql"} & ran[ingest], ingest
    for run in ("run 2026-12", "run 2027-01"):
        assert {
            "analysts/upkeep_ledger_run.sql",
            "analysts/upkeep_months.sql",
            "analysts/flags_month_latest.sql",
            "analysts/upkeep_units.sql",
        } <= ran[run], run
    # the first run: the file of the first ingest has every per-month table empty, flags_month too
    assert "analysts/flags_month_latest.sql" in ran["run 2026-11"]
    assert "analysts/upkeep_ledger_run.sql" not in ran["rerun 2027-01"]
    assert "analysts/upkeep_months.sql" in ran["rerun 2027-01"]


def test_a_copy_out_of_step_is_caught_by_the_checks(flow):
    """What the upkeep compares or checks: entries changed by hand in ledger_current (their own
    columns are compared with the ledger), notices missing (row count), transitions doubled (row
    count): the next upkeep ends equal to a full rebuild."""
    wh, tmp = flow["wh"], flow["tmp"]
    con = duckdb.connect(str(analysts_path(wh)))
    try:
        con.execute(
            "UPDATE ledger_current SET stage = 'X', overdue = NULL WHERE entry_id IN "
            "(SELECT entry_id FROM ledger_current LIMIT 7)"
        )
        con.execute("DELETE FROM ledger_current WHERE entry_id IN (SELECT entry_id FROM ledger_current LIMIT 3)")
        con.execute("DELETE FROM notices WHERE notice_id IN (SELECT notice_id FROM notices LIMIT 5)")
        con.execute("INSERT INTO transitions SELECT * FROM transitions LIMIT 2")
    finally:
        con.close()
    assert {p.split(":")[0] for p in differences(wh, tmp)} == {"ledger_current", "notices", "transitions"}
    rebuild(wh)
    assert differences(wh, tmp) == []


def test_rotated_person_keys_write_the_file_afresh(flow, caplog):
    wh, tmp = flow["wh"], flow["tmp"]
    con = duckdb.connect(str(analysts_path(wh)))
    try:
        con.execute("UPDATE ledger_current SET person_key = 'old-' || person_key")
        con.execute("UPDATE flags_current SET person_key = 'old-' || person_key")
    finally:
        con.close()
    from pipelines.analysts import _stamp

    _stamp(analysts_path(wh))  # as the pipeline wrote it with the old key (else: changed since built)
    with caplog.at_level("INFO", logger="pipelines.analysts"):
        rebuild(wh)
    assert differences(wh, tmp) == []
    assert "person keys changed" in caplog.text


def test_a_previous_file_that_does_not_open_is_written_afresh(flow, caplog):
    wh, tmp = flow["wh"], flow["tmp"]
    ana = analysts_path(wh)
    ana.write_bytes(b"not a database" * 100)
    rebuild(wh)
    assert differences(wh, tmp) == []
    assert "written afresh" in caplog.text
    assert sorted(p.name for p in ana.parent.iterdir() if ".analysts." in p.name and ".new" in p.name) == []


def test_full_is_a_setting_of_the_command(flow):
    from support.pushkit import run_cli

    code, out, err = run_cli("analysts", "--full", "--warehouse", flow["wh"])
    assert code == 0, err
    assert Path(out.strip()) == analysts_path(flow["wh"])
    assert differences(flow["wh"], flow["tmp"]) == []
