"""Faults of the machine and of its set-up (issue 14 items 6 and 8): each gives exit 2 and one
line with the cause and the fix, and loses nothing — once the cause is gone, the same command
succeeds and the outputs equal a clean run's.

* settings: ``RETIRE_PREP_SETTINGS`` naming a missing file, a malformed TOML file, a value of the
  wrong type (no mount needed);
* a full disk under the warehouse whose error a ROLLBACK used to hide (a fault switch: the COMMIT
  of a stage fails as DuckDB's does when the WAL cannot be written);
* real full and read-only disks: a small tmpfs mounted for the test (root only; the tests skip
  with the reason when the mount is refused), under the warehouse and under ``OUT``.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import warnings
from pathlib import Path

import duckdb
import pytest

from support.pushkit import run_cli
from support.state import analysts_problems, file_diff, file_state, table_state
from support.state_digest import table_digest, tables_diff
from support.publish import first_batch, no_validation

MONTH = "2026-11"


@pytest.fixture(autouse=True)
def _own_logging(monkeypatch):
    """No handler left by another module's CLI call (logging.basicConfig on a stream since
    replaced) may print into the one line these tests read."""
    import logging

    monkeypatch.setattr(logging.getLogger(), "handlers", [])


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# ------------------------------------------------------------------------------------------ settings


@pytest.fixture
def sample_warehouse(tmp_path, monkeypatch, reference):
    """The warehouse after the ingest (:func:`reference`'s, made once a module), a copy in the test's
    own folder, with the files beside it (its analysts' file and that file's stamp)."""
    no_validation(monkeypatch)
    for f in reference["pre"].iterdir():
        shutil.copy2(f, tmp_path / f.name)
    return tmp_path / "w.duckdb"


def test_settings_path_that_does_not_exist_is_refused(tmp_path, monkeypatch, sample_warehouse):
    """It used to run on the defaults: a woman's statutory age silently changed."""
    missing = tmp_path / "my-setings.toml"
    monkeypatch.setenv("RETIRE_PREP_SETTINGS", str(missing))
    before = sample_warehouse.read_bytes()
    code, out, err = run_cli("run", "--month", MONTH, "--warehouse", sample_warehouse, "--out", tmp_path / "out")
    line = one_line(err)
    assert code == 2 and out == ""
    assert "RETIRE_PREP_SETTINGS" in line and str(missing) in line and "does not exist" in line
    assert "unset it" in line, "the fix is named"
    assert sample_warehouse.read_bytes() == before and not (tmp_path / "out").exists()
    code, out, err = run_cli("policy", "--gender", "2", "--birth", "1975-03")
    assert code == 2 and "RETIRE_PREP_SETTINGS" in one_line(err)


@pytest.mark.parametrize(
    "text, where",
    [
        ("application_horizon = 24\nscreening_horizon 24\n", "line 2, column"),
        ("[stage_days\nENROLLED = 10\n", "line 1, column"),
        ('sms_signature = "【宁夏人社】\n', "line 1, column"),
    ],
)
def test_malformed_settings_file_names_line_and_column(tmp_path, monkeypatch, text, where):
    f = tmp_path / "settings.toml"
    f.write_text(text, encoding="utf-8")
    monkeypatch.setenv("RETIRE_PREP_SETTINGS", str(f))
    code, _, err = run_cli("policy", "--gender", "2", "--birth", "1975-03")
    line = one_line(err)
    assert code == 2, err
    assert "internal error" not in line and str(f) in line and "not valid TOML" in line and where in line


@pytest.mark.parametrize(
    "text, reason",
    [
        ('application_horizon = "24"\n', "application_horizon must be an integer"),
        ("bad_row_share = true\n", "bad_row_share must be a number"),
        ('[stage_days]\nENROLLED = "ten"\n', "stage_days must be a table of integers"),
        (b"sms_signature = '\xd6\xd0'\n", "not UTF-8"),
        ('timezone = "UTC"\n', "timezone 'UTC' is not supported"),
    ],
)
def test_settings_value_of_the_wrong_type_is_refused(tmp_path, monkeypatch, text, reason):
    f = tmp_path / "settings.toml"
    f.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    monkeypatch.setenv("RETIRE_PREP_SETTINGS", str(f))
    code, _, err = run_cli("policy", "--gender", "2", "--birth", "1975-03")
    assert code == 2 and reason in one_line(err), err


@pytest.mark.parametrize(
    "text, reason",
    [
        # a share written as a percentage: every batch, however bad, would have been accepted
        ("bad_row_share = 5\n", "bad_row_share = 5 is not allowed: it must be a share from 0 to 1 (0.05 is 5 %)"),
        ("full_departure_max_share = 50\n", "full_departure_max_share = 50 is not allowed"),
        # a statutory age without a delay table: every flexible-employment woman's month wrong
        ("flexible_women_original_age = 45\n", "flexible_women_original_age = 45 is not allowed: it must be 50 or 55"),
        ("overdue_every_months = 0\n", "overdue_every_months = 0 is not allowed"),
        ("objection_working_days = -15\n", "objection_working_days = -15 is not allowed"),
        ("forecast_horizon = 0\n", "forecast_horizon = 0 is not allowed"),
        ("scope_window = -1\n", "scope_window = -1 is not allowed"),
        ('ningdong_code = "64090"\n', "ningdong_code = '64090' is not allowed: it must be six digits"),
        ('sms_signature = " "\n', "sms_signature = ' ' is not allowed"),
        # DuckDB reads "-1GB" as no limit at all, and "1" is refused only when a connection opens
        ('duckdb_memory_limit = "-1GB"\n', "duckdb_memory_limit = '-1GB' is not allowed"),
        ('duckdb_memory_limit = "1"\n', "duckdb_memory_limit = '1' is not allowed"),
        # read by DuckDB, but every query then fails out of memory
        (
            'duckdb_memory_limit = "0GB"\n',
            "duckdb_memory_limit = '0GB' is not allowed: it must be a size of at least 64MB",
        ),
        ('duckdb_memory_limit = "0%"\n', "duckdb_memory_limit = '0%' is not allowed"),
        ('duckdb_memory_limit = "100B"\n', "duckdb_memory_limit = '100B' is not allowed"),
        ("duckdb_threads = -1\n", "duckdb_threads = -1 is not allowed"),
        ("feedback_settle_seconds = -5\n", "feedback_settle_seconds = -5 is not allowed"),
        ("validation_max_rows = -1\n", "validation_max_rows = -1 is not allowed"),
        # a stage misspelt: its deadline silently the default
        ("[stage_days]\nENROLED = 5\n", "[stage_days] has no stage ENROLED: the stages are ENROLLED, NOTIFIED"),
        ("[stage_days]\nNOTIFIED = 0\n", "[stage_days] NOTIFIED must be from 1 to 365 days"),
    ],
)
def test_settings_value_outside_what_it_may_be_is_refused(tmp_path, monkeypatch, sample_warehouse, text, reason):
    """A clumsy edit of the division's settings file is refused before anything runs, in one line
    naming the key and what it may be; the warehouse is untouched and no file is written."""
    f = tmp_path / "settings.toml"
    f.write_text(text, encoding="utf-8")
    monkeypatch.setenv("RETIRE_PREP_SETTINGS", str(f))
    before = sample_warehouse.read_bytes()
    code, out, err = run_cli("run", "--month", MONTH, "--warehouse", sample_warehouse, "--out", tmp_path / "out")
    line = one_line(err)
    assert code == 2 and out == "" and reason in line and str(f) in line and "correct the file" in line, err
    assert sample_warehouse.read_bytes() == before and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "text",
    [
        'duckdb_memory_limit = "512 MB"\n',
        'duckdb_memory_limit = "2GiB"\n',
        'duckdb_memory_limit = "50%"\n',
        'duckdb_memory_limit = "64MB"\n',
        'duckdb_memory_limit = "0.5 TB"\n',
        'duckdb_memory_limit = ""\n',
        "bad_row_share = 0\nfull_departure_max_share = 1\nfeedback_settle_seconds = 0\nvalidation_max_rows = 0\n",
        "flexible_women_original_age = 50\nbenefit_start_offset = 0\n[stage_days]\nENROLLED = 365\n",
    ],
)
def test_settings_at_the_edges_of_what_they_may_be_load(tmp_path, monkeypatch, text):
    from pipelines.settings import load_settings

    f = tmp_path / "settings.toml"
    f.write_text(text, encoding="utf-8")
    assert load_settings(f) is not None


