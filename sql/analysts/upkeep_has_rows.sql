-- reads: - (the previous file's copy of the table, the params db and table)
-- writes: -
-- params: db, table
-- 1 when the copy's table has a row, else 0 (an empty table is written whole: pipelines/analysts.py).
SELECT count(*) FROM (FROM {{ db | sql_ident }}.{{ table | sql_ident }} LIMIT 1);
