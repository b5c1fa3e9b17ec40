"""pre_service_monthly: the monthly pre-service run (``retire-prep run --month P``) as tasks."""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, TriggerRule, chain, dag, task

from pipelines.stages import STAGES  # the month's stages (standard library only: cheap to parse)

POOL = "retire_prep_warehouse"  # one slot: DuckDB has one writer (pipelines.orchestration.POOL)
PUSH_ARRIVED = Asset(name="retire_prep_push_arrived")  # emitted by dags/push_arrival.py
CLOCK = os.environ.get("RETIRE_PREP_TIME_SCHEDULES", "on") != "off"  # off: arrivals only (make airflow-check)

DOC = """
### 养老保险退休预服务 — monthly run for month P

Starts when a complete push batch has arrived (`push_arrival`; P = the batch's month), else at
02:00 on the 16th (Asia/Shanghai; P = the run date's month); a manual run takes the `month` param.
**month_due** skips an automatic run of a month already run on the current push (both fired).
**ingest_push**, **load_applications** → **begin** → the stages of `pipelines/stages.py`: **screen → ledger
→ notices → worklists → forecast** (warehouse, each validated; pool `retire_prep_warehouse`, one slot), then
**office_files** (mapped, named by their offices) and **month_files** (read-only, into `OUT/.P.partial`)
→ **finish** swaps the files into `OUT/P` as the command line does and marks the month done.

**When a task fails**
* *ingest_push, "push batch(es) refused"*: the log says batch, file, row, reason. Move the refused
  folder out of the inbox, clear the task. A held batch (missing seq) is only a warning. `DEPARTURES`
  (a FULL most of the push would leave with): if confirmed, trigger `{"accept_departures": "<batch_id>"}`.
* *validation failed*: see `OUT/P/validation/`; nothing of that stage was published.
* *warehouse locked* (another process; analysts use the analysts' file): the task retries.
* *"ahead of the latest push"* (`begin`): ingest the missing pushes, clear from `ingest_push`;
  to run P anyway, trigger with `"ahead_of_push": true` (docs/operations.md says how to undo it).
* **Rerun**: clear the failed task and its downstream (idempotent); a past month: `{"month": "YYYY-MM"}`
  (before the last month run add `"replay": true`). See docs/operations.md."""


@dag(
    dag_id="pre_service_monthly",
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 2 16 * *", timezone="Asia/Shanghai"),
                                 assets=PUSH_ARRIVED) if CLOCK else PUSH_ARRIVED,
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["retire-prep", "monthly", "warehouse-writer"],
    doc_md=DOC,
    default_args={"owner": "information-division", "retries": 2, "retry_delay": timedelta(minutes=5)},
    params={
        "month": Param(None, type=["null", "string"], pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
                       description="Month P (YYYY-MM); empty = the month of the run date (Asia/Shanghai)"),
        "replay": Param(False, type="boolean", description="Re-emit a month before the last month run"),
        "ahead_of_push": Param(False, type="boolean", description="Run P past the latest push (copies the warehouse)"),
        "accept_departures": Param("", type="string", description="batch_id of a FULL refused DEPARTURES, to apply"),
    },
)
def pre_service_monthly():
    @task(pool=POOL)
    def ingest_push() -> dict:
        from pipelines import orchestration as o
        return o.ingest_push_inbox(accept_departures=o.current_accept_departures())

    @task(pool=POOL)
    def load_applications() -> dict:
        from pipelines import orchestration as o
        return o.load_application_inbox()

    @task
    def resolve_month() -> str:
        from pipelines import orchestration as o
        return o.current_month()

    @task.short_circuit(pool=POOL)
    def month_due(month: str) -> bool:
        from pipelines import orchestration as o
        return o.automatic_run_due(month)

    @task(pool=POOL)
    def begin(month: str) -> dict:
        from pipelines import orchestration as o
        return o.stage("begin", month, replay=o.current_replay(), ahead_of_push=o.current_ahead_of_push())

    def writer(name: str):  # a stage that writes the warehouse: in the pool, one after another
        @task(task_id=name, pool=POOL)
        def run(month: str):
            from pipelines import orchestration as o
            return o.writer_stage(name, month)
        return run

    def reader(name: str):  # reads the warehouse, writes into OUT/.P.partial: side by side
        @task(task_id=name)
        def run(month: str) -> dict:
            from pipelines import orchestration as o
            return o.stage(name, month)
        return run

    def per_office(name: str):  # mapped over the groups of offices the last writer returns
        @task(task_id=name, max_active_tis_per_dagrun=4, map_index_template="{{ offices_label }}")
        def run(offices: list[str], month: str) -> dict:
            from pipelines import orchestration as o
            return o.office_group_files(offices, month, name)
        return run

    @task(pool=POOL, trigger_rule=TriggerRule.NONE_FAILED)  # also when no office has files (mapped task skipped)
    def finish(month: str) -> dict:  # swaps OUT/.P.partial in as the command line does
        from pipelines import orchestration as o
        return o.stage("finish", month)

    month = resolve_month()
    last = begin(month)
    chain(ingest_push(), load_applications(), month_due(month), last)
    for st in (s for s in STAGES if s.writes):
        last = last >> writer(st.name)(month)  # `a >> b` is b
    last >> [per_office(s.name).partial(month=month).expand(offices=last) if s.per_office
             else reader(s.name)(month) for s in STAGES if not s.writes] >> finish(month)


pre_service_monthly()
