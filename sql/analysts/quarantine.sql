-- reads: quarantine (views of sql/warehouse/)
-- writes: - (a SELECT: the analysts' table)
-- params: -
-- The analysts' view quarantine (outputs.md "The warehouse, for analysts"), as a table.
SELECT * FROM quarantine
