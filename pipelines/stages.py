"""The stages of a month's run (issue 15): one table, which ``monthly.run_month`` (the CLI's
``retire-prep run``) loops over and ``dags/pre_service_monthly.py`` builds its tasks from.

A month is ``begin`` (the month order, the run recorded as RUNNING), the stages below in their
order, then ``finish`` (the staging folder swapped in, the run DONE): ``pipelines/monthly.py``.

* A stage that **writes** the warehouse is one transaction, validated before it commits; the DAG
  runs it as a task in the one-slot pool ``retire_prep_warehouse``, one after another, in this order.
* A stage that **only reads** the warehouse writes files into the month's staging folder
  ``OUT/.P.partial`` (``pipelines.outputs.staging_dir``); the DAG runs these tasks side by side on
  read-only connections, after every writer. ``finish`` then swaps the staging folder into ``OUT/P``
  with the same function as the CLI (``pipelines.outputs.swap_in_month``).
* A stage **per office** takes the offices it writes for (``offices=[...]``; every office of the
  month when not given): the DAG maps it over groups of offices (``orchestration.office_groups``).

Every stage's function is ``fn(con, ctx, *, validate=True, replay=False[, offices=None]) -> counts``;
on a replay (re-emitting a month as it was) a writer writes nothing but what its readers need.

Standard library only: the DAG file imports this table each time Airflow parses it (often, and
cheaply); a stage's function is named as ``module:function`` of ``pipelines`` and imported when
the stage runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module


@dataclass(frozen=True)
class Stage:
    name: str  # the stage, and its DAG task's id
    function: str  # "module:function" in pipelines
    writes: bool  # writes the warehouse (else: only reads it, and writes files into the staging folder)
    per_office: bool = False  # takes offices=[...]: the DAG maps it over groups of offices

    def __call__(self, con, ctx, **kwargs) -> dict:
        module, name = self.function.split(":")
        return getattr(import_module(f"pipelines.{module}"), name)(con, ctx, **kwargs) or {}


STAGES: tuple[Stage, ...] = (
    Stage("screen", "monthly:screen_stage", writes=True),  # rules.md §1–4 for everyone in the push
    Stage("ledger", "monthly:ledger_stage", writes=True),  # §3 close, hand over, open, officers
    Stage("notices", "monthly:notices_stage", writes=True),  # §5 reminders into the notices table
    Stage("worklists", "monthly:worklists_stage", writes=True),  # the offices' ledgers of P (snapshot)
    # after the worklists: the forecast reads their channel (sql/forecast/10_forecast.sql)
    Stage("forecast", "monthly:forecast_stage", writes=True),  # each office's workload of P+1 … (issue 18)
    Stage("office_files", "outputs:office_files_stage", writes=False, per_office=True),  # worklists, notices
    Stage("month_files", "outputs:month_files_stage", writes=False),  # handovers, letters, forecast, report
)

WRITERS = tuple(s for s in STAGES if s.writes)
READERS = tuple(s for s in STAGES if not s.writes)
# the readers run side by side once every writer has committed (one writer per DuckDB file)
assert STAGES == WRITERS + READERS, "every stage that writes the warehouse comes before the readers"


def stage(name: str) -> Stage:
    """The stage called ``name``."""
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(f"no stage {name!r}: {', '.join(s.name for s in STAGES)}")
