"""The monthly run end to end (issue 4): the shipped sample, reruns, month order, replay, explain,
county files holding only their own persons, analyst views without personal data."""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines import DATA_DIR
from pipelines.errors import MonthRefused
from pipelines.explain import explain_person
from pipelines.ingest import ingest_batches, load_applications
from pipelines.monthly import run_month

SAMPLE = DATA_DIR / "sample"
ID_RE = re.compile(r"\b[0-9]{17}[0-9Xx]\b")


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "validation" not in p.parts
    }


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """The sample's FULL ingested and 2026-11 run once; tests copy the warehouse when they change it."""
    tmp = tmp_path_factory.mktemp("sample")
    wh, out = tmp / "w.duckdb", tmp / "out"
    rep = ingest_batches([SAMPLE / "push" / "2026-11-full"], wh)
    assert not rep.refused
    load_applications(sorted((SAMPLE / "applications").glob("*.csv")), wh)
    run_month("2026-11", wh, out)
    return tmp, wh, out


def copy_warehouse(src: Path, dst_dir: Path) -> Path:
    dst = dst_dir / "w.duckdb"
    shutil.copyfile(src, dst)
    return dst


def test_sample_month_outputs_per_contract(sample_run):
    _, wh, out = sample_run
    month = out / "2026-11"
    offices = sorted(p.name for p in (month / "worklists").iterdir())
    assert offices and all(re.fullmatch(r"64[0-9]{4}", o) for o in offices)
    for o in offices:
        wl = month / "worklists" / o / "worklist.csv"
        raw = wl.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
        header, body = rows[0], rows[1:]
        assert header[0] == "公民身份号码" and "预警标识" in header
        office_col = header.index("牵头经办机构代码")
        assert {r[office_col] for r in body} == {o}, "an office receives only its own persons"
        for r in body:
            assert not any(c[:1] and c[0] in "=+@" for c in r), "no cell a spreadsheet would run"
    import pyarrow.parquet as pq

    t = pq.read_table(month / "worklists" / offices[0] / "worklist.parquet")
    for col in (
        "id_no",
        "name",
        "gender",
        "birth_month",
        "insurance_type",
        "person_type",
        "office_code",
        "original_age_month",
        "statutory_age_month",
        "months_to_original",
        "months_to_statutory",
        "flexible_earliest_month",
        "flexible_latest_month",
        "min_contribution_months",
        "counted_contribution_months",
        "benefit_region",
        "flags",
        "stage",
        "responsible_officer",
        "due_date",
    ):
        assert col in t.column_names
    flags = [f for f in t.column("flags").to_pylist() if f]
    assert all(f.split(";") == sorted(f.split(";")) for f in flags)
    assert (month / "report" / "index.html").exists()
    assert (month / "handovers" / "handovers.csv").exists()
    assert any((month / "validation").glob("worklists-*.json"))


def test_rerun_gives_identical_outputs(sample_run, tmp_path):
    _, wh, out = sample_run
    wh2 = copy_warehouse(wh, tmp_path)
    out2 = tmp_path / "out"
    run_month("2026-11", wh2, out2)
    assert tree_digest(out2 / "2026-11") == tree_digest(out / "2026-11")
    con = duckdb.connect(str(wh2), read_only=True)
    assert (
        con.execute("SELECT count(*) - count(DISTINCT (id_no, kind, reference_mi)) FROM notice_log").fetchone()[0] == 0
    )
    con.close()


def test_month_order_and_replay(sample_run, tmp_path):
    _, wh, out = sample_run
    wh2 = copy_warehouse(wh, tmp_path)
    out2 = tmp_path / "out"
    ingest_batches([SAMPLE / "push" / "2026-12-incr"], wh2)
    run_month("2026-12", wh2, out2)
    with pytest.raises(MonthRefused, match="before the last month run"):
        run_month("2026-11", wh2, out2)
    rep = run_month("2026-11", wh2, tmp_path / "replay", replay=True)
    assert rep.as_of_seq == 1
    # the replay reads the state as of that month: the same files as the original run
    assert tree_digest(tmp_path / "replay" / "2026-11") == tree_digest(out / "2026-11")
    with pytest.raises(MonthRefused, match="never run"):
        run_month("2027-01", wh2, out2, replay=True)


