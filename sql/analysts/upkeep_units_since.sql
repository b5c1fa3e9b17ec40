-- reads: - (the previous file's copy of the table, the params db and table; the table's SELECT, the param select)
-- writes: -
-- params: db, table, stamp, select
-- For the upkeep of a table of units (sql/analysts/upkeep_units.sql): the copy's latest stamp (as
-- text), and whether it is after the latest of the SELECT now (a warehouse restored from a backup:
-- the table is written whole).
SELECT CAST((SELECT max({{ stamp | sql_ident }}) FROM {{ db | sql_ident }}.{{ table | sql_ident }}) AS VARCHAR),
       (SELECT max({{ stamp | sql_ident }}) FROM {{ db | sql_ident }}.{{ table | sql_ident }})
           > (SELECT max({{ stamp | sql_ident }}) FROM ({{ select }}));