def test_settings_folder_instead_of_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("RETIRE_PREP_SETTINGS", str(tmp_path))
    code, _, err = run_cli("policy", "--gender", "2", "--birth", "1975-03")
    assert code == 2 and "is a folder" in one_line(err)


# ------------------------------------------------------------------------------------------ scenario


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A warehouse after the ingest, and the warehouse and OUT after a clean run of 2026-11."""
    mp = pytest.MonkeyPatch()
    no_validation(mp)
    base = tmp_path_factory.mktemp("envfaults")
    b1 = first_batch(base / "b1", MONTH)
    (base / "pre").mkdir()
    code, _, err = run_cli("ingest", b1, "--warehouse", base / "pre" / "w.duckdb")
    assert code == 0, err
    shutil.copytree(base / "pre", base / "post")
    code, _, err = run_cli(
        "run", "--month", MONTH, "--warehouse", base / "post" / "w.duckdb", "--out", base / "post" / "out"
    )
    assert code == 0, err
    yield {
        "pre": base / "pre",
        "tables": table_state(base / "post" / "w.duckdb"),
        "digest": table_digest(base / "post" / "w.duckdb"),
        "files": file_state(base / "post" / "out"),
    }
    mp.undo()


def _same_as_clean_run(ref, wh: Path, out: Path, *, rerun_after_commit: bool = False) -> None:
    """``rerun_after_commit``: the run failed after its work was committed (in the analysts'
    rebuild) and was run again: month_runs may hold that rerun's one extra DONE row."""
    assert file_diff(ref["files"], file_state(out)) == []
    assert tables_diff(ref["tables"], ref["digest"], wh, rerun_after_commit=rerun_after_commit) == []
    assert not (out / MONTH / "PUBLISHING.txt").exists()
    assert analysts_problems(wh) == []


