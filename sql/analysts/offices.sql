-- reads: -
-- writes: - (the table offices of the new analysts' file, the param db)
-- params: db (and four DuckDB parameters: the columns' values as lists, from data/offices)
-- The 29 offices of rules.md §3 with their names and city (pipelines/analysts.py, from data/): the
-- lists unnested side by side, in their order.
CREATE TABLE {{ db | sql_ident }}.offices AS
SELECT unnest(?::VARCHAR[]) AS office_code, unnest(?::VARCHAR[]) AS office_name,
       unnest(?::VARCHAR[]) AS short_name, unnest(?::VARCHAR[]) AS city;
