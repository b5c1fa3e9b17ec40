-- reads: - (the previous file's copy of the table, the params db and table; the table's SELECT, the param select)
-- writes: -
-- params: db, table, select
-- The rows of the copy's table kept up to date and of its SELECT now: the check after an upkeep
-- (pipelines/analysts.py; not the same: the table is written whole).
SELECT (SELECT count(*) FROM {{ db | sql_ident }}.{{ table | sql_ident }}),
       (SELECT count(*) FROM ({{ select }}));
