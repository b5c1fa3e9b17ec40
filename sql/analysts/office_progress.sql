-- The analysts' view office_progress (outputs.md "The warehouse, for analysts"), as a table.
-- reads: office_progress (sql/warehouse/views.sql, schema_feedback.sql)
-- writes: nothing (a SELECT)
-- params: none
SELECT * FROM office_progress
