-- reads: -
-- writes: month_runs
-- params: month_mi, status
-- The declaration screening of month P ends: DONE (its files written) or FAILED.
UPDATE month_runs SET status = {{ status | sql_str }}, finished_at = now()
WHERE month_mi = {{ month_mi | int }} AND command = 'declare' AND status = 'RUNNING';
