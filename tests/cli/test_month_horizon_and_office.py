"""issue 14 items 5 and 7: a month far ahead of the latest push is refused (and, forced, can be
undone), and a feedback file is bound to the office that sent it."""

from __future__ import annotations

from pathlib import Path
import shutil
import duckdb
import pytest

from pipelines import orchestration
from pipelines.declare import declare_month
from pipelines.errors import MonthRefused
from pipelines.feedback import FeedbackFileRefused, apply_feedback_files
from pipelines.ingest import ingest_batches
from pipelines.monthly import run_month
from support.pushkit import population, run_cli, write_batch
from support.feedback import D0, Wh, row, settled

# ------------------------------------------------------------------------------------ item 5


@pytest.fixture(scope="module")
def pushed(tmp_path_factory):
    """A FULL of data_month 2026-11, ingested (no month run yet)."""
    tmp = tmp_path_factory.mktemp("horizon")
    wh = tmp / "w.duckdb"
    ps, ss = population(20)
    rep = ingest_batches([write_batch(tmp / "b1", ps, ss, month="2026-11")], wh, validate=False)
    assert not rep.refused
    return tmp, wh


def _copy(pushed, tmp_path):
    shutil.copyfile(pushed[1], tmp_path / "w.duckdb")
    return tmp_path / "w.duckdb"


def _runs(wh):
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute("SELECT month_mi, command, status FROM month_runs ORDER BY ALL").fetchall()


@pytest.mark.parametrize("month", ["2027-12", "2099-12", "2027-01"])
def test_a_month_far_ahead_of_the_push_is_refused_and_changes_nothing(pushed, tmp_path, month):
    wh = _copy(pushed, tmp_path)
    with pytest.raises(MonthRefused, match=r"ahead of the latest push \(data_month 2026-11\): run goes up to 2026-12"):
        run_month(month, wh, tmp_path / "out", validate=False)
    assert _runs(wh) == [] and not (tmp_path / "out").exists()


def test_one_month_ahead_runs_and_the_cli_refuses_in_one_line(pushed, tmp_path):
    wh = _copy(pushed, tmp_path)
    code, out, err = run_cli("run", "--month", "2099-12", "--warehouse", wh, "--out", tmp_path / "out")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--ahead-of-push" in err
    run_month("2026-12", wh, tmp_path / "out", validate=False)  # P's push late: runs on 2026-11's
    assert _runs(wh) == [(2026 * 12 + 11, "run", "DONE")]


def test_declare_goes_two_months_ahead(pushed, tmp_path):
    wh = _copy(pushed, tmp_path)
    with pytest.raises(MonthRefused, match="declare goes up to 2027-01"):
        declare_month("2027-02", wh, tmp_path / "out")
    with pytest.raises(MonthRefused, match="no screening"):  # past the horizon check
        declare_month("2027-01", wh, tmp_path / "out")


def test_a_forced_month_keeps_the_warehouse_before_it_and_putting_it_back_undoes_it(pushed, tmp_path):
    wh = _copy(pushed, tmp_path)
    rep = run_month("2027-12", wh, tmp_path / "out", validate=False, ahead_of_push=True)
    kept = tmp_path / "w.before-run-2027-12.duckdb"
    assert str(kept) in "\n".join(rep.lines()) and kept.is_file()
    with pytest.raises(MonthRefused, match="before the last month run"):
        run_month("2026-11", wh, tmp_path / "out", validate=False)
    # the undo of docs/operations.md: the copy back in place, the forced month's folder removed
    shutil.move(kept, wh)
    shutil.rmtree(tmp_path / "out" / "2027-12")
    assert _runs(wh) == []
    run_month("2026-11", wh, tmp_path / "out", validate=False)
    assert _runs(wh) == [(2026 * 12 + 10, "run", "DONE")]


# ------------------------------------------------------------------------------------ item 7


@pytest.fixture
def wh(tmp_path):
    return Wh(tmp_path)


def test_a_file_of_two_offices_without_office_is_refused_whole(wh):
    a, b = wh.person(), wh.person(office="640105")
    f = wh.write([row(a, "ARCHIVE_REVIEWED", D0, result="PASS"), row(b, "ARCHIVE_REVIEWED", D0, result="PASS")])
    with pytest.raises(FeedbackFileRefused, match="MIXED_OFFICES"):
        apply_feedback_files([f], wh.path, wh.settings)
    assert (wh.stage(a), wh.stage(b)) == ("NOTIFIED", "NOTIFIED")
    # the same file with --office: that office's rows applied, the other office's refused
    rep = apply_feedback_files([f], wh.path, wh.settings, office="640104")
    assert rep.files[0].reasons == {"WRONG_OFFICE": 1} and "(office 640104)" in rep.lines()[0]
    assert (wh.stage(a), wh.stage(b)) == ("ARCHIVE_REVIEWED", "NOTIFIED")


