-- reads: - (what the table's SELECT reads: the param select, a file of sql/analysts/)
-- writes: - (the table of the new analysts' file named by the params db and table)
-- params: db, table, select
-- An analysts' table written whole from its SELECT (pipelines/analysts.py TABLES).
DROP TABLE IF EXISTS {{ db | sql_ident }}.{{ table | sql_ident }};

CREATE TABLE {{ db | sql_ident }}.{{ table | sql_ident }} AS {{ select }};
