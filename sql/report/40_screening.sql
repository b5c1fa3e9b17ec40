-- reads: screen_results
-- writes: -
-- params: -
-- The month's report (outputs.md report): P's screening: scope a/b/c and triggers (rules.md §3).
-- Bound: month_mi.
SELECT count(*), count(scope_rule), count(*) FILTER (scope_rule = 'a'), count(*) FILTER (scope_rule = 'b'),
       count(*) FILTER (scope_rule = 'c'), count(*) FILTER (trigger_application),
       count(*) FILTER (trigger_screening), count(*) FILTER (benefit_province <> '640000')
FROM screen_results WHERE month_mi = ?
