-- The analysts' view objections_open (outputs.md "The warehouse, for analysts"), as a table.
-- reads: objections_open (sql/warehouse/views.sql, schema_feedback.sql)
-- writes: nothing (a SELECT)
-- params: none
SELECT * FROM objections_open