def _run(wh: Path, out: Path):
    return run_cli("run", "--month", MONTH, "--warehouse", wh, "--out", out)


# ------------------------------------------------------------------------------------------ fault switch


class _FailingCommit:
    """The warehouse connection, whose n-th COMMIT fails as DuckDB's does on a full disk: the
    transaction is gone (rolled back) and the error names the WAL file."""

    def __init__(self, con, state):
        self._con, self._state = con, state

    def execute(self, query, *a, **kw):
        if isinstance(query, str) and query.strip().upper() == "COMMIT":
            self._state["commits"] += 1
            if self._state["commits"] == self._state["fail_at"]:
                self._con.execute("ROLLBACK")
                raise duckdb.TransactionException(
                    f'TransactionContext Error: Failed to commit: Could not write file "{self._state["wal"]}": '
                    "No space left on device"
                )
        return self._con.execute(query, *a, **kw)

    def __getattr__(self, name):
        return getattr(self._con, name)


@pytest.mark.parametrize("fail_at", [1, 2, 3])  # the screen, ledger and notices transactions
def test_failed_commit_on_a_full_disk_is_not_hidden_by_the_rollback(reference, tmp_path, monkeypatch, fail_at):
    """The ROLLBACK after the failed COMMIT raised "no transaction is active" over the cause: the
    one line said "internal error (TransactionException)"."""
    no_validation(monkeypatch)
    shutil.copytree(reference["pre"], tmp_path / "ws")
    wh, out = tmp_path / "ws" / "w.duckdb", tmp_path / "ws" / "out"
    state = {"commits": 0, "fail_at": fail_at, "wal": f"{wh}.wal"}
    real = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *a, **kw: _FailingCommit(real(*a, **kw), state))
    code, _, err = _run(wh, out)
    line = one_line(err)
    assert code == 2, line
    assert "internal error" not in line and "no space left on the disk of" in line and f"{wh}.wal" in line
    assert "free space there, then run the same command again" in line
    monkeypatch.setattr(duckdb, "connect", real)  # space freed
    code, _, err = _run(wh, out)
    assert code == 0, err
    _same_as_clean_run(reference, wh, out)


