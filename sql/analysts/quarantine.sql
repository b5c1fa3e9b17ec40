-- The analysts' view quarantine (outputs.md "The warehouse, for analysts"), as a table.
-- reads: quarantine (sql/warehouse/views.sql, schema_feedback.sql)
-- writes: nothing (a SELECT)
-- params: none
SELECT * FROM quarantine
