-- reads: - (information_schema.columns: the table's columns and their types)
-- writes: - (the table named by the caller: feedback_events, feedback_rows)
-- params: table, columns, filled (and DuckDB parameters: one list per column, named after it)
-- A feedback file's rows of a warehouse table, inserted at once when the file is decided
-- (pipelines/feedback/buffers.py): each column a list parameter cast to the column's type as the
-- schema declares it (sql/warehouse/schema_feedback.sql), the lists unnested side by side (row
-- order kept); the columns in `filled` get an expression (recorded_at: now()).

-- name: columns
SELECT column_name, data_type FROM information_schema.columns
WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = $table
ORDER BY ordinal_position;

-- name: insert
INSERT INTO {{ table | sql_ident }} ({{ columns | map(attribute=0) | map("sql_ident") | join(", ") }})
SELECT {% for name, type in columns %}{{ filled[name] if name in filled else "unnest($" ~ name ~ "::" ~ type ~ "[])" }}{{ ", " if not loop.last }}{% endfor %};
