-- The analysts' view flags_current (outputs.md "The warehouse, for analysts"), as a table.
-- reads: flags_current (sql/warehouse/views.sql, schema_feedback.sql)
-- writes: nothing (a SELECT)
-- params: none
SELECT * FROM flags_current
