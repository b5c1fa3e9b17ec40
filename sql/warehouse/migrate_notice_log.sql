-- reads: -
-- writes: notice_log
-- params: old
-- issue 19: a warehouse made before notice_log lost its PRIMARY KEY and UNIQUE (DuckDB cannot drop
-- either in place). pipelines.warehouse.migrate_notice_log renamed the old table to {{ old }} and made
-- the new one from schema.sql; this copies every row as it was (by column name, in the table's
-- order), in the same transaction; the caller compares the counts and drops {{ old }}.
INSERT INTO notice_log BY NAME SELECT * FROM {{ old }};
