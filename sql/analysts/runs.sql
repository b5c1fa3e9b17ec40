-- Every run and declare of a month with its push state and outcome.
-- reads: month_runs
-- writes: nothing (a SELECT: the analysts' table month_runs)
-- params: none
SELECT month_text(month_mi) AS month, command, as_of_seq, replay, started_at, finished_at, status
FROM month_runs ORDER BY started_at
