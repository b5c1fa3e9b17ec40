-- reads: batches (views of sql/warehouse/)
-- writes: - (a SELECT: the analysts' table)
-- params: -
-- The analysts' view batches (outputs.md "The warehouse, for analysts"), as a table.
SELECT * FROM batches
