"""declaration_month_start: the month-start declaration screening (``retire-prep declare --month P``)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, task

POOL = "retire_prep_warehouse"  # one slot: DuckDB has one writer (pipelines.orchestration.POOL)

DOC = """
### 养老保险退休预服务 — month-start declaration screening (退休申报) for month P

Runs at 06:00 on the 1st of each month (Asia/Shanghai). P is the month of the run date, or
the `month` param (`YYYY-MM`) of a manual run. Persons whose retirement month is 1–3 months
ahead are re-checked: `DECLARATION` / `CONSULTATION` notices, `FOLLOW_UP` lists, written to
`OUT/P/declarations/<office>/` (rules.md §6). The notices join P's SMS batch, which P's monthly
run writes (`OUT/P/notifications/<office>/`): each notice is in one batch file only.
It needs a monthly run (`pre_service_monthly`) of P or an earlier month.

The task writes the warehouse: it runs in the pool `retire_prep_warehouse` (one slot).

**When it fails**
* *"no screening at or before it"*: run `pre_service_monthly` for an earlier month first.
* *"ahead of the latest push"*: the month is more than two months after the latest push
  (pushes late, or a mistyped month): ingest them and clear the task; to go ahead anyway,
  trigger with `"ahead_of_push": true` (docs/operations.md says how to undo it).
* *"before the last month run"*: a past month — trigger with `{"month": "YYYY-MM", "replay": true}`
  to re-emit its files as they were.
* *validation failed*: see `OUT/P/validation/`; nothing of the stage was published.
* *warehouse locked* (another process holds the DuckDB file; analysts use the analysts' file): retried.
* **Rerun**: clear the task — declaring a month twice issues no notice twice.
See docs/operations.md.
"""


@dag(
    dag_id="declaration_month_start",
    schedule=CronTriggerTimetable("0 6 1 * *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["retire-prep", "monthly", "declaration", "warehouse-writer"],
    doc_md=DOC,
    default_args={"owner": "information-division", "retries": 2, "retry_delay": timedelta(minutes=5)},
    params={
        "month": Param(None, type=["null", "string"], pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
                       description="Month P (YYYY-MM); empty = the month of the run date (Asia/Shanghai)"),
        "replay": Param(False, type="boolean", description="Re-emit a month before the last one declared"),
        "ahead_of_push": Param(False, type="boolean",
                               description="Declare a month more than two months after the latest push (copies the warehouse first)"),
    },
)
def declaration_month_start():
    @task(pool=POOL)
    def declare() -> dict:
        from pipelines import orchestration as o
        return o.declare(o.current_month(), replay=o.current_replay(), ahead_of_push=o.current_ahead_of_push())

    declare()


declaration_month_start()