def test_a_file_sent_by_one_office_cannot_touch_anothers_person(wh):
    """The row claims the sender's office for a person of another office: refused exactly as an ID
    number with no entry, so the sender learns nothing about the person."""
    mine, theirs = wh.person(), wh.person(office="640105")
    f = wh.write([row(theirs, "ARCHIVE_REVIEWED", D0, result="PASS") | {"office_code": "640104"}])
    rep = apply_feedback_files([f], wh.path, wh.settings, office="640104")
    assert rep.files[0].reasons == {"UNKNOWN_PERSON": 1} and wh.stage(theirs) == "NOTIFIED"
    got = wh.q("SELECT reason_code, reason FROM feedback_rows WHERE status = 'REFUSED'")
    assert got == [("UNKNOWN_PERSON", "no ledger entry for this ID number at the row's office")]
    assert wh.stage(mine) == "NOTIFIED"  # (test_feedback: the same code and text as an ID number without entry)


def test_cli_office_binding(wh):
    a = wh.person()
    f = wh.write([row(a, "ARCHIVE_REVIEWED", D0, result="PASS")])
    code, out, err = run_cli(
        "feedback", "--office", "640105", f, "--warehouse", wh.path, "--out", Path(wh.path).parent / "out"
    )
    assert code == 0 and "WRONG_OFFICE 1" in out and wh.stage(a) == "NOTIFIED"
    code, out, err = run_cli(
        "feedback", "--office", "64010", f, "--warehouse", wh.path, "--out", Path(wh.path).parent / "out"
    )
    assert code == 2 and "not one of the responsible offices" in err
    code, out, err = run_cli(
        "feedback", "--office", "640104", f, "--warehouse", wh.path, "--out", Path(wh.path).parent / "out"
    )
    assert code == 0 and wh.stage(a) == "ARCHIVE_REVIEWED"


def test_feedback_inbox_one_folder_per_office(wh, monkeypatch):
    a, b = wh.person(), wh.person(office="640105")
    inbox = wh.tmp / "inbox"
    (inbox / "640104").mkdir(parents=True)
    # 640104's folder holds a file that also names 640105's person under 640105
    (inbox / "640104" / "fb.csv").write_bytes(
        wh.csv_bytes([row(a, "ARCHIVE_REVIEWED", D0, result="PASS"), row(b, "ARCHIVE_REVIEWED", D0, result="PASS")])
    )
    settled(inbox / "640104" / "fb.csv")  # uploaded a while ago (the inbox takes settled files)
    got = orchestration.apply_feedback_inbox(inbox, wh.path)
    assert got["files"] == 1 and any("WRONG_OFFICE 1" in line for line in got["report"])
    assert (wh.stage(a), wh.stage(b)) == ("ARCHIVE_REVIEWED", "NOTIFIED")
    assert (inbox / "640105").is_dir() and len([p for p in inbox.iterdir() if p.is_dir()]) == 29
    # a file in no office's folder is never applied, and fails the task naming it
    (inbox / "stray.csv").write_bytes(wh.csv_bytes([row(b, "ARCHIVE_REVIEWED", D0, result="PASS")]))
    settled(inbox / "stray.csv")
    with pytest.raises(Exception, match=r"in no office's folder, not applied \(stray.csv\)"):
        orchestration.apply_feedback_inbox(inbox, wh.path)
    assert wh.stage(b) == "NOTIFIED"


