"""The Airflow DAGs of ``dags/`` (docs/operations.md).

* the month of a run (``pipelines.orchestration.month_of_run``): pure unit tests;
* every DAG file parses through a DagBag with no import error and no warning, and
  carries tags, retries, doc_md, a timezone-aware schedule, the warehouse pool;
* ``dag.test()`` of the three DAGs on the shipped sample, checked against the CLI.

Everything that imports Airflow runs in a subprocess with its own AIRFLOW_HOME
(a temporary SQLite metadata database, migrated once per session), so no Airflow
configuration leaks into the other tests and nothing is written under ~/airflow.
Two subprocesses in all, each one Airflow start-up: the parse of the DAG files then
`make airflow-init`'s two commands; the sample's DAG runs then the tiny refused-batch
runs on a warehouse of their own (dag.test()'s once-a-second polls shortened there:
a failed task's downstream is marked one level a poll). About 60 s on one core.
They are marked ``airflow`` and ``slow`` (``pytest -m "not airflow"`` leaves them out).
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
DAG_IDS = ("pre_service_monthly", "declaration_month_start", "feedback_intake", "push_arrival")
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
    manual = {
        "params": {"month": "2026-11", "replay": True},
        "dag_run": SimpleNamespace(logical_date=None, run_after=after),
    }
    assert month_from_context(manual) == "2026-11"
    asset = {"params": {"month": None}, "dag_run": SimpleNamespace(logical_date=None, run_after=after)}
    assert month_from_context(asset) == "2026-12"
    scheduled = {
        "params": {},
        "logical_date": after,
        "dag_run": SimpleNamespace(logical_date=after, run_after=after + timedelta(days=20)),
    }
    assert month_from_context(scheduled) == "2026-12"


def test_office_groups_cover_every_office_once_in_order():
    offices = [f"6401{n:02d}" for n in range(1, 30)]
    groups = o.office_groups(offices)
    assert len(groups) == o.OFFICE_TASKS == 4
    assert [x for g in groups for x in g] == offices
    assert sorted(map(len, groups)) == [7, 7, 7, 8]
    assert o.office_groups(offices[:2]) == [[offices[0]], [offices[1]]]
    assert o.office_groups([]) == []


def test_month_of_a_run_the_push_started():
    after = datetime(2026, 11, 30, 17, 0, tzinfo=timezone.utc)  # already 1 December in Shanghai
    event = lambda month: SimpleNamespace(extra={"month": month, "batches": ["B"]})
    ctx = {
        "params": {"month": None},
        "dag_run": SimpleNamespace(logical_date=None, run_after=after),
        "triggering_asset_events": {"asset": [event("2026-11")]},
    }
    assert month_from_context(ctx) == "2026-11"  # the batch's month, not the day it arrived
    ctx["triggering_asset_events"] = {"a": [event("2026-11"), event("2026-12")], "b": [event("bad")]}
    assert o.month_of_asset_events(ctx) == "2026-12"
    ctx["params"] = {"month": "2026-10"}
    assert month_from_context(ctx) == "2026-10"  # an explicit month wins
    assert o.month_of_asset_events({"triggering_asset_events": None}) is None
    assert o.month_of_asset_events({"triggering_asset_events": {"a": [SimpleNamespace(extra=None)]}}) is None


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
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            (
                "AIRFLOW",
                "RETIRE_PREP_WAREHOUSE",
                "RETIRE_PREP_OUT",
                "RETIRE_PREP_PUSH_INBOX",
                "RETIRE_PREP_FEEDBACK_INBOX",
            )
        )
    }
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        PYTHONWARNINGS="default",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


#: `make airflow-init`'s two commands, run by Airflow's own command line in the process that parsed
#: the DAG files first (one Airflow start-up instead of three: the parse needs no database)
INIT = r"""
from airflow.__main__ import main
for argv in (["db", "migrate"], ["pools", "set", sys.argv[2], "1", "retire-prep: DuckDB has one writer"]):
    sys.argv = ["airflow", *argv]
    main()
