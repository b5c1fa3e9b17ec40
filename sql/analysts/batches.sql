-- The analysts' view batches (outputs.md "The warehouse, for analysts"), as a table.
-- reads: batches (sql/warehouse/views.sql, schema_feedback.sql)
-- writes: nothing (a SELECT)
-- params: none
SELECT * FROM batches
