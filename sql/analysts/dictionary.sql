-- reads: -
-- writes: - (the table dictionary of the new analysts' file, the param db)
-- params: db (and five DuckDB parameters: the columns' values as lists, made by pipelines/analysts.py)
-- Every column of every table of the file with its type, Chinese name and meaning (data/dictionary.csv,
-- data/analysts_dictionary.csv): the lists unnested side by side, in their order.
CREATE TABLE {{ db | sql_ident }}.dictionary AS
SELECT unnest(?::VARCHAR[]) AS table_name, unnest(?::VARCHAR[]) AS column_name, unnest(?::VARCHAR[]) AS data_type,
       unnest(?::VARCHAR[]) AS name_zh, unnest(?::VARCHAR[]) AS meaning;