print("@@INIT-DONE@@")
"""


@pytest.fixture(scope="session")
def airflow_parsed_and_home(tmp_path_factory) -> tuple[Path, dict]:
    """The DAG files parsed by a DagBag (PARSE below), then a migrated SQLite metadata database with
    the warehouse pool (what `make airflow-init` does), in one subprocess."""
    home = tmp_path_factory.mktemp("airflow_home")
    proc = subprocess.run(
        [sys.executable, "-c", PARSE + INIT, str(DAGS), o.POOL, ",".join(HEAVY)],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and "@@INIT-DONE@@" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    return home, _result(proc)


@pytest.fixture(scope="session")
def airflow_home(airflow_parsed_and_home) -> Path:
    return airflow_parsed_and_home[0]


PARSE = r"""
import json, sys, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import CronTriggerTimetable
    before = set(sys.modules)
    bag = DagBag(dag_folder=sys.argv[1], known_pools={"default_pool", sys.argv[2]})
# pipelines.stages, the table of a month's stages the monthly DAG is built from, is standard library only
light = {"pipelines", "pipelines.stages"}
heavy = sorted({m.split(".")[0] for m in set(sys.modules) - before - light} & set(sys.argv[3].split(",")))

def next_runs(tt, n=2):
    # what the scheduler would create after 2026-11-20 (UTC): run_after, data interval, month P
    import pendulum
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction
    from pipelines.orchestration import month_of_run
    core, last, runs = coerce_to_core_timetable(tt), None, []
    for _ in range(n):
        info = core.next_dagrun_info(last_automated_data_interval=last, restriction=TimeRestriction(
            earliest=pendulum.datetime(2026, 11, 20, tz="UTC"), latest=None, catchup=True))
        last = info.data_interval
        runs.append(dict(run_after=info.run_after.isoformat(), logical_date=info.logical_date.isoformat(),
                         interval_empty=last.start == last.end,
                         month=month_of_run(None, info.logical_date, info.run_after)))
    return runs
