-- reads: -
-- writes: month_runs
-- params: month_mi, status
-- The run of month P ends: DONE (its files published) or FAILED.
UPDATE month_runs SET status = {{ status | sql_str }}, finished_at = now()
WHERE month_mi = {{ month_mi | int }} AND command = 'run' AND status = 'RUNNING';
