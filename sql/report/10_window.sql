-- reads: month_runs
-- writes: -
-- params: -
-- The month's report (outputs.md report): the window of month P's refusals: received after the previous month's run, up to the run that
-- published P (a replay: the original run, so it re-emits what was published).
-- Bound: mi, mi, mi.
SELECT (SELECT max(started_at) FROM month_runs
        WHERE command = 'run' AND status = 'DONE' AND NOT replay AND month_mi < ?) AS lo,
       coalesce((SELECT max(started_at) FROM month_runs
                 WHERE command = 'run' AND month_mi = ? AND status = 'RUNNING' AND NOT replay),
                (SELECT max(started_at) FROM month_runs
                 WHERE command = 'run' AND status = 'DONE' AND NOT replay AND month_mi = ?)) AS hi
