-- reads: reject_errors
-- writes: - (TEMP {{ rej }})
-- params: rej
-- The records of the file just read (01_read_csv.sql) that DuckDB could not parse, kept with their
-- text as UNPARSABLE_ROW (push-format.md): DuckDB's `line` counts records, header included. Returns
-- how many.
CREATE OR REPLACE TEMP TABLE {{ rej }} AS
SELECT line - 1 AS row_no, any_value(csv_line) AS raw_text,
       'UNPARSABLE_ROW: ' || string_agg(DISTINCT error_type, ', ') AS reason
FROM reject_errors GROUP BY line;
SELECT count(*) FROM {{ rej }};
