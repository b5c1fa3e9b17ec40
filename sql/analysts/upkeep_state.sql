-- reads: month_runs (and the copy's month_runs, db.month_runs, when it has one; the param runs: sql/analysts/runs.sql)
-- writes: _an_copy_runs, _an_months
-- params: db, runs, has_runs
-- What the upkeep of the analysts' file needs to know of the copy (pipelines/analysts.py; issues 17/18):
-- its month_runs as they were when it was built (_an_copy_runs), and the months of a run that began,
-- ended or was rerun since, or is under way (_an_months; every month run when the copy has no
-- month_runs). No such month: only commands other than runs changed the warehouse since.
{% if has_runs %}
CREATE OR REPLACE TEMP TABLE _an_copy_runs AS SELECT * FROM {{ db | sql_ident }}.month_runs;

CREATE OR REPLACE TEMP TABLE _an_months AS
SELECT DISTINCT CAST(left(month, 4) AS INTEGER) * 12 + CAST(right(month, 2) AS INTEGER) - 1 AS month_mi
FROM ((SELECT month, command, replay, started_at, finished_at, status FROM ({{ runs }}) w
       EXCEPT SELECT month, command, replay, started_at, finished_at, status FROM _an_copy_runs)
      UNION ALL
      (SELECT month, command, replay, started_at, finished_at, status FROM _an_copy_runs
       EXCEPT SELECT month, command, replay, started_at, finished_at, status FROM ({{ runs }}) w)) d
WHERE command = 'run'
UNION
SELECT month_mi FROM month_runs WHERE command = 'run' AND status = 'RUNNING';
{% else %}
CREATE OR REPLACE TEMP TABLE _an_copy_runs AS SELECT * FROM ({{ runs }}) w WHERE false;

CREATE OR REPLACE TEMP TABLE _an_months AS SELECT DISTINCT month_mi FROM month_runs;
{% endif %}
