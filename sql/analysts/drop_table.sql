-- reads: -
-- writes: - (drops the table of the new analysts' file named by the params db and table)
-- params: db, table
-- A table of the previous file's copy that is written whole (pipelines/analysts.py: every table but
-- those kept up to date, UPKEEP), or one no longer in TABLES.
DROP TABLE IF EXISTS {{ db | sql_ident }}.{{ table | sql_ident }};
