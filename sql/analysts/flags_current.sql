-- reads: flags, person_keys, screen_results
-- writes: - (a SELECT: the analysts' table)
-- params: -
-- The analysts' view flags_current (sql/warehouse/views.sql, outputs.md "The warehouse, for analysts"),
-- as a table: the same rows and columns (tests/analysts/test_analysts.py compares them), with the latest month
-- filtering both flags and screen_results before the join (the view filters flags only; ≈ 15 % less
-- at 1,000,000 persons).
WITH last AS (SELECT max(month_mi) AS m FROM screen_results)
SELECT k.person_key, month_text(f.month_mi) AS month, f.code, analysts_evidence(f.code, f.evidence) AS evidence, r.office_code
FROM flags f
JOIN person_keys k ON k.id_no = f.id_no
JOIN screen_results r ON r.month_mi = f.month_mi AND r.id_no = f.id_no
WHERE f.month_mi = (SELECT m FROM last) AND r.month_mi = (SELECT m FROM last)
