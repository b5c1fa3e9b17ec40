"""feedback_intake: the county offices' feedback files (``retire-prep feedback FILE...``)."""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task

POOL = "retire_prep_warehouse"  # one slot: DuckDB has one writer (pipelines.orchestration.POOL)
CLOCK = os.environ.get("RETIRE_PREP_TIME_SCHEDULES", "on") != "off"  # off: manual runs only (make airflow-check)

DOC = """
### 养老保险退休预服务 — county feedback intake

Every hour on the half hour from 08:30 to 18:30 (Asia/Shanghai; outside the night-time
monthly and declaration runs), applies every `*.csv` and `*.xlsx` (worklist.xlsx sent back) of the feedback inbox's office folders
(`RETIRE_PREP_FEEDBACK_INBOX`, default `build/inbox/feedback/`): `<inbox>/<office>/*.csv|xlsx`, each
file bound to the office of its folder (rows of another office are refused; the task creates
the 29 folders), once it has settled (unchanged for `feedback_settle_seconds`: a file still being
uploaded waits for the next run). Each file's receipt (回执), in Chinese, for its office:
`<out>/feedback/<office>/<file>.回执.xlsx`. Stage events, conclusions, confirmations, objections, elected retirement
months (docs/feedback-format.md). Files stay in the inbox: applying a file again changes
nothing, so a rerun or a late file is always safe. RESULT notices are issued here and
reach the SMS batch of the next monthly run.

The task writes the warehouse: it runs in the pool `retire_prep_warehouse` (one slot), so
it never runs at the same time as a writing task of the monthly or declaration run
(if it meets their read-only file tasks, one side finds the file locked and retries).

**When it fails**
* *"feedback file(s) refused whole"*: the file is not the documented format; the other
  files were applied. The log names the file and the reason. Ask the office for a
  corrected file and move the refused one out of its office folder (e.g. to
  `<office>/refused/`) — until then every run fails on it again.
* *"file(s) in no office's folder, not applied"*: a `*.csv` lies in the inbox itself or in a
  folder that is no office code. Move it into the folder of the office that sent it. Single refused rows do not fail the task: they are in
  the log and in the warehouse table `feedback_rows` with their reason code.
* *warehouse locked* (another process holds the DuckDB file; analysts use the analysts' file): retried.
* **Rerun**: clear the task.
See docs/operations.md.
"""


@dag(
    dag_id="feedback_intake",
    schedule=CronTriggerTimetable("30 8-18 * * *", timezone="Asia/Shanghai") if CLOCK else None,
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["retire-prep", "feedback", "warehouse-writer"],
    doc_md=DOC,
    default_args={"owner": "information-division", "retries": 2, "retry_delay": timedelta(minutes=5)},
)
def feedback_intake():
    @task(pool=POOL)
    def apply_feedback() -> dict:
        from pipelines import orchestration as o
        return o.apply_feedback_inbox()

    apply_feedback()


feedback_intake()
