-- reads: -
-- writes: - (TEMP {{ rej }}; {{ raw }} without its rows that are not UTF-8)
-- params: raw, rej
-- The rows of the Parquet file just read (05_read_parquet.sql) with a BINARY value that is not
-- UTF-8: UNPARSABLE_ROW (push-format.md), their text not kept.
CREATE OR REPLACE TEMP TABLE {{ rej }} AS
SELECT row_no, NULL::VARCHAR AS raw_text, 'UNPARSABLE_ROW: a BINARY value is not UTF-8' AS reason
FROM {{ raw }} WHERE _bad_utf8;
DELETE FROM {{ raw }} WHERE _bad_utf8;
ALTER TABLE {{ raw }} DROP COLUMN _bad_utf8;
