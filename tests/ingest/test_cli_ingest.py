"""`retire-prep ingest` on the command line: exit status, stdout report, one-line reason on stderr.

Each command is a subprocess, as production runs it: ≈ 5–6 CPU s for one that applies a batch (the
interpreter, Great Expectations' import ≈ 3.7 s, the validation, the analysts' file), ≈ 1 s for one
refused before validation. The three tests whose subject is a second command on a warehouse holding
the FULL (held and no-op, conflict, departures) start from a copy of what one such command left, made
once a module (:func:`full_applied`), not from a command of their own (eighteenth session).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import pipelines
from support.pushkit import population, write_batch

ROOT = Path(pipelines.__file__).resolve().parent.parent
EXE = ROOT / ".venv" / "bin" / "retire-prep"
ID_RE = re.compile(r"[0-9]{17}[0-9Xx]")
PROGRESS = re.compile(r"^retire-prep: ingesting \d+ batch folder\(s\) into ")


def run(tmp_path: Path, *args, module: bool = False, **env_extra) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pipelines.cli"] if module or not EXE.exists() else [str(EXE)]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **env_extra)
    return subprocess.run(
        cmd + ["ingest", *map(str, args), "--warehouse", str(tmp_path / "w.duckdb")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def reason_lines(stderr: str) -> list[str]:
    """stderr without the progress lines: what a refusal says."""
    return [line for line in stderr.splitlines() if not PROGRESS.match(line)]


def assert_clean(p: subprocess.CompletedProcess) -> None:
    for text in (p.stdout, p.stderr):
        assert "Traceback" not in text
        assert not ID_RE.search(text), "an ID number on the terminal"
        assert "测试" not in text, "a name on the terminal"


def versions(tmp_path: Path) -> int:
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM person_versions").fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def batches(tmp_path):
    ps, ss = population(40)
    good = write_batch(tmp_path / "full1", ps, ss, seq=1)
    incr = write_batch(
        tmp_path / "incr2", [dict(ps[0], op="U", phone="13700000002")], ss[:2], seq=2, push_type="INCR", base_seq=1
    )
    gap = write_batch(tmp_path / "incr4", [dict(ps[1], op="U")], ss[2:4], seq=4, push_type="INCR", base_seq=3)
    return ps, ss, good, incr, gap


@pytest.fixture(scope="module")
def full_applied(tmp_path_factory) -> Path:
    """A folder with what ``retire-prep ingest full1`` (the FULL of :func:`batches`, 40 persons) leaves
    in an empty one: the warehouse, its validation results, the analysts' file. Made once a module."""
    base = tmp_path_factory.mktemp("cli-full-applied")
    ps, ss = population(40)
    p = run(base, write_batch(base / "full1", ps, ss, seq=1))
    assert p.returncode == 0, p.stderr
    shutil.rmtree(base / "full1")
    return base


def with_full_applied(tmp_path: Path, base: Path) -> None:
    """``tmp_path`` as after ``run(tmp_path, good)`` exited 0 (the same files; ``push_batches.source``
    names the module's folder, which no test here reads)."""
    for item in base.iterdir():
        if item.is_dir():
            shutil.copytree(item, tmp_path / item.name)
        else:
            shutil.copy2(item, tmp_path / item.name)


def test_applied_batches_exit_0_with_the_report_on_stdout(tmp_path, batches):
    _, _, good, incr, _ = batches
    p = run(tmp_path, incr, good)  # out of order on the command line
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert out[0].startswith("applied NX-2026-11-0001 (seq 1, FULL): persons 40/40 accepted")
    assert out[1].startswith("applied NX-2026-11-0002 (seq 2, INCR)")
    assert reason_lines(p.stderr) == []
    assert_clean(p)
    assert versions(tmp_path) == 41


def test_refused_batch_exits_2_with_one_line_on_stderr(tmp_path, batches):
    _, _, good, _, _ = batches
    (good / "persons.csv").write_bytes((good / "persons.csv").read_bytes() + b"\n")
    p = run(tmp_path, good)
    assert p.returncode == 2
    assert reason_lines(p.stderr) == [
        "retire-prep: refused: batch NX-2026-11-0001, file persons.csv: "
        "sha256 of the file's bytes does not match the manifest"
    ]
    assert "REFUSED batch NX-2026-11-0001" in p.stdout
    assert_clean(p)
    assert versions(tmp_path) == 0


