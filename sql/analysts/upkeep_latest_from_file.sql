-- reads: flags, month_runs, screen_results (and the new file's table, the params db and source)
-- writes: -
-- params: db, source
-- The latest screened month, and whether its flags_month rows can be counted from the table the new
-- file was just given whole (pipelines/analysts.py::_latest_month_from_file): the month's run is
-- DONE, and that table has as many rows as flags that month, all of that month.
WITH l AS (SELECT max(month_mi) AS m FROM screen_results)
SELECT l.m,
       l.m IN (SELECT month_mi FROM month_runs WHERE command = 'run' AND status = 'DONE')
       AND (SELECT count(*) FROM {{ db | sql_ident }}.{{ source | sql_ident }})
       = (SELECT count(*) FROM flags WHERE month_mi = l.m)
       AND (SELECT count(*) FROM {{ db | sql_ident }}.{{ source | sql_ident }}
            WHERE month IS DISTINCT FROM month_text(l.m)) = 0
FROM l;