def test_output_write_error_without_a_file_name_names_the_file(reference, tmp_path, monkeypatch):
    """pyarrow's writers raise OSError(28) without a file name: the line said only "OSError"."""
    import errno

    import pyarrow.csv

    no_validation(monkeypatch)
    shutil.copytree(reference["pre"], tmp_path / "ws")
    wh, out = tmp_path / "ws" / "w.duckdb", tmp_path / "ws" / "out"
    real = pyarrow.csv.CSVWriter

    class Full:
        def __init__(self, *a, **kw):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pyarrow.csv, "CSVWriter", Full)
    code, _, err = _run(wh, out)
    line = one_line(err)
    assert code == 2 and "no space left on the disk of" in line and str(out) in line, line
    assert not (out / f".{MONTH}.partial").exists(), "the staging folder gives its space back"
    monkeypatch.setattr(pyarrow.csv, "CSVWriter", real)
    code, _, err = _run(wh, out)
    assert code == 0, err
    _same_as_clean_run(reference, wh, out)


# ------------------------------------------------------------------------------------------ real disks


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    path.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True
    )
    if p.returncode != 0:
        reason = (
            f"cannot mount a tmpfs at {path} ({(p.stderr or '').strip() or p.returncode}): the real "
            "full-disk and read-only tests need root (CAP_SYS_ADMIN); the fault-switch tests cover the "
            "messages"
        )
        warnings.warn(reason, stacklevel=2)
        pytest.skip(reason)
    try:
        yield path
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(path)], capture_output=True)
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` up to ``leave`` bytes free; returns the filler (delete it to free the space)."""
    filler = disk / "filler"
    st = shutil.disk_usage(disk)
    with open(filler, "wb") as fh:
        remaining = max(0, st.free - leave)
        chunk = b"\0" * (1 << 20)
        while remaining > 0:
            n = fh.write(chunk[: min(len(chunk), remaining)])
            remaining -= n
    return filler


def test_full_disk_under_the_warehouse(reference, tmp_path, monkeypatch):
    """The disk of the warehouse filled up to 0, 16, 32 … KB free until the run fits: every run that
    does not fit fails at another moment (the schema's set-up, a stage's COMMIT …) and each says
    why in one line; once the space is freed, the same command gives the clean run's warehouse and
    files."""
    no_validation(monkeypatch)
    failures = []
    with tmpfs(tmp_path / "disk", "48m") as disk:
        for leave_kb in range(0, 257, 16):
            wh, out = disk / "w.duckdb", tmp_path / f"out-{leave_kb}"
            for f in disk.iterdir():
                f.unlink()
            shutil.copy(reference["pre"] / "w.duckdb", wh)
            filler = _fill(disk, leave_kb * 1024)
            code, _, err = _run(wh, out)
            filler.unlink()
            if code == 0:
                _same_as_clean_run(reference, wh, out)
                break
            line = one_line(err)
            assert code == 2, line
            assert "no space left on the disk of" in line and str(disk) in line, (leave_kb, line)
            failures.append(leave_kb)
            # the run's work committed and published, only the analysts' rebuild (after it) failed
            after_commit = (
                tables_diff(reference["tables"], reference["digest"], wh) == []
                and file_diff(reference["files"], file_state(out)) == []
            )
            # a failed rebuild of the analysts' file leaves no temp file (it would hold the space)
            assert not list(disk.glob(".*.new*")), (leave_kb, sorted(p.name for p in disk.glob(".*.new*")))
            code, _, err = _run(wh, out)  # space freed: the same command, nothing lost
            assert code == 0, (leave_kb, err)
            _same_as_clean_run(reference, wh, out, rerun_after_commit=after_commit)
    assert len(failures) >= 2, f"the run failed only with {failures} KB free: the sizes tried show little"
    print(f"disk full under the warehouse: failed with {failures} KB free, then recovered")


def test_full_disk_under_the_outputs(reference, tmp_path, monkeypatch):
    no_validation(monkeypatch)
    shutil.copytree(reference["pre"], tmp_path / "ws")
    wh = tmp_path / "ws" / "w.duckdb"
    with tmpfs(tmp_path / "disk", "4m") as disk:
        out = disk / "out"
        filler = _fill(disk, 24 * 1024)
        code, _, err = _run(wh, out)
        line = one_line(err)
        assert code == 2, line
        assert "no space left on the disk of" in line and str(out) in line and "internal error" not in line, line
        assert not (out / MONTH / "worklists").exists(), "nothing half published"
        filler.unlink()
        code, _, err = _run(wh, out)
        assert code == 0, err
        _same_as_clean_run(reference, wh, out)


def test_read_only_warehouse(reference, tmp_path, monkeypatch):
    no_validation(monkeypatch)
    with tmpfs(tmp_path / "disk", "48m") as disk:
        shutil.copy(reference["pre"] / "w.duckdb", disk / "w.duckdb")
        wh, out = disk / "w.duckdb", tmp_path / "out"
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        code, _, err = _run(wh, out)
        line = one_line(err)
        assert code == 2, line
        assert "read-only file system" in line and str(wh) in line and "is it a DuckDB file" not in line, line
        assert "remount the disk read-write" in line
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        code, _, err = _run(wh, out)
        assert code == 0, err
        _same_as_clean_run(reference, wh, out)


def test_read_only_outputs(reference, tmp_path, monkeypatch):
    no_validation(monkeypatch)
    shutil.copytree(reference["pre"], tmp_path / "ws")
    wh = tmp_path / "ws" / "w.duckdb"
    with tmpfs(tmp_path / "disk", "4m") as disk:
        out = disk / "out"
        out.mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        code, _, err = _run(wh, out)
        line = one_line(err)
        assert code == 2 and "read-only file system" in line and str(out) in line, line
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        code, _, err = _run(wh, out)
        assert code == 0, err
        _same_as_clean_run(reference, wh, out)


def test_warehouse_without_write_permission_is_named(reference, tmp_path, monkeypatch):
    """(As root the permission bits do not bind: DuckDB's error is switched in.)  It said "cannot
    be opened (is it a DuckDB file?)"."""
    no_validation(monkeypatch)
    shutil.copytree(reference["pre"], tmp_path / "ws")
    wh, out = tmp_path / "ws" / "w.duckdb", tmp_path / "ws" / "out"

    def denied(database=":memory:", *a, **kw):
        raise duckdb.IOException(f'IO Error: Cannot open file "{database}": Permission denied')

    monkeypatch.setattr(duckdb, "connect", denied)
    code, _, err = _run(wh, out)
    line = one_line(err)
    assert code == 2 and f"the warehouse {wh} cannot be opened (permission denied)" in line, line
    assert "is it a DuckDB file" not in line


def test_every_setting_says_what_it_may_be():
    """A new setting gets its allowed values (pipelines/settings.py _ALLOWED) or is named here with why not."""
    from dataclasses import fields

    from pipelines.settings import _ALLOWED, Settings

    free = {
        "stage_days": "checked on its own: known stages, 1 to 365 days",
        "person_key_secret": "any text (production reads it from the environment)",
        "timezone": "Asia/Shanghai only, checked on its own",
        "duckdb_temp_directory": "any folder",
        "worklist_workbooks": "a boolean",
        "analysts_file": "a boolean",
    }
    assert {f.name for f in fields(Settings)} - set(free) == set(_ALLOWED)