def test_inbox_files_named_csv_in_capitals_or_in_a_subfolder_are_never_skipped_silently(wh):
    """A Windows sender's ``FB.CSV`` is a CSV file: applied, not left unseen in the office folder;
    a file one folder down in an office folder is named by the failing task, as a stray file is."""
    a, b = wh.person(), wh.person()
    inbox = wh.tmp / "inbox"
    (inbox / "640104" / "2026-11").mkdir(parents=True)
    (inbox / "640104" / "FB.CSV").write_bytes(wh.csv_bytes([row(a, "ARCHIVE_REVIEWED", D0, result="PASS")]))
    settled(inbox / "640104" / "FB.CSV")
    got = orchestration.apply_feedback_inbox(inbox, wh.path)
    assert got["files"] == 1 and wh.stage(a) == "ARCHIVE_REVIEWED"
    (inbox / "640104" / ".~tmp~").mkdir()  # a transfer tool's work area (rsync): not sent yet, not named
    (inbox / "640104" / ".~tmp~" / "fb.csv").write_bytes(b"office_code,ev")
    assert orchestration.apply_feedback_inbox(inbox, wh.path)["files"] == 1
    (inbox / "640104" / "2026-11" / "fb.csv").write_bytes(wh.csv_bytes([row(b, "ARCHIVE_REVIEWED", D0, result="PASS")]))
    settled(inbox / "640104" / "2026-11" / "fb.csv")
    with pytest.raises(Exception, match=r"in no office's folder, not applied \(640104/2026-11/fb.csv\)"):
        orchestration.apply_feedback_inbox(inbox, wh.path)
    assert wh.stage(b) == "NOTIFIED"


def test_application_inbox_takes_a_file_named_csv_in_capitals(tmp_path):
    from pipelines.warehouse import connect
    from support.pushkit import make_id

    wh = tmp_path / "w.duckdb"
    with connect(wh):
        pass
    (tmp_path / "applications").mkdir()
    (tmp_path / "applications" / "APPS.CSV").write_text(
        "id_no,applicant_type,applied_on,channel,county_code\n"
        f"{make_id(birth='19650101', seq=1)},2,20261105,online,640104\n",
        encoding="utf-8",
    )
    got = orchestration.load_application_inbox(tmp_path, wh)
    assert got["files"] == 1 and got["accepted"] == 1


def test_a_forced_month_tried_again_after_a_failure_keeps_the_first_copy(pushed, tmp_path, monkeypatch):
    """The copy is the warehouse before the month was first forced: a forced run that failed half
    way (its screening, ledger and notices written) and is started again must not replace it with
    the half-run state, or the undo of docs/operations.md would keep the mistyped month's notices."""
    from pipelines import outputs

    wh = _copy(pushed, tmp_path)
    kept = tmp_path / "w.before-run-2027-12.duckdb"

    def broken(*a, **k):
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(outputs, "publish_month", broken)
        with pytest.raises(OSError):
            run_month("2027-12", wh, tmp_path / "out", validate=False, ahead_of_push=True)
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM notice_log").fetchall()[0][0] > 0  # the half run wrote
    rep = run_month("2027-12", wh, tmp_path / "out", validate=False, ahead_of_push=True)
    assert str(kept) in "\n".join(rep.lines())
    with duckdb.connect(str(kept), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM notice_log").fetchall()[0][0] == 0
        assert con.execute("SELECT count(*) FROM month_runs").fetchall()[0][0] == 0


def test_the_documented_undo_of_a_forced_month_holds_with_a_write_ahead_log_left(pushed, tmp_path):
    """docs/operations.md §3's undo, run as written: a forced run killed half way leaves
    ``warehouse.duckdb.wal``; DuckDB replays a WAL left beside the copy put back, which would bring
    the forced run's writes back into the state before it."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    wh = _copy(pushed, tmp_path)
    wh = wh.rename(tmp_path / "warehouse.duckdb")
    run_month("2027-12", wh, tmp_path / "out", validate=False, ahead_of_push=True)
    # a process killed after committing, before its checkpoint: the commit is only in the WAL
    subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import duckdb, os; c = duckdb.connect(%r); c.execute(\"PRAGMA wal_autocheckpoint = '1GB'\"); "
                "c.execute('CREATE TABLE forced_left_over AS SELECT 1 AS x'); os._exit(0)"
            )
            % str(wh),
        ],
        check=True,
    )
    assert Path(str(wh) + ".wal").exists()
    ops = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    block = re.search(r"To undo a forced month.*?```sh\n(.*?)```", ops, re.S).group(1)
    script = block.replace("build/out", str(tmp_path / "out")).replace("build/", f"{tmp_path}/")
    subprocess.run(["sh", "-ec", script], check=True)
    with duckdb.connect(str(wh), read_only=True) as con:
        assert (
            con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'forced_left_over'").fetchall()[0][0]
            == 0
        )
        assert con.execute("SELECT count(*) FROM month_runs").fetchall()[0][0] == 0
    assert not (tmp_path / "out" / "2027-12").exists()
