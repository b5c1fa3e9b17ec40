-- reads: office_progress (views of sql/warehouse/)
-- writes: - (a SELECT: the analysts' table)
-- params: -
-- The analysts' view office_progress (outputs.md "The warehouse, for analysts"), as a table.
SELECT * FROM office_progress
