"""A rerun of a published month by the DAG's tasks, in the order of dags/pre_service_monthly.py
(forecast after the worklists, offices in groups), publishes the bytes of the command line's rerun:
the forecast files and the report included (issue 18, issue 20); a replay by the DAG's tasks is the
command line's replay (issue 15: both loop over pipelines.stages.STAGES)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pipelines import orchestration as o
from pipelines.cli import main
from support.pushkit import person, write_batch
from support.publish import OFFICES, first_batch, no_validation, persons, segments
from support.state import file_diff, file_state, table_diff, table_state

MONTH = "2026-11"


def _cli(ws: Path, *argv) -> int:
    return main([str(a).replace("{W}", str(ws / "w.duckdb")).replace("{OUT}", str(ws / "out")) for a in argv])


def _dag_rerun(ws: Path, month: str, replay: bool = False) -> None:
    """The DAG's tasks after month_due, as dags/pre_service_monthly.py chains them."""
    env = {"RETIRE_PREP_WAREHOUSE": str(ws / "w.duckdb"), "RETIRE_PREP_OUT": str(ws / "out")}
    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        mp.setenv(k, v)
    try:
        from pipelines.stages import READERS, WRITERS

        o.stage("begin", month, replay=replay, ahead_of_push=False)
        for st in WRITERS:
            groups = o.writer_stage(st.name, month)  # the last one: the office groups
        for st in READERS:
            for g in groups if st.per_office else [None]:
                o.stage(st.name, month, **({"offices": g} if g else {}))
        o.stage("finish", month)
    finally:
        mp.undo()


def test_dag_rerun_publishes_the_command_lines_forecast_and_report(tmp_path, monkeypatch):
    no_validation(monkeypatch)
    ps = persons()
    b1 = write_batch(tmp_path / "inbox" / "b1", ps, segments(ps), seq=1, month=MONTH)
    # a correction push of the month: what the forecast of a rerun must see
    changed = [
        dict(ps[1], op="U", insured_region="640104", hukou_region="640104"),
        dict(ps[4], op="U", survival_status="2"),
        dict(
            person(20, birth_date="19670315", insured_region="640105", hukou_region="640105", phone="13900000020"),
            op="I",
        ),
    ]
    b2 = write_batch(
        tmp_path / "inbox" / "b2", changed, segments(changed), seq=2, push_type="INCR", base_seq=1, month=MONTH
    )
    ws = tmp_path / "ws"
    (ws / "out").mkdir(parents=True)
    run = ("run", "--month", MONTH, "--warehouse", "{W}", "--out", "{OUT}")
    assert _cli(ws, "ingest", b1, "--warehouse", "{W}") == 0
    assert _cli(ws, *run) == 0
    first = file_state(ws / "out")
    assert _cli(ws, "ingest", b2, "--warehouse", "{W}") == 0
    dag_ws = tmp_path / "dag-ws"
    shutil.copytree(ws, dag_ws, symlinks=True)

    assert _cli(ws, *run) == 0
    _dag_rerun(dag_ws, MONTH)
    cli_files, dag_files = file_state(ws / "out"), file_state(dag_ws / "out")
    assert f"{MONTH}/forecast/forecast.csv" in cli_files
    assert first[f"{MONTH}/forecast/forecast.csv"] != cli_files[f"{MONTH}/forecast/forecast.csv"]  # recomputed
    assert file_diff(cli_files, dag_files) == []
    assert sorted({k.split("/")[2] for k in dag_files if k.startswith(f"{MONTH}/worklists/")}) == list(OFFICES)
    assert os.path.exists(dag_ws / "out" / MONTH) and not (dag_ws / "out" / MONTH / "PUBLISHING.txt").exists()


def test_dag_replay_writes_nothing_and_publishes_the_command_lines_replay(tmp_path, monkeypatch):
    """November and December run; November replayed by the DAG's tasks: no stage writes the
    warehouse (it screened, updated the ledger and raised notices for November again, after
    December), and OUT/2026-11 is the command line's replay, byte for byte."""
    no_validation(monkeypatch)
    b1 = first_batch(tmp_path / "inbox" / "b1", MONTH)
    b2 = write_batch(tmp_path / "inbox" / "b2", [], [], seq=2, push_type="INCR", base_seq=1, month="2026-12")
    ws = tmp_path / "ws"
    (ws / "out").mkdir(parents=True)
    for argv in (("ingest", b1), ("run", "--month", MONTH), ("ingest", b2), ("run", "--month", "2026-12")):
        assert _cli(ws, *argv, "--warehouse", "{W}", *(("--out", "{OUT}") if argv[0] == "run" else ())) == 0
    dag_ws = tmp_path / "dag-ws"
    shutil.copytree(ws, dag_ws, symlinks=True)
    before = table_state(dag_ws / "w.duckdb")
    assert _cli(ws, "run", "--month", MONTH, "--replay", "--warehouse", "{W}", "--out", "{OUT}") == 0
    _dag_rerun(dag_ws, MONTH, replay=True)
    assert file_diff(file_state(ws / "out"), file_state(dag_ws / "out")) == []
    after = table_state(dag_ws / "w.duckdb")
    assert len(after["month_runs"][1]) == len(before["month_runs"][1]) + 1  # the replay's record
    before.pop("month_runs"), after.pop("month_runs")
    assert table_diff(before, after) == []
