-- reads: - (the previous file's copy of the table, the params db and table; the table's source, the param source)
-- writes: -
-- params: db, table, stamp, source
-- For the upkeep of a table of units (sql/analysts/upkeep_units.sql): the copy's latest stamp (as
-- text); whether nothing was recorded since (the source's latest stamp and row count are the copy's:
-- one analysts' row per source row, and the source only gains rows); whether the copy's latest is
-- after the source's (a warehouse restored from a backup: the table is written whole); and whether
-- the rows stamped at the copy's latest time are as many in the source as in the copy. Read from the
-- source table, not the SELECT's join (pipelines/analysts.py Units).
WITH c AS (SELECT max({{ stamp | sql_ident }}) AS m, count(*) AS n FROM {{ db | sql_ident }}.{{ table | sql_ident }}),
     w AS (SELECT max({{ stamp | sql_ident }}) AS m, count(*) AS n FROM {{ source | sql_ident }})
SELECT CAST(c.m AS VARCHAR), c.m = w.m AND c.n = w.n, c.m > w.m,
       (SELECT count(*) FROM {{ db | sql_ident }}.{{ table | sql_ident }} WHERE {{ stamp | sql_ident }} = c.m)
       = (SELECT count(*) FROM {{ source | sql_ident }} WHERE {{ stamp | sql_ident }} = c.m)
FROM c, w;
