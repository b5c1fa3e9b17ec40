-- reads: _an_months, screen_results (and the copy's table, the params db and table)
-- writes: -
-- params: db, table
-- The latest screened month now, the copy's latest screened month, and how many months were screened
-- between them or run again since the copy (pipelines/analysts.py::_screened_months: the copy's
-- ledger_current follows a run in place only when none).
WITH c AS (SELECT max(screened_month) AS m FROM {{ db | sql_ident }}.{{ table | sql_ident }}),
ci AS (SELECT CAST(left(m, 4) AS INTEGER) * 12 + CAST(right(m, 2) AS INTEGER) - 1 AS mi FROM c)
SELECT (SELECT max(month_mi) FROM screen_results),
       ci.mi,
       (SELECT count(*) FROM (SELECT DISTINCT month_mi FROM screen_results) AS s
        WHERE s.month_mi > ci.mi AND s.month_mi < (SELECT max(month_mi) FROM screen_results))
       + (SELECT count(*) FROM _an_months WHERE month_mi = ci.mi)
FROM ci;
