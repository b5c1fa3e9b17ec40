-- The analysts' view notices (outputs.md "The warehouse, for analysts"), as a table.
-- reads: notices (sql/warehouse/views.sql, schema_feedback.sql)
-- writes: nothing (a SELECT)
-- params: none
SELECT * FROM notices
