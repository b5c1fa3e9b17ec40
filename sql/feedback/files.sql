-- reads: feedback_files, feedback_rows
-- writes: feedback_files
-- params: - (DuckDB parameters, bound per statement: $file_sha256, $file_name, $rows, $accepted, $refused, $already_applied, $reason_code, $reason, $row_key)
-- The statements about feedback files and their rows (pipelines/feedback/apply.py, run.py), one per
-- `-- name:` block (pipelines/feedback/queries.py).  A file is recognised by file_sha256 (its bytes
-- and the office it is bound to): an APPLIED file is never applied again (rules.md §7).

-- name: applied_before
-- the outcome of the file when it was applied before (the first time)
SELECT rows, accepted, refused, already_applied FROM feedback_files
WHERE file_sha256 = $file_sha256 AND status = 'APPLIED'
ORDER BY processed_at LIMIT 1;

-- name: record_applied
INSERT INTO feedback_files
VALUES ($file_sha256, $file_name, 'APPLIED', $rows, $accepted, $refused, $already_applied, NULL, NULL, now());

-- name: record_refused
-- a file refused whole: no row of it applied
INSERT INTO feedback_files VALUES ($file_sha256, $file_name, 'REFUSED', 0, 0, 0, 0, $reason_code, $reason, now());

-- name: row_applied_before
-- a row identical to a row applied before (same person, event, date, office and data): ALREADY_APPLIED
SELECT count(*) FROM feedback_rows WHERE row_key = $row_key AND status = 'APPLIED';
