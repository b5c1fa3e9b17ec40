"""The Airflow DAGs of ``dags/`` (docs/operations.md).

* the month of a run (``pipelines.orchestration.month_of_run``): pure unit tests;
* every DAG file parses through a DagBag with no import error and no warning, and
  carries tags, retries, doc_md, a timezone-aware schedule, the warehouse pool;
* ``dag.test()`` of the three DAGs on the shipped sample, checked against the CLI.

Everything that imports Airflow runs in a subprocess with its own AIRFLOW_HOME
(a temporary SQLite metadata database, migrated once per session), so no Airflow
configuration leaks into the other tests and nothing is written under ~/airflow.
The DAG runs share one subprocess (one Airflow start-up); they take about a
minute on two cores and are marked ``airflow`` and ``slow``
(``pytest -m "not airflow"`` leaves them out).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipelines import PROJECT_ROOT
from pipelines import orchestration as o
from pipelines.orchestration import month_from_context, month_of_run

DAGS = PROJECT_ROOT / "dags"
SAMPLE = PROJECT_ROOT / "data" / "sample"
AIRFLOW = Path(sys.executable).with_name("airflow")
DAG_IDS = ("pre_service_monthly", "declaration_month_start", "feedback_intake")
SHANGHAI = timezone(timedelta(hours=8))
HEAVY = ("pipelines", "duckdb", "great_expectations", "pandas", "pyarrow")
STEP_TIMEOUT = 600


# ------------------------------------------------------------------ month of a run (pure)


def test_cron_run_on_the_16th_is_that_month():
    run = datetime(2026, 12, 16, 2, 0, tzinfo=SHANGHAI)
    assert month_of_run(None, run, run) == "2026-12"
    # the same instant as Airflow stores it (UTC, still the 15th there)
    utc = run.astimezone(timezone.utc)
    assert (utc.day, month_of_run(None, utc, utc)) == (15, "2026-12")


def test_utc_instant_already_the_next_day_in_shanghai():
    # 2026-11-30 22:00 UTC is 2026-12-01 06:00 in Shanghai: the declaration run of December
    utc = datetime(2026, 11, 30, 22, 0, tzinfo=timezone.utc)
    assert month_of_run(None, utc, utc) == "2026-12"
    assert month_of_run(None, utc.replace(tzinfo=None), None) == "2026-12"  # naive = UTC
    assert month_of_run(None, datetime(2026, 12, 31, 16, 0, tzinfo=timezone.utc), None) == "2027-01"
    assert month_of_run(None, datetime(2026, 11, 30, 15, 59, tzinfo=timezone.utc), None) == "2026-11"


def test_month_param_overrides_the_run_date():
    run = datetime(2026, 12, 16, 2, 0, tzinfo=SHANGHAI)
    assert month_of_run("2026-11", run, run) == "2026-11"
    assert month_of_run(" 2026-11 ", None, None) == "2026-11"
    assert month_of_run("", run, run) == "2026-12"  # an empty param is no param
    for bad in ("2026-13", "2026-1", "202611", "2026-11-01", "Nov"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            month_of_run(bad, run, run)


def test_manual_or_asset_run_without_logical_date_uses_run_after():
    after = datetime(2026, 11, 30, 17, 0, tzinfo=timezone.utc)  # 2026-12-01 01:00 in Shanghai
    assert month_of_run(None, None, after) == "2026-12"
    with pytest.raises(ValueError, match="neither"):
        month_of_run(None, None, None)


def test_month_from_an_airflow_context():
    after = datetime(2026, 12, 16, 2, 0, tzinfo=SHANGHAI)
    manual = {"params": {"month": "2026-11", "replay": True},
              "dag_run": SimpleNamespace(logical_date=None, run_after=after)}
    assert month_from_context(manual) == "2026-11"
    asset = {"params": {"month": None}, "dag_run": SimpleNamespace(logical_date=None, run_after=after)}
    assert month_from_context(asset) == "2026-12"
    scheduled = {"params": {}, "logical_date": after,
                 "dag_run": SimpleNamespace(logical_date=after, run_after=after + timedelta(days=20))}
    assert month_from_context(scheduled) == "2026-12"


def test_paths_from_environment_else_project_defaults(monkeypatch, tmp_path):
    for env, *_ in o._PATHS.values():
        monkeypatch.delenv(env, raising=False)
    p = o.paths(use_variables=False)
    assert p.warehouse == PROJECT_ROOT / "build" / "warehouse.duckdb"
    assert p.out == PROJECT_ROOT / "build" / "out"
    assert p.push_inbox == PROJECT_ROOT / "build" / "inbox" / "push"
    assert p.feedback_inbox == PROJECT_ROOT / "build" / "inbox" / "feedback"
    monkeypatch.setenv("RETIRE_PREP_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("RETIRE_PREP_FEEDBACK_INBOX", str(tmp_path / "fb"))
    p = o.paths(use_variables=False)
    assert (p.warehouse, p.feedback_inbox) == (tmp_path / "w.duckdb", tmp_path / "fb")


# ------------------------------------------------------------------ Airflow in a subprocess


def _env(home: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "RETIRE_PREP_WAREHOUSE", "RETIRE_PREP_OUT", "RETIRE_PREP_PUSH_INBOX",
                                "RETIRE_PREP_FEEDBACK_INBOX"))}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
               AIRFLOW__CORE__LOAD_EXAMPLES="False", PYTHONWARNINGS="default")
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory) -> Path:
    """A migrated SQLite metadata database with the warehouse pool (what `make airflow-init` does)."""
    home = tmp_path_factory.mktemp("airflow_home")
    for cmd in (["db", "migrate"], ["pools", "set", o.POOL, "1", "retire-prep: DuckDB has one writer"]):
        r = subprocess.run([str(AIRFLOW), *cmd], env=_env(home), capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return home


PARSE = r"""
import json, sys, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import CronTriggerTimetable
    before = set(sys.modules)
    bag = DagBag(dag_folder=sys.argv[1], known_pools={"default_pool", sys.argv[2]})
