-- reads: -
-- writes: _blank_records
-- params: -
-- The blank lines of the file (record numbers, header = 1; a bound list, found by
-- pipelines.ingest.files._blank_records): DuckDB skips them but counts them in a reject's `line`.
CREATE OR REPLACE TEMP TABLE _blank_records AS SELECT unnest(?::BIGINT[]) AS rec;
