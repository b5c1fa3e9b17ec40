"""The command line's refusal contract (outputs.md): non-zero exit and exactly one line on stderr,
never an ID number, a name or a phone, and nothing created or changed by a refused command."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from pipelines.cli import main
from pipelines.settings import load_settings
from pipelines.warehouse import connect
from support.pushkit import make_id

ID_RE = re.compile(r"[0-9]{17}[0-9Xx]")


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main(list(map(str, args)))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("retire-prep: ") and "Traceback" not in err
    assert not ID_RE.search(err)
    return err


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--month", "2026-13"],
        ["run", "--month", "202611"],
        ["declare", "--month", "2026-x"],
        ["explain", "640104196601150011", "--month", "2026-1"],
        ["policy", "--gender", "3", "--birth", "1965-01"],
        ["policy", "--gender", "1", "--birth", "9999-12"],
        ["policy", "--gender", "1"],
        ["bogus"],
    ],
)
def test_argument_errors_are_one_line_exit_2(capsys, args):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    one_line(err)
    assert out == ""


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--month", "2026-11"],
        ["declare", "--month", "2026-11"],
        ["feedback", "f.csv"],
        ["applications", "a.csv"],
        ["explain", "640104196601150011", "--month", "2026-11"],
    ],
)
def test_a_mistyped_warehouse_is_refused_and_not_created(tmp_path, capsys, command):
    wh = tmp_path / "typo.duckdb"
    code, _, err = cli(capsys, *command, "--warehouse", wh)
    assert code != 0 and "no warehouse at" in one_line(err)
    assert not wh.exists()


def test_a_file_that_is_not_a_warehouse(tmp_path, capsys):
    wh = tmp_path / "w.duckdb"
    wh.write_text("not a database\n")
    code, _, err = cli(capsys, "run", "--month", "2026-11", "--warehouse", wh, "--out", tmp_path / "o")
    assert code == 2 and "cannot be opened" in one_line(err)
    assert wh.read_text() == "not a database\n"


def test_a_missing_applications_file(tmp_path, capsys):
    wh = tmp_path / "w.duckdb"
    with connect(wh, settings=load_settings()):
        pass
    code, _, err = cli(capsys, "applications", tmp_path / "nope.csv", "--warehouse", wh)
    assert code == 2 and "nope.csv" in one_line(err)


def test_demo_out_in_the_way(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    code, _, err = cli(capsys, "demo", "--out", f)
    assert code == 2
    one_line(err)


def test_a_warehouse_held_by_another_process(tmp_path, capsys):
    wh = tmp_path / "w.duckdb"
    with connect(wh, settings=load_settings()):
        pass
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); time.sleep(60)",
            str(wh),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        code, _, err = cli(capsys, "run", "--month", "2026-11", "--warehouse", wh, "--out", tmp_path / "o")
        assert code == 2 and "in use by another process" in one_line(err)
    finally:
        holder.kill()
        holder.wait()


def test_feedback_file_without_its_header_never_echoes_the_row(tmp_path, capsys):
    """A county file saved without its header line: the first data row must not be shown."""
    wh = tmp_path / "w.duckdb"
    with connect(wh, settings=load_settings()):
        pass
    id_no = make_id(prefix="640104", birth="19661115", seq=7, gender=1)
    f = tmp_path / "noheader.csv"
    f.write_text(f"640104,ARCHIVE_REVIEWED,{id_no},2026-11-02\n640104,RETIRED,{id_no},2026-11-03\n", encoding="utf-8")
    code, out, err = cli(capsys, "feedback", f, "--warehouse", wh, "--out", tmp_path / "out")
    assert code != 0
    assert "header line missing" in one_line(err)
    assert id_no not in out + err
    import duckdb

    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert id_no not in " ".join(str(r) for r in con.execute("SELECT * FROM feedback_files").fetchall())
    finally:
        con.close()
