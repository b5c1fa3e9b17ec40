-- reads: - (the previous file's copy, db.table: ledger_current)
-- writes: _an_changed (and the copy's table, named by the params db and table)
-- params: db, table
-- Upkeep of ledger_current when the entries' own columns are the copy's (sql/analysts/upkeep_ledger_same.sql):
-- only overdue may differ, for the entries whose due date has passed since the copy was built (the
-- same condition as ledger_current.sql's overdue, on the copy's own columns: closed_month is NULL
-- exactly when the entry is open). They are deleted here; upkeep_ledger_again.sql inserts them again from
-- ledger_current.sql restricted to _an_changed (upkeep_ledger_again.sql).
CREATE OR REPLACE TEMP TABLE _an_changed AS
SELECT entry_id FROM {{ db | sql_ident }}.{{ table | sql_ident }}
WHERE overdue IS DISTINCT FROM (closed_month IS NULL AND due_date < CAST(timezone('Asia/Shanghai', now()) AS DATE));

DELETE FROM {{ db | sql_ident }}.{{ table | sql_ident }} WHERE entry_id IN (SELECT entry_id FROM _an_changed);
