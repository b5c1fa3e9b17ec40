-- The analysts' view ledger_current (outputs.md "The warehouse, for analysts"), as a table.
-- reads: ledger_current (sql/warehouse/views.sql, schema_feedback.sql)
-- writes: nothing (a SELECT)
-- params: none
SELECT * FROM ledger_current