def test_replay_of_a_month_published_before_the_channel_column(sample_run, tmp_path):
    """A snapshot stored before worklist_rows.channel existed is re-emitted as it was (empty channel)."""
    _, wh, _ = sample_run
    wh2 = copy_warehouse(wh, tmp_path)
    con = duckdb.connect(str(wh2))
    con.execute("UPDATE worklist_rows SET channel = NULL")
    con.close()
    ingest_batches([SAMPLE / "push" / "2026-12-incr"], wh2)
    run_month("2026-12", wh2, tmp_path / "out")
    run_month("2026-11", wh2, tmp_path / "replay", replay=True)  # validated, no failure
    import pyarrow.parquet as pq

    f = next((tmp_path / "replay" / "2026-11" / "worklists").glob("*/worklist.parquet"))
    assert pq.read_table(f, columns=["channel"]).column(0).null_count == pq.read_metadata(f).num_rows


def test_next_month_carries_the_ledger_forward(sample_run, tmp_path):
    _, wh, out = sample_run
    wh2 = copy_warehouse(wh, tmp_path)
    ingest_batches([SAMPLE / "push" / "2026-12-incr"], wh2)
    run_month("2026-12", wh2, tmp_path / "out")
    con = duckdb.connect(str(wh2), read_only=True)
    nov = con.execute("SELECT count(*) FROM ledger_entries WHERE opened_mi = 2026*12+10").fetchone()[0]
    # every November entry is still there in December: open, or closed with a reason
    kept = con.execute(
        "SELECT count(*) FROM worklist_rows w JOIN ledger_entries e USING (entry_id) "
        "WHERE w.month_mi = 2026*12+11 AND e.opened_mi = 2026*12+10"
    ).fetchone()[0]
    closed_before = con.execute(
        "SELECT count(*) FROM ledger_entries WHERE opened_mi = 2026*12+10 AND closed_mi < 2026*12+11"
    ).fetchone()[0]
    assert kept + closed_before == nov
    # PRE_SERVICE is sent once: nobody opened in November gets it again in December
    again = con.execute(
        "SELECT count(*) FROM notice_log n JOIN ledger_entries e USING (entry_id) "
        "WHERE n.kind = 'PRE_SERVICE' AND n.issued_mi = 2026*12+11 AND e.opened_mi = 2026*12+10"
    ).fetchone()[0]
    assert again == 0
    con.close()


def test_worklist_says_the_channel(sample_run):
    """rules.md §5 "the worklist says which": each row's channel is the one its notices of P went by."""
    _, wh, out = sample_run
    con = duckdb.connect(str(wh), read_only=True)
    kinds = dict(
        con.execute("SELECT channel, count(*) FROM worklist_rows WHERE month_mi = 2026*12+10 GROUP BY ALL").fetchall()
    )
    assert set(kinds) == {"SMS", "EMPLOYER", "TOWNSHIP"}  # the sample has all three
    differ = con.execute(
        "SELECT count(*) FROM worklist_rows w JOIN notice_log n ON n.entry_id = w.entry_id AND n.issued_mi = w.month_mi "
        "WHERE w.month_mi = 2026*12+10 AND n.channel <> w.channel"
    ).fetchone()[0]
    assert differ == 0
    con.close()
    header = (out / "2026-11" / "worklists").glob("*/worklist.csv").__next__().read_text(encoding="utf-8-sig")
    assert "告知渠道" in header.splitlines()[0]


def test_analyst_views_carry_no_personal_data(sample_run):
    _, wh, _ = sample_run
    con = duckdb.connect(str(wh), read_only=True)
    names = {r[0] for r in con.execute("SELECT DISTINCT name FROM person_versions WHERE name IS NOT NULL").fetchall()}
    phones = {
        r[0] for r in con.execute("SELECT DISTINCT phone FROM person_versions WHERE phone IS NOT NULL").fetchall()
    }
    for view in ("batches", "quarantine", "ledger_current", "flags_current", "notices", "office_progress"):
        cur = con.execute(f"SELECT * FROM {view}")
        cols = [d[0] for d in cur.description]
        assert not {"id_no", "name", "phone"} & set(cols), view
        for row in cur.fetchall():
            for v in row:
                if isinstance(v, str):
                    assert not ID_RE.search(v) and v not in names and v not in phones, (view, v)
    assert "person_key" in [d[0] for d in con.execute("SELECT * FROM ledger_current LIMIT 0").description]
    # the key is not in the file: no stored macro or view carries the secret
    secret_hits = con.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE macro_definition LIKE '%demo-only-key%'"
    ).fetchone()[0]
    views_sql = " ".join(r[0] for r in con.execute("SELECT sql FROM duckdb_views()").fetchall())
    assert secret_hits == 0 and "demo-only-key" not in views_sql
    con.close()