heavy = sorted({m.split(".")[0] for m in set(sys.modules) - before} & set(sys.argv[3].split(",")))
dags = {}
for dag_id, dag in bag.dags.items():
    tt = dag.timetable
    dags[dag_id] = dict(
        fileloc=dag.fileloc, tags=sorted(dag.tags), doc_md=dag.doc_md or "", catchup=dag.catchup,
        max_active_runs=dag.max_active_runs, params=sorted(dag.params.keys()),
        timetable=type(tt).__name__, cron=getattr(tt, "_expression", None), tz=str(getattr(tt, "_timezone", "")),
        tasks={t.task_id: dict(retries=t.retries, retry_delay=t.retry_delay.total_seconds(), pool=t.pool,
                               mapped=type(t).__name__ == "MappedOperator",
                               upstream=sorted(t.upstream_task_ids)) for t in dag.tasks})
print("@@RESULT@@" + json.dumps(dict(
    import_errors=bag.import_errors, captured=bag.captured_warnings,
    dag_warnings=sorted(w.message for w in bag.dag_warnings),
    import_warnings=[f"{w.category.__name__}: {w.message}" for w in caught if "dags" in str(w.filename)],
    heavy=heavy, dags=dags)))
"""


def _result(proc) -> dict:
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("@@RESULT@@"):
            return json.loads(line[len("@@RESULT@@"):])
    raise AssertionError(f"no result (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")


@pytest.fixture(scope="module")
def parsed(airflow_home) -> dict:
    proc = subprocess.run([sys.executable, "-c", PARSE, str(DAGS), o.POOL, ",".join(HEAVY)],
                          env=_env(airflow_home), capture_output=True, text=True, timeout=300)
    return _result(proc)


@pytest.mark.airflow
def test_dag_files_import_without_error_or_warning(parsed):
    assert parsed["import_errors"] == {}
    assert parsed["captured"] == {}
    assert parsed["import_warnings"] == []
    assert parsed["dag_warnings"] == []  # e.g. a task in a pool that does not exist
    assert sorted(parsed["dags"]) == sorted(DAG_IDS)
    assert parsed["heavy"] == [], "DAG files must import pipelines/duckdb/GX inside the tasks only"
    for f in DAGS.glob("*.py"):
        assert len(f.read_text(encoding="utf-8").splitlines()) < 120, f


@pytest.mark.airflow
def test_dags_have_tags_docs_retries_schedule_and_pool(parsed):
    schedules = {"pre_service_monthly": "0 2 16 * *", "declaration_month_start": "0 6 1 * *",
                 "feedback_intake": "30 * * * *"}
    for dag_id, d in parsed["dags"].items():
        assert "retire-prep" in d["tags"]
        for words in ("fail", "Rerun", "clear"):
            assert words in d["doc_md"], (dag_id, words)
        assert d["catchup"] is False and d["max_active_runs"] == 1
        assert (d["timetable"], d["cron"], d["tz"]) == ("CronTriggerTimetable", schedules[dag_id], "Asia/Shanghai")
        for task_id, t in d["tasks"].items():
            assert t["retries"] >= 1 and t["retry_delay"] >= 60, (dag_id, task_id)
    monthly = parsed["dags"]["pre_service_monthly"]
    assert {"month", "replay"} <= set(monthly["params"])
    assert "month" in parsed["dags"]["declaration_month_start"]["params"]
    writers = {"ingest_push", "load_applications", "begin", "screen", "ledger", "notices", "worklists", "finish"}
    for task_id, t in monthly["tasks"].items():
        assert (t["pool"] == o.POOL) == (task_id in writers), task_id
    assert monthly["tasks"]["office_files"]["mapped"]
    assert monthly["tasks"]["screen"]["upstream"] == ["begin", "resolve_month"]
    assert monthly["tasks"]["begin"]["upstream"] == ["load_applications", "resolve_month"]
    assert set(monthly["tasks"]["finish"]["upstream"]) == {"month_files", "office_files", "resolve_month"}
    for dag_id in ("declaration_month_start", "feedback_intake"):
        assert {t["pool"] for t in parsed["dags"][dag_id]["tasks"].values()} == {o.POOL}
