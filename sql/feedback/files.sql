-- reads: feedback_files, feedback_rows, ledger_entries, conclusions
-- writes: feedback_files
-- params: - (DuckDB parameters, bound per statement: $file_sha256, $file_name, $rows, $accepted, $refused, $already_applied, $reason_code, $reason, $reason_zh, $row_key, $office)
-- The statements about feedback files and their rows (pipelines/feedback/apply.py, run.py), one per
-- `-- name:` block (pipelines/feedback/queries.py).  A file is recognised by file_sha256 (its bytes
-- and the office it is bound to): an APPLIED file is never applied again (rules.md §7).

-- name: applied_before
-- the outcome of the file when it was applied before (the first time)
SELECT rows, accepted, refused, already_applied FROM feedback_files
WHERE file_sha256 = $file_sha256 AND status = 'APPLIED'
ORDER BY processed_at LIMIT 1;

-- name: record_applied
INSERT INTO feedback_files (file_sha256, file_name, status, rows, accepted, refused, already_applied, processed_at)
VALUES ($file_sha256, $file_name, 'APPLIED', $rows, $accepted, $refused, $already_applied, now());

-- name: record_refused
-- a file refused whole: no row of it applied
INSERT INTO feedback_files (
    file_sha256, file_name, status, rows, accepted, refused, already_applied, reason_code, reason, reason_zh, processed_at
)
VALUES ($file_sha256, $file_name, 'REFUSED', 0, 0, 0, 0, $reason_code, $reason, $reason_zh, now());

-- name: rows_applied_before
-- the rows identical to a row of the file (same person, event, date, office and data) applied before,
-- in the order applied, with the day (Asia/Shanghai): the n-th identical row of a file is sent again
-- (ALREADY_APPLIED) when there are at least n (docs/feedback-format.md "Applying twice")
SELECT file_name, row_no, CAST(timezone('Asia/Shanghai', recorded_at) AS DATE) AS applied_on, recorded_at
FROM feedback_rows WHERE row_key = $row_key AND status = 'APPLIED'
ORDER BY recorded_at, row_no;

-- name: receipt_file
-- the file's outcome for its office's receipt (pipelines/feedback/receipts.py): the time it was
-- applied (an APPLIED key is never applied again), else its first refusal (the same bytes are refused
-- the same way: a file left in the inbox keeps the same receipt, run after run)
-- sent_again: its rows taken as sent again although they would change the pre-service (SENT_AGAIN)
-- out_of_order: the persons with a row below another of theirs dated later, one of the two refused (a
-- sheet sorted by 事件 …: a person's events are applied from the top down, so a later one above is
-- refused, or comes first; a row reported late on purpose, an objection dated before the confirmation
-- it suspends, refuses nothing and is not counted)
-- deadlines_open: the entries a row of the file changed whose objection deadline is kept open now
-- (CALENDAR_UNKNOWN, rules.md §7: a year the working-day calendar does not know yet)
SELECT f.file_name, f.status, f.rows, f.accepted, f.refused, f.already_applied, f.reason_code, f.reason_zh,
       timezone('Asia/Shanghai', f.processed_at) AS processed_at,
       (SELECT count(*) FROM feedback_rows AS r
        WHERE r.file_sha256 = f.file_sha256 AND r.status = 'ALREADY_APPLIED' AND r.reason_code IS NOT NULL)
           AS sent_again,
       (SELECT count(DISTINCT a.person_key) FROM feedback_rows AS a
        INNER JOIN feedback_rows AS b
            ON a.file_sha256 = b.file_sha256 AND a.person_key = b.person_key
                AND a.row_no < b.row_no AND a.event_date > b.event_date
        WHERE a.file_sha256 = f.file_sha256 AND 'REFUSED' IN (a.status, b.status)) AS out_of_order,
       (SELECT count(DISTINCT r.entry_id) FROM feedback_rows AS r
        INNER JOIN conclusions AS c ON c.entry_id = r.entry_id AND c.superseded_on IS NULL
        WHERE r.file_sha256 = f.file_sha256 AND r.status = 'APPLIED' AND c.deadline_status = 'CALENDAR_UNKNOWN')
           AS deadlines_open
FROM feedback_files AS f WHERE f.file_sha256 = $file_sha256
ORDER BY f.status = 'APPLIED' DESC, f.processed_at
LIMIT 1;

-- name: receipt_rows
-- the refused rows of the file, for its office's receipt: the ID number only of a row whose ledger
-- entry is the office's own (a row refused UNKNOWN_PERSON has no entry_id: nothing about another
-- office's person, docs/feedback-format.md "Whose file"; a row refused by its own checks has the
-- entry its valid ID number names at the office, pipelines/feedback/run.py _own_entries)
SELECT r.row_no, r.event, r.event_date, r.reason_code, r.reason_zh, e.id_no
FROM feedback_rows r
LEFT JOIN ledger_entries e ON e.entry_id = r.entry_id AND e.office_code = $office
WHERE r.file_sha256 = $file_sha256 AND r.status = 'REFUSED'
ORDER BY r.row_no;

-- name: receipt_sent_again
-- the rows of the file taken as sent again although they would change the entry's pre-service now
-- (ALREADY_APPLIED with SENT_AGAIN, docs/feedback-format.md "Applying twice"), as receipt_rows
SELECT r.row_no, r.event, r.event_date, r.reason_code, r.reason_zh, e.id_no
FROM feedback_rows r
LEFT JOIN ledger_entries e ON e.entry_id = r.entry_id AND e.office_code = $office
WHERE r.file_sha256 = $file_sha256 AND r.status = 'ALREADY_APPLIED' AND r.reason_code IS NOT NULL
ORDER BY r.row_no;