def test_overdue_in_the_views_is_counted_on_the_shanghai_date(sample_run):
    """An analyst's session in another time zone sees the same overdue entries as Ningxia."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    _, wh, _ = sample_run
    con = duckdb.connect(str(wh), read_only=True)
    try:
        con.execute("SET TimeZone = 'America/Los_Angeles'")
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        rows = con.execute(
            "SELECT due_date, overdue FROM ledger_current WHERE closed_month IS NULL AND due_date IS NOT NULL"
        ).fetchall()
        assert rows and all(over == (due < today) for due, over in rows)
    finally:
        con.close()


def test_office_progress_adds_up(sample_run):
    _, wh, _ = sample_run
    con = duckdb.connect(str(wh), read_only=True)
    a = con.execute("SELECT sum(open_entries), sum(notices_sent) FROM office_progress").fetchone()
    b = con.execute(
        "SELECT count(*) FILTER (closed_mi IS NULL), (SELECT count(*) FROM notice_log) FROM ledger_entries"
    ).fetchone()
    assert a == b
    con.close()


def test_explain_names_rules_without_personal_data(sample_run):
    _, wh, _ = sample_run
    con = duckdb.connect(str(wh), read_only=True)
    id_no, name = con.execute(
        "SELECT e.id_no, p.name FROM ledger_entries e JOIN person_versions p USING (id_no) "
        "WHERE p.valid_to_seq IS NULL AND e.opened_by LIKE '%PUSH%' ORDER BY e.entry_id LIMIT 1"
    ).fetchone()
    con.close()
    text = explain_person(id_no, "2026-11", wh)
    for needle in (
        "rules.md §1",
        "rules.md §2",
        "rules.md §3",
        "rules.md §4",
        "in scope: (",
        "ENROLLED",
        "PRE_SERVICE",
    ):
        assert needle in text
    assert id_no not in text and (not name or name not in text)


def test_cli_run_refuses_without_push(tmp_path):
    from pipelines.settings import load_settings
    from pipelines.warehouse import connect

    with connect(tmp_path / "w.duckdb", settings=load_settings()):
        pass  # a warehouse, but no push in it
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "run",
            "--month",
            "2026-11",
            "--warehouse",
            str(tmp_path / "w.duckdb"),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no push batch" in lines[0]


def _failing_suites(tmp_path: Path, stage: str) -> Path:
    """A copy of expectations/ in which the ``stage`` suite demands what no real frame has."""
    import json

    import pipelines

    d = tmp_path / "expectations"
    shutil.copytree(pipelines.EXPECTATIONS_DIR, d)
    suite = json.loads((d / f"{stage}.json").read_text(encoding="utf-8"))
    frame = suite["expectations"][0]["meta"]["frame"]
    suite["expectations"].append(
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "office_code", "value_set": ["000000"]},
            "meta": {"frame": frame, "why": "test: an expectation that fails"},
        }
    )
    (d / f"{stage}.json").write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")
    return d


@pytest.mark.parametrize("stage", ["screen", "worklists", "forecast"])
def test_failing_expectation_stops_the_stage_and_publishes_nothing(sample_run, tmp_path, monkeypatch, stage):
    import pipelines
    from pipelines.errors import ValidationFailed

    _, wh, _ = sample_run
    wh2 = copy_warehouse(wh, tmp_path)
    ingest_batches([SAMPLE / "push" / "2026-12-incr"], wh2)
    con = duckdb.connect(str(wh2), read_only=True)
    before = con.execute("SELECT count(*) FROM screen_results WHERE month_mi = 2026*12+11").fetchone()[0]
    con.close()
    monkeypatch.setattr(pipelines, "EXPECTATIONS_DIR", _failing_suites(tmp_path, stage))
    out = tmp_path / "out"
    with pytest.raises(ValidationFailed, match="expect_column_values_to_be_in_set"):
        run_month("2026-12", wh2, out)
    assert not (out / "2026-12" / "worklists").exists() and not (out / "2026-12" / "notifications").exists()
    assert any((out / "2026-12" / "validation").glob(f"{stage}-*.json")), "the failure is recorded"
    con = duckdb.connect(str(wh2), read_only=True)
    after = con.execute("SELECT count(*) FROM screen_results WHERE month_mi = 2026*12+11").fetchone()[0]
    status = con.execute("SELECT status FROM month_runs WHERE month_mi = 2026*12+11").fetchall()
    con.close()
    if stage == "screen":
        assert after == before == 0, "the screening of the month was rolled back"
    if stage == "forecast":  # issue 18: the month's forecast is not stored
        con = duckdb.connect(str(wh2), read_only=True)
        assert con.execute("SELECT count(*) FROM forecast WHERE month_mi = 2026*12+11").fetchone()[0] == 0
        con.close()
    assert status == [("FAILED",)]


def test_feedback_shows_in_worklists_and_office_progress(sample_run, tmp_path):
    """Issue 6: objection deadlines and open objections reach the worklists and office_progress."""
    from pipelines.feedback import apply_feedback_files

    _, wh, _ = sample_run
    wh2 = copy_warehouse(wh, tmp_path)
    apply_feedback_files(sorted((SAMPLE / "feedback").glob("*.csv")), wh2)
    run_month("2026-11", wh2, tmp_path / "out")  # the same month again, now with feedback
    con = duckdb.connect(str(wh2), read_only=True)
    rows = con.execute(
        "SELECT objection_deadline, objection_status FROM worklist_rows "
        "WHERE month_mi = 2026*12+10 AND objection_deadline IS NOT NULL"
    ).fetchall()
    assert rows and all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d, _ in rows)
    assert {"objections_open", "objections_overdue"} <= {
        d[0] for d in con.execute("SELECT * FROM office_progress LIMIT 0").description
    }
    con.close()
    header = (tmp_path / "out" / "2026-11" / "worklists").glob("*/worklist.csv")
    assert all("异议截止日期" in h.read_text(encoding="utf-8-sig").splitlines()[0] for h in header)


def test_publish_removes_a_run_folder_this_run_has_nothing_for(tmp_path):
    # a rerun with no notices must not leave the earlier run's notifications/ beside its new files;
    # declare's declarations/ and the validation/ record stay
    from pipelines.outputs import _swap_in

    final, stage = tmp_path / "2026-11", tmp_path / ".2026-11.partial"
    for d in ("notifications/640104", "worklists/640104", "declarations/640104", "validation"):
        (final / d).mkdir(parents=True)
        (final / d / "old.txt").write_text("old")
    (stage / "worklists" / "640104").mkdir(parents=True)
    (stage / "worklists" / "640104" / "new.txt").write_text("new")
    _swap_in(stage, final)
    assert sorted(p.relative_to(final).as_posix() for p in final.rglob("*.txt")) == [
        "declarations/640104/old.txt",
        "validation/old.txt",
        "worklists/640104/new.txt",
    ]
    assert not stage.exists()


def test_each_stage_of_a_run_leaves_no_temporary_table(sample_run, tmp_path, monkeypatch):
    # issue 19: one connection runs every stage of `retire-prep run`; what a stage made for itself
    # is dropped when it ends (as a DAG task's process ends), so DuckDB's spill holds one stage's
    # temporary tables at a time (46 GB by the outputs stage at 25 M otherwise)
    from pipelines import monthly, outputs, warehouse

    _, wh, _ = sample_run
    wh2 = copy_warehouse(wh, tmp_path)
    ingest_batches([SAMPLE / "push" / "2026-12-incr"], wh2)
    dropped = []

    def drop(con):
        n = warehouse.drop_temp_tables(con)
        left = con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall()[0][0]
        views = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'persons_p'").fetchall()[0][0]
        dropped.append((n, left, views))
        return n

    monkeypatch.setattr(monthly, "drop_temp_tables", drop)
    monkeypatch.setattr(outputs, "drop_temp_tables", drop)
    run_month("2026-12", wh2, tmp_path / "out")
    assert len(dropped) >= 6  # after each writing stage and each reading stage
    assert dropped[0][0] > 5, "the screen stage's own tables (facts, screened, month_flags, …)"
    assert all(left == 0 for _, left, _ in dropped)
    assert all(views == 1 for _, _, views in dropped), "the month's state views stay"
