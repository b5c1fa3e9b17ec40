-- reads: handovers
-- writes: -
-- params: -
-- The month's report (outputs.md report): P's handovers by kind and offices (rules.md §2, §3).
-- Bound: month_mi.
SELECT kind, from_code, to_code, count(*) FROM handovers WHERE month_mi = ?
GROUP BY ALL ORDER BY ALL
