-- reads: flags_current (views of sql/warehouse/)
-- writes: - (a SELECT: the analysts' table)
-- params: -
-- The analysts' view flags_current (outputs.md "The warehouse, for analysts"), as a table.
SELECT * FROM flags_current
