-- reads: month_runs
-- writes: - (a SELECT: the analysts' table)
-- params: -
-- Every run and declare of a month with its push state and outcome.
SELECT month_text(month_mi) AS month, command, as_of_seq, replay, started_at, finished_at, status
FROM month_runs ORDER BY started_at
