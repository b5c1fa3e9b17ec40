-- reads: -
-- writes: - (the table code_labels of the new analysts' file, the param db)
-- params: db (and three DuckDB parameters: the columns' values as lists, from pipelines.labels.label_rows)
-- The Chinese label of every code the analysts' tables carry (pipelines/analysts.py, from data/): the
-- lists unnested side by side, in their order.
CREATE TABLE {{ db | sql_ident }}.code_labels AS
SELECT unnest(?::VARCHAR[]) AS kind, unnest(?::VARCHAR[]) AS code, unnest(?::VARCHAR[]) AS label_zh;
