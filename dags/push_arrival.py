"""push_arrival: watches the push inbox; a complete new batch starts ``pre_service_monthly``."""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import Asset, BaseSensorOperator, PokeReturnValue, dag, task

#: the event ``pre_service_monthly`` is scheduled on (besides 02:00 on the 16th)
PUSH_ARRIVED = Asset(name="retire_prep_push_arrived")
# at least a minute in production: a look due before the executor reported the last one races
POKE_SECONDS = int(os.environ.get("RETIRE_PREP_PUSH_POKE_SECONDS", "600"))

DOC = """
### 养老保险退休预服务 — the push inbox's watch

Always running (`@continuous`, one run at a time). The sensor `complete_batch` looks at the push
inbox (`RETIRE_PREP_PUSH_INBOX`) every 10 minutes (`RETIRE_PREP_PUSH_POKE_SECONDS`), in
*reschedule* mode (no worker slot held between looks). It fires only for a **complete** batch
not announced before: `manifest.json` present and every file it names present with the
manifest's sha256. A batch still being copied is not complete: nothing starts. `announce` then
emits the asset `retire_prep_push_arrived` with the month of the batch, which starts
`pre_service_monthly` for that month. The fixed run at 02:00 on the 16th stays as the fallback;
a month that already ran on the current push is not run again (its tasks are skipped).

After 6 hours without a complete batch the sensor ends *skipped* and the next run takes over.

**When it fails**
* A batch whose hashes never match never fires: the fallback run on the 16th refuses it
  with the reason. The task log says nothing about incomplete folders (copies take time).
* *announce failed*: clear it; the batch is announced again (a second event for a month
  that already ran is a no-op).
* **Rerun**: clear the task. To announce a batch again, remove its line from
  `<warehouse>.arrivals`. See docs/operations.md.
"""


class PushInboxSensor(BaseSensorOperator):
    """Done when the push inbox holds a complete batch not announced before (xcom: the batches)."""

    def poke(self, context) -> PokeReturnValue:
        from pipelines import orchestration as o

        found = o.new_push_arrivals()
        return PokeReturnValue(is_done=bool(found), xcom_value=found)


@dag(
    dag_id="push_arrival",
    schedule="@continuous",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["retire-prep", "monthly", "sensor"],
    doc_md=DOC,
    default_args={"owner": "information-division", "retries": 2, "retry_delay": timedelta(minutes=5)},
)
def push_arrival():
    @task(outlets=[PUSH_ARRIVED])
    def announce(batches: list[dict], *, outlet_events=None) -> dict:
        from pipelines import orchestration as o

        extra = o.announce_push_arrivals(batches)
        outlet_events[PUSH_ARRIVED].extra = extra
        return extra

    announce(
        PushInboxSensor(
            task_id="complete_batch", poke_interval=POKE_SECONDS, timeout=6 * 3600, mode="reschedule", soft_fail=True
        ).output
    )


push_arrival()
