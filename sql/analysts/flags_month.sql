-- reads: flags, screen_results, month_runs
-- writes: - (a SELECT: the analysts' table)
-- params: -
-- Flags (rules.md §4) per month, office and code: persons screened in the month with that flag.
SELECT month_text(f.month_mi) AS month, f.month_mi, r.office_code, f.code, count(*) AS persons
FROM flags f JOIN screen_results r USING (month_mi, id_no)
WHERE f.month_mi IN (SELECT month_mi FROM month_runs WHERE command = 'run' AND status = 'DONE')
GROUP BY ALL
ORDER BY f.month_mi, r.office_code, f.code
