-- reads: -
-- writes: - (TEMP {{ raw }}_load; DuckDB's own reject_errors and reject_scans)
-- params: header, path, raw
-- A CSV file (push-format.md: RFC 4180, UTF-8 — a GB18030 file is read from its UTF-8 copy) read as
-- text: every column of its header (checked against the contract before) as VARCHAR, in file order;
-- the records DuckDB cannot parse go to reject_errors. pipelines.ingest.files._load_csv turns a file
-- DuckDB cannot read at all into a refusal; {{ raw }} is raw_persons, raw_segments or _apps.
DROP TABLE IF EXISTS reject_errors;
DROP TABLE IF EXISTS reject_scans;
CREATE OR REPLACE TEMP TABLE {{ raw }}_load AS
SELECT * FROM read_csv({{ path | sql_str }}, header = true, auto_detect = false,
                       columns = { {%- for c in header %}{{ c | sql_str }}: 'VARCHAR'{{ ", " if not loop.last }}{% endfor -%} },
                       delim = ',', quote = '"', escape = '"', strict_mode = true,
                       store_rejects = true, rejects_table = 'reject_errors',
                       rejects_scan = 'reject_scans', parallel = true);
