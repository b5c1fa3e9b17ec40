"""pre_service_monthly: the monthly pre-service run (``retire-prep run --month P``) as tasks."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, TriggerRule, chain, dag, task

POOL = "retire_prep_warehouse"  # one slot: DuckDB has one writer (pipelines.orchestration.POOL)

DOC = """
### 养老保险退休预服务 — monthly run for month P

Runs at 02:00 on the 16th (Asia/Shanghai), after the Ministry's push has arrived (by the
15th). P is the month of the run date, or the `month` param (`YYYY-MM`) of a manual run.

1. **ingest_push** — every batch folder in the push inbox (`RETIRE_PREP_PUSH_INBOX`), in seq
   order; **load_applications** — `<push inbox>/applications/*.csv`.
2. **begin → screen → ledger → notices → worklists → forecast** — warehouse stages, each validated
   (forecast: each office's workload of the next months, issue 18).
3. **office_files** (one mapped task per county office) and **month_files** (handovers,
   letters, forecast, report) — read-only; **finish** marks the month done.

Tasks that write the warehouse run in the pool `retire_prep_warehouse` (one slot).

**When a task fails**
* *ingest_push, "push batch(es) refused"*: the log names batch, file, row and reason; see
  `SELECT * FROM batches` in the warehouse. Get a corrected batch from the Ministry, move
  the refused folder out of the inbox, clear the task. Held batches (a missing seq) are only a
  warning: the month runs on what was applied.
* *validation failed*: open `OUT/P/validation/` (readable offline); nothing of that stage was
  published. Fix the cause, clear the task.
* *warehouse locked*: another process holds the DuckDB file (analysts use the analysts' file,
  rebuilt by the writing tasks); the task retries.
* **Rerun**: clear the failed task (and its downstream) — every task is idempotent.
  A past month: trigger with `{"month": "YYYY-MM"}`; before the last month run, add
  `"replay": true` (re-emits that month as it was).
* *"ahead of the latest push"* (at `begin`): P is more than one month after the latest push
  (pushes late, or a mistyped month). Ingest the missing pushes and clear from `ingest_push`; to
  run P anyway, trigger with `"ahead_of_push": true` (docs/operations.md says how to undo it).
See docs/operations.md.
"""


@dag(
    dag_id="pre_service_monthly",
    schedule=CronTriggerTimetable("0 2 16 * *", timezone="Asia/Shanghai"),
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
        "ahead_of_push": Param(False, type="boolean",
                               description="Run a month more than one month after the latest push (copies the warehouse first)"),
    },
)
def pre_service_monthly():
    @task(pool=POOL)
    def ingest_push() -> dict:
        from pipelines import orchestration as o
        return o.ingest_push_inbox()

    @task(pool=POOL)
    def load_applications() -> dict:
        from pipelines import orchestration as o
        return o.load_application_inbox()

    @task
    def resolve_month() -> str:
        from pipelines import orchestration as o
        return o.current_month()

    @task(pool=POOL)
    def begin(month: str) -> dict:
        from pipelines import orchestration as o
        return o.stage("begin", month, replay=o.current_replay(), ahead_of_push=o.current_ahead_of_push())

    def writer(name: str):
        @task(task_id=name, pool=POOL)
        def run(month: str):
            from pipelines import orchestration as o
            return o.stage(name, month)
        return run

    @task(max_active_tis_per_dagrun=4)
    def office_files(office: str, month: str) -> dict:
        from pipelines import orchestration as o
        return o.stage("office_files", month, office=office)

    @task
    def month_files(month: str) -> dict:
        from pipelines import orchestration as o
        return o.stage("month_files", month)

    @task(pool=POOL, trigger_rule=TriggerRule.NONE_FAILED)
    def finish(month: str) -> dict:
        from pipelines import orchestration as o
        return o.stage("finish", month)

    month = resolve_month()
    offices = writer("worklists")(month)
    chain(ingest_push(), load_applications(), begin(month), writer("screen")(month),
          writer("ledger")(month), writer("notices")(month), offices)
    forecast = writer("forecast")(month)   # reads the worklists; a writer: before any reader opens the file
    # read-only, side by side; finish also runs when no office has files (mapped task skipped)
    per_office = office_files.partial(month=month).expand(office=offices)
    files = month_files(month)
    offices >> forecast >> [per_office, files]
    [per_office, files] >> finish(month)


pre_service_monthly()