def test_missing_folder_exits_2_with_one_line(tmp_path):
    p = run(tmp_path, tmp_path / "no-such-batch", module=True)
    assert p.returncode == 2
    (line,) = reason_lines(p.stderr)
    assert line.startswith("retire-prep: refused: batch no-such-batch, file manifest.json:")
    assert_clean(p)


def test_one_refused_among_good_ones_still_applies_the_others_and_exits_2(tmp_path, batches):
    ps, ss, good, incr, _ = batches
    bad = write_batch(
        tmp_path / "bad3",
        [dict(ps[2], op="U")],
        ss[4:6],
        seq=3,
        push_type="INCR",
        base_seq=2,
        rows_override={"segments": 5},
    )
    p = run(tmp_path, good, incr, bad)
    assert p.returncode == 2
    (line,) = reason_lines(p.stderr)
    assert "batch NX-2026-11-0003, file segments.csv" in line and "manifest says 5" in line
    assert [ln.split()[0] for ln in p.stdout.splitlines()] == ["applied", "applied", "REFUSED"]
    assert_clean(p)
    assert versions(tmp_path) == 41


def test_bad_rows_over_the_share_refuse_without_personal_data(tmp_path):
    ps, ss = population(40)
    for i in range(0, 40, 5):
        ps[i]["birth_date"] = "19650230"
    p = run(tmp_path, write_batch(tmp_path / "b1", ps, ss, seq=1))
    assert p.returncode == 2
    (line,) = reason_lines(p.stderr)
    assert "row 1" in line and "BAD_BIRTH_DATE" in line and "24 of 120" in line
    assert_clean(p)


def test_held_and_noop_are_not_refusals(tmp_path, batches, full_applied):
    _, _, good, _, gap = batches
    with_full_applied(tmp_path, full_applied)
    p = run(tmp_path, good, gap)
    assert p.returncode == 0, p.stderr
    assert "already applied, nothing to do: NX-2026-11-0001" in p.stdout
    assert "held back NX-2026-11-0004 (seq 4): waiting for seq 2..3" in p.stdout
    assert not any("refused" in line for line in p.stderr.splitlines())
    assert_clean(p)


def test_conflict_exits_2_and_says_so(tmp_path, batches, full_applied):
    ps, ss, _, _, _ = batches
    with_full_applied(tmp_path, full_applied)
    other = write_batch(tmp_path / "other", ps[:39], ss[:78], seq=1)  # same batch_id, other content
    p = run(tmp_path, other)
    assert p.returncode == 2
    (line,) = reason_lines(p.stderr)
    assert line.startswith("retire-prep: refused: batch NX-2026-11-0001: CONFLICT")
    assert_clean(p)


def test_a_full_most_of_the_push_leaves_with_is_refused_until_accepted_by_name(tmp_path, full_applied):
    """decisions.md "A FULL that empties the push": exit 2 with one line naming the option; the same
    folder with ``--accept-departures BATCH_ID`` applies (everyone kept as versions). The first FULL
    came in with the default settings: ``full_departure_min_persons`` is read only when persons were in
    the push before (ingest/apply.py), and the schema's stamp does not depend on it."""
    with_full_applied(tmp_path, full_applied)
    text = (ROOT / "data" / "settings.toml").read_text(encoding="utf-8")
    settings = tmp_path / "settings.toml"
    settings.write_text(re.sub(r"(?m)^full_departure_min_persons\s*=.*$", "full_departure_min_persons = 5", text))
    env = {"RETIRE_PREP_SETTINGS": str(settings)}
    empty = write_batch(tmp_path / "full3", [], [], seq=3)
    p = run(tmp_path, empty, **env)
    assert p.returncode == 2
    (line,) = reason_lines(p.stderr)
    assert "DEPARTURES: this FULL would mark 40 of the 40 persons" in line
    assert "--accept-departures NX-2026-11-0003" in line
    assert_clean(p)
    assert versions(tmp_path) == 40
    p = run(tmp_path, empty, "--accept-departures", "NX-2026-11-0003", **env)
    assert p.returncode == 0, p.stderr
    assert versions(tmp_path) == 80