dags = {}
for dag_id, dag in bag.dags.items():
    outer = dag.timetable
    tt = getattr(outer, "timetable", outer)  # AssetOrTimeSchedule: the time part
    cond = getattr(outer, "asset_condition", None)
    dags[dag_id] = dict(
        fileloc=dag.fileloc, tags=sorted(dag.tags), doc_md=dag.doc_md or "", catchup=dag.catchup,
        max_active_runs=dag.max_active_runs, params=sorted(dag.params.keys()),
        schedule=type(outer).__name__, assets=[getattr(cond, "name", str(cond))] if cond else [],
        timetable=type(tt).__name__, cron=getattr(tt, "expression", None), tz=str(getattr(tt, "timezone", "")),
        next_runs=next_runs(tt) if getattr(tt, "expression", None) else [],
        outlets={t.task_id: sorted(getattr(o, "name", str(o)) for o in t.outlets) for t in dag.tasks if t.outlets},
        tasks={t.task_id: dict(retries=t.retries, retry_delay=t.retry_delay.total_seconds(), pool=t.pool,
                               mapped="Mapped" in type(t).__name__,
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
            return json.loads(line[len("@@RESULT@@") :])
    raise AssertionError(f"no result (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")


@pytest.fixture(scope="module")
def parsed(airflow_parsed_and_home) -> dict:
    return airflow_parsed_and_home[1]


@pytest.mark.airflow
def test_dag_files_import_without_error_or_warning(parsed):
    assert parsed["import_errors"] == {}
    assert parsed["captured"] == {}
    assert parsed["import_warnings"] == []
    assert parsed["dag_warnings"] == []  # e.g. a task in a pool that does not exist
    assert sorted(parsed["dags"]) == sorted(DAG_IDS)
    assert parsed["heavy"] == [], (
        "DAG files must import pipelines (but its stage table)/duckdb/GX inside the tasks only"
    )
    for f in DAGS.glob("*.py"):
        assert len(f.read_text(encoding="utf-8").splitlines()) < 120, f


@pytest.mark.airflow
def test_dags_have_tags_docs_retries_schedule_and_pool(parsed):
    schedules = {
        "pre_service_monthly": "0 2 16 * *",
        "declaration_month_start": "0 6 1 * *",
        "feedback_intake": "30 8-18 * * *",
    }
    for dag_id, d in parsed["dags"].items():
        assert "retire-prep" in d["tags"]
        for words in ("fail", "Rerun", "clear"):
            assert words in d["doc_md"], (dag_id, words)
        assert d["catchup"] is False and d["max_active_runs"] == 1
        if dag_id in schedules:
            assert (d["timetable"], d["cron"], d["tz"]) == ("CronTriggerTimetable", schedules[dag_id], "Asia/Shanghai")
        for task_id, t in d["tasks"].items():
            assert t["retries"] >= 1 and t["retry_delay"] >= 60, (dag_id, task_id)
    # the monthly run: when the push has arrived (the asset push_arrival emits), else at 02:00 on the 16th
    assert parsed["dags"]["pre_service_monthly"]["schedule"] == "AssetOrTimeSchedule"
    assert parsed["dags"]["pre_service_monthly"]["assets"] == ["retire_prep_push_arrived"]
    assert parsed["dags"]["push_arrival"]["timetable"] == "ContinuousTimetable"
    assert parsed["dags"]["push_arrival"]["outlets"] == {"announce": ["retire_prep_push_arrived"]}
    monthly = parsed["dags"]["pre_service_monthly"]
    # the scheduler's runs: 16th 02:00 Shanghai (18:00 UTC on the 15th), empty interval, month of the run
    assert [(r["logical_date"], r["interval_empty"], r["month"]) for r in monthly["next_runs"]] == [
        ("2026-12-15T18:00:00+00:00", True, "2026-12"),
        ("2027-01-15T18:00:00+00:00", True, "2027-01"),
    ]
    assert [(r["logical_date"], r["month"]) for r in parsed["dags"]["declaration_month_start"]["next_runs"]] == [
        ("2026-11-30T22:00:00+00:00", "2026-12"),
        ("2026-12-31T22:00:00+00:00", "2027-01"),
    ]
    assert {"month", "replay"} <= set(monthly["params"])
    assert "month" in parsed["dags"]["declaration_month_start"]["params"]
    writers = {
        "ingest_push",
        "load_applications",
        "month_due",
        "begin",
        "screen",
        "ledger",
        "notices",
        "forecast",
        "worklists",
        "finish",
    }
    for task_id, t in monthly["tasks"].items():
        assert (t["pool"] == o.POOL) == (task_id in writers), task_id
    assert monthly["tasks"]["office_files"]["mapped"]
    assert monthly["tasks"]["screen"]["upstream"] == ["begin", "resolve_month"]
    assert monthly["tasks"]["month_due"]["upstream"] == ["load_applications", "resolve_month"]
    assert monthly["tasks"]["begin"]["upstream"] == ["month_due", "resolve_month"]
    assert set(monthly["tasks"]["finish"]["upstream"]) == {"month_files", "office_files", "resolve_month"}
    # the forecast (issue 18) reads the worklists and writes the warehouse before any reader opens it
    assert set(monthly["tasks"]["forecast"]["upstream"]) == {"worklists", "resolve_month"}
    assert "forecast" in monthly["tasks"]["office_files"]["upstream"]
    assert "forecast" in monthly["tasks"]["month_files"]["upstream"]
    for dag_id in ("declaration_month_start", "feedback_intake"):
        assert {t["pool"] for t in parsed["dags"][dag_id]["tasks"].values()} == {o.POOL}


@pytest.mark.airflow
def test_monthly_dag_is_built_from_the_stage_table(parsed):
    """dags/pre_service_monthly.py makes a task of each stage of pipelines.stages.STAGES (issue 15):
    writers in the pool, one after another from begin; readers after the last writer, side by
    side, the per-office one mapped; finish after every reader."""
    from pipelines.stages import STAGES

    tasks = parsed["dags"]["pre_service_monthly"]["tasks"]
    writers = [s.name for s in STAGES if s.writes]
    for s in STAGES:
        assert (tasks[s.name]["pool"] == o.POOL, tasks[s.name]["mapped"]) == (s.writes, s.per_office), s.name
    for before, name in zip(["begin"] + writers, writers):
        assert set(tasks[name]["upstream"]) == {before, "resolve_month"}, name
    readers = [s.name for s in STAGES if not s.writes]
    for name in readers:
        assert set(tasks[name]["upstream"]) == {writers[-1], "resolve_month"}, name
    assert set(tasks["finish"]["upstream"]) == set(readers) | {"resolve_month"}


# ------------------------------------------------------------------ dag.test() runs

RUNNER = r"""
import glob, hashlib, json, os, shutil, sys, time, traceback
from pathlib import Path
from datetime import datetime
steps, results = json.loads(sys.argv[1]), []
# dag.test() polls its run once a second while no task is runnable (a failed task's downstream
# marked one level a poll: about 9 s of sleep in the refused run); its polls only are shortened
_sleep = time.sleep
def _short_poll(s):
    _sleep(min(s, 0.02) if sys._getframe(1).f_code.co_filename.endswith("sdk/definitions/dag.py") else s)
time.sleep = _short_poll
try:
    from airflow.dag_processing.dagbag import DagBag
    for step in steps:
        op, t0 = step["op"], time.monotonic()
        if op == "env":
            os.environ.update(step["set"])
            for k in step.get("unset", []):
                os.environ.pop(k, None)
            continue
        if op == "copy":
            for src in sorted(glob.glob(step["src"])):
                dst = os.path.join(step["dst"], os.path.basename(src))
                os.makedirs(step["dst"], exist_ok=True)
                (shutil.copytree if os.path.isdir(src) else shutil.copy2)(src, dst)
                if step.get("settled"):  # uploaded a while ago: the feedback inbox takes settled files
                    os.utime(dst, (time.time() - 3600,) * 2)
            continue
        if op == "remove":
            shutil.rmtree(step["path"])
            continue
        if op == "hash":
            files = sorted(glob.glob(os.path.join(step["root"], "**", "*"), recursive=True))
            results.append(dict(op="hash", name=step["name"], files={
                os.path.relpath(f, step["root"]): hashlib.sha256(Path(f).read_bytes()).hexdigest()
                for f in files if os.path.isfile(f) and step["pattern"] in f}))
            continue
        # parsed afresh for every run, as a worker does: in one process, dag.test() leaves the
        # previous run's conf in the task params (a rerun's {"month": ...} would stick)
        dag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags[step["dag_id"]]
        when = lambda v: None if v is None else datetime.fromisoformat(v)
        dr = dag.test(logical_date=when(step["logical_date"]), run_after=when(step.get("run_after")),
                      run_conf=step.get("conf") or None)
        tis = {(ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"):
               dict(state=str(ti.state), try_number=ti.try_number) for ti in dr.get_task_instances()}
        results.append(dict(op="dag", name=step["name"], state=str(dr.state), tis=tis,
                            logical_date=dr.logical_date and dr.logical_date.isoformat(),
                            seconds=round(time.monotonic() - t0, 1)))
except Exception:
    traceback.print_exc()
print("@@RESULT@@" + json.dumps(results))
"""


def run_steps(home: Path, steps: list[dict], log: Path, timeout: int = STEP_TIMEOUT, **env) -> dict:
    """Run the steps in one Airflow process; the whole log goes to ``log``."""
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, json.dumps(steps)],
        env=_env(home, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    log.write_text(proc.stdout + "\n" + proc.stderr, encoding="utf-8")
    got = {r["name"]: r for r in _result(proc)}
    got["_log"] = f"(whole log: {log})\n" + proc.stderr[-8000:]
    return got


def dag_step(name, dag_id, logical_date=None, run_after=None, conf=None) -> dict:
    iso = lambda d: d and d.isoformat()
    return dict(op="dag", name=name, dag_id=dag_id, logical_date=iso(logical_date), run_after=iso(run_after), conf=conf)


def _cli_month(tmp: Path, month: str) -> Path:
    """The CLI path on a warehouse of its own: ingest, applications, ``run_month``."""
    from pipelines.ingest import ingest_batches, load_applications
    from pipelines.monthly import run_month

    wh, out = tmp / "warehouse.duckdb", tmp / "out"
    rep = ingest_batches([SAMPLE / "push" / "2026-11-full"], wh)
    assert not rep.refused
    load_applications(sorted((SAMPLE / "applications").glob("*.csv")), wh)
    run_month(month, wh, out)
    return wh


def _hashes(root: Path, pattern: str) -> dict:
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(root.rglob("*"))
        if f.is_file() and pattern in str(f)
    }


def _sample_steps(tmp: Path) -> tuple[list, dict, dict]:
    """The sample's calendar through Airflow, on one warehouse:

    16 Nov monthly run (scheduled) → manual rerun of 2026-11 without logical date →
    feedback intake → 1 Dec declaration (run_after only) → 16 Dec monthly run (INCR arrived).
    The CLI runs 2026-11 on a separate warehouse for the comparison.  (steps, environment, what
    the tests read beside the runs)
    """
    cli = tmp / "cli"
    cli_wh = _cli_month(cli, "2026-11")
    feedback = sorted((SAMPLE / "feedback").glob("*.csv"))
    fb_dir = tmp / "feedback-source"
    if not feedback:  # not shipped (yet): the demo's generator writes them from the CLI warehouse
        from pipelines import feedback as fb_module

        if hasattr(fb_module, "demo_feedback"):
            feedback = fb_module.demo_feedback(cli_wh, fb_dir, "2026-11")
    fb_dir.mkdir(exist_ok=True)
    offices = sorted({Path(f).name.split("-")[1] for f in feedback})  # feedback-<office>-<month>.csv
    for f in feedback:  # the inbox has one folder per office (issue 14)
        (fb_dir / Path(f).name.split("-")[1]).mkdir(exist_ok=True)
        shutil.copy2(f, fb_dir / Path(f).name.split("-")[1] / Path(f).name)

    af = tmp / "airflow"
    push, out = af / "inbox" / "push", af / "out"
    steps = [
        dict(op="copy", src=str(SAMPLE / "push" / "2026-11-full"), dst=str(push)),
        dict(op="copy", src=str(SAMPLE / "applications" / "*.csv"), dst=str(push / "applications")),
        dag_step("nov", "pre_service_monthly", datetime(2026, 11, 16, 2, 0, tzinfo=SHANGHAI)),
        dict(op="hash", name="nov-files", root=str(out / "2026-11"), pattern=".csv"),
        dag_step(
            "nov-rerun",
            "pre_service_monthly",
            None,
            datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI),
            {"month": "2026-11"},
        ),
        dict(op="hash", name="nov-rerun-files", root=str(out / "2026-11"), pattern=".csv"),
        *[
            dict(op="copy", src=str(fb_dir / o / "*.csv"), dst=str(af / "inbox" / "feedback" / o), settled=True)
            for o in offices
        ],
        dag_step("feedback", "feedback_intake", datetime(2026, 11, 25, 10, 30, tzinfo=SHANGHAI)),
        dag_step("feedback-again", "feedback_intake", datetime(2026, 11, 25, 11, 30, tzinfo=SHANGHAI)),
        dag_step("declare", "declaration_month_start", None, datetime(2026, 11, 30, 22, 0, tzinfo=timezone.utc)),
        dict(op="copy", src=str(SAMPLE / "push" / "2026-12-incr"), dst=str(push)),
        dag_step("dec", "pre_service_monthly", datetime(2026, 12, 15, 18, 0, tzinfo=timezone.utc)),
    ]
    env = dict(
        RETIRE_PREP_WAREHOUSE=af / "warehouse.duckdb",
        RETIRE_PREP_OUT=out,
        RETIRE_PREP_PUSH_INBOX=push,
        # the feedback inbox through an Airflow Variable (AIRFLOW_VAR_*), not RETIRE_PREP_*
        AIRFLOW_VAR_RETIRE_PREP_FEEDBACK_INBOX=af / "inbox" / "feedback",
    )
    return (
        steps,
        env,
        dict(cli_out=cli / "out", af_out=out, af_wh=af / "warehouse.duckdb", feedback_files=len(feedback)),
    )


def _refused_steps(tmp: Path) -> tuple[list, dict]:
    """A tiny push (tests/support/pushkit.py): FULL seq 1, an INCR seq 3 waiting for seq 2, and a
    batch whose file does not match its manifest; run, the broken folder moved away, run again."""
    from support.pushkit import person, segment, write_batch

    inbox = tmp / "inbox" / "push"
    people = [person(n, birth_date=b) for n, b in enumerate(("19661015", "19640510", "19710201"), 1)]
    write_batch(inbox / "a-full", people, [segment(p["id_no"]) for p in people], seq=1)
    write_batch(
        inbox / "c-incr",
        people[:1],
        [segment(people[0]["id_no"])],
        seq=3,
        push_type="INCR",
        base_seq=2,
        month="2026-12",
    )
    broken = write_batch(inbox / "b-broken", people, [], seq=2, push_type="INCR", base_seq=1)
    (broken / "persons.csv").write_bytes((broken / "persons.csv").read_bytes() + b"\n")
    scheduled = datetime(2026, 11, 16, 2, 0, tzinfo=SHANGHAI)
    steps = [
        dag_step("refused", "pre_service_monthly", scheduled),
        dict(op="remove", path=str(broken)),
        dag_step("held", "pre_service_monthly", None, scheduled + timedelta(hours=1), {"month": "2026-11"}),
    ]
    env = dict(
        RETIRE_PREP_WAREHOUSE=tmp / "warehouse.duckdb",
        RETIRE_PREP_OUT=tmp / "out",
        RETIRE_PREP_PUSH_INBOX=inbox,
        RETIRE_PREP_FEEDBACK_INBOX=tmp / "feedback",
    )
    return steps, env


@pytest.fixture(scope="module")
def dag_runs(airflow_home, tmp_path_factory) -> dict:
    """The sample's runs, then the refused batch's on a warehouse of their own, in one Airflow
    process (one start-up of Airflow and of dag.test()'s execution API: about 10 s each)."""
    refused_tmp = tmp_path_factory.mktemp("dag_refused")
    refused, refused_env = _refused_steps(refused_tmp)
    switch = dict(
        op="env",
        set={k: str(v) for k, v in refused_env.items()},
        unset=["AIRFLOW_VAR_RETIRE_PREP_FEEDBACK_INBOX"],
    )
    if (SAMPLE / "push" / "2026-11-full" / "manifest.json").is_file():
        tmp = tmp_path_factory.mktemp("dag_sample")
        steps, env, beside = _sample_steps(tmp)
        got = run_steps(
            airflow_home, [*steps, switch, *refused], tmp / "airflow.log", timeout=900, **env
        )  # 600 + 300 before
        got.update(beside, sample=True, refused_wh=refused_tmp / "warehouse.duckdb", refused_out=refused_tmp / "out")
        return got
    got = run_steps(airflow_home, [switch, *refused], refused_tmp / "airflow.log")
    got.update(sample=False, refused_wh=refused_tmp / "warehouse.duckdb", refused_out=refused_tmp / "out")
    return got


@pytest.fixture(scope="module")
def sample_runs(dag_runs) -> dict:
    if not dag_runs["sample"]:
        pytest.skip("data/sample/push/ is not generated yet (make sample)")
    return dag_runs


def _ok(got: dict, name: str) -> dict:
    run = got.get(name)
    assert run is not None, f"step {name} did not run:\n{got['_log']}"
    failed = {k: v for k, v in run["tis"].items() if v["state"] != "success"}
    assert run["state"] == "success" and not failed, f"{name}: {failed}\n{got['_log']}"
    return run


@pytest.mark.airflow
@pytest.mark.slow
def test_monthly_dag_runs_the_sample_month_with_one_task_per_office(sample_runs):
    run = _ok(sample_runs, "nov")
    offices = sorted(p.name for p in (sample_runs["af_out"] / "2026-11" / "worklists").iterdir())
    assert len(offices) > 1
    # the offices' files in a few mapped tasks (o.OFFICE_TASKS), every office in one of them
    assert sum(1 for k in run["tis"] if k.startswith("office_files[")) == min(o.OFFICE_TASKS, len(offices))
    assert all(v["try_number"] == 1 for v in run["tis"].values())
    assert run["logical_date"] == "2026-11-15T18:00:00+00:00"
    for name in ("report/index.html", "handovers/handovers.csv"):
        assert (sample_runs["af_out"] / "2026-11" / name).is_file(), name


@pytest.mark.airflow
@pytest.mark.slow
def test_dag_and_cli_give_the_same_files_run_after_run(sample_runs):
    _ok(sample_runs, "nov-rerun")
    assert sample_runs["nov-rerun"]["logical_date"] is None  # a manual run with the month param
    cli = _hashes(sample_runs["cli_out"] / "2026-11", ".csv")
    for pattern in ("worklist.csv", "sms.csv"):
        want = {k: v for k, v in cli.items() if k.endswith(pattern)}
        assert want, pattern
        for run in ("nov-files", "nov-rerun-files"):
            got = {k: v for k, v in sample_runs[run]["files"].items() if k.endswith(pattern)}
            assert got == want, (run, pattern)


@pytest.mark.airflow
@pytest.mark.slow
def test_feedback_and_declaration_dags(sample_runs):
    _ok(sample_runs, "feedback")
    _ok(sample_runs, "feedback-again")  # the same files again: nothing changes, no failure
    run = _ok(sample_runs, "declare")
    assert run["logical_date"] is None
    declarations = list((sample_runs["af_out"] / "2026-12" / "declarations").glob("*/declarations.csv"))
    assert declarations, "the run of 1 Dec 06:00 Shanghai (30 Nov 22:00 UTC) declares 2026-12"
    if sample_runs["feedback_files"]:
        import duckdb

        con = duckdb.connect(str(sample_runs["af_wh"]), read_only=True)
        try:
            n = con.execute("SELECT count(*) FROM feedback_files WHERE status = 'APPLIED'").fetchone()[0]
        finally:
            con.close()
        assert n == sample_runs["feedback_files"]


@pytest.mark.airflow
@pytest.mark.slow
def test_monthly_dag_next_month_after_the_incr(sample_runs):
    _ok(sample_runs, "dec")
    assert (sample_runs["af_out"] / "2026-12" / "report" / "index.html").is_file()
    assert list((sample_runs["af_out"] / "2026-12" / "worklists").glob("*/worklist.csv"))


@pytest.mark.airflow
@pytest.mark.slow
def test_refused_batch_fails_ingest_once_after_the_rest_held_batch_only_warns(dag_runs):
    """A tiny push (tests/support/pushkit.py): FULL seq 1, an INCR seq 3 waiting for seq 2, and a batch
    whose file does not match its manifest.  The first run applies seq 1, holds seq 3, then fails
    ingest_push without retrying (the same bytes would be refused again) and runs nothing after it.
    With the broken folder moved away, the month runs: a held batch is a warning, not a failure."""
    import duckdb

    got, wh = dag_runs, dag_runs["refused_wh"]
    run = got.get("refused")
    assert run is not None, got["_log"]
    assert run["state"] == "failed"
    assert run["tis"]["ingest_push"] == {"state": "failed", "try_number": 1}, got["_log"]
    assert run["tis"]["begin"]["state"] == "upstream_failed"
    assert run["tis"]["resolve_month"]["state"] == "success"
    _ok(got, "held")
    con = duckdb.connect(str(wh), read_only=True)
    try:
        status = dict(con.execute("SELECT seq, status FROM push_batches").fetchall())
        refusals = con.execute("SELECT count(*) FROM batch_refusals").fetchone()[0]
    finally:
        con.close()
    assert status == {1: "APPLIED", 3: "HELD"}
    assert refusals == 1  # refused once: no retry refused it again
    assert (dag_runs["refused_out"] / "2026-11" / "worklists").is_dir()
