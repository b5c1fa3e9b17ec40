-- reads: flags
-- writes: -
-- params: -
-- The month's report (outputs.md report): Flags of P by code (rules.md §4).
-- Bound: month_mi.
SELECT code, count(*) FROM flags WHERE month_mi = ? GROUP BY code ORDER BY 2 DESC, 1
