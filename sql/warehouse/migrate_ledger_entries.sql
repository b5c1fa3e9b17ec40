-- reads: -
-- writes: ledger_entries
-- params: old
-- issue 19 (ninth session): a warehouse made before ledger_entries lost its PRIMARY KEY (entry_id) and
-- its index on id_no (DuckDB cannot drop a key in place). pipelines.warehouse.migrate_ledger_entries
-- dropped the index, renamed the old table to {{ old }} and made the new one from schema.sql; this
-- copies every row as it was (by column name, in the table's order), in the same transaction; the
-- caller compares the counts and drops {{ old }}.
INSERT INTO ledger_entries BY NAME SELECT * FROM {{ old }};
