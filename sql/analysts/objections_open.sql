-- reads: objections_open (views of sql/warehouse/)
-- writes: - (a SELECT: the analysts' table)
-- params: -
-- The analysts' view objections_open (outputs.md "The warehouse, for analysts"), as a table.
SELECT * FROM objections_open
