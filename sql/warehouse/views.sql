-- Analyst views (outputs.md "The warehouse, for analysts"): a pseudonymous person_key,
-- never the ID number, the name or the phone.
CREATE OR REPLACE MACRO person_key(id_no) AS substr(sha256({{ person_key_secret }} || '|' || id_no), 1, 16);

CREATE OR REPLACE VIEW batches AS
SELECT seq, batch_id, push_type, base_seq, data_month, status, file_format, encoding,
       persons_rows, persons_accepted, persons_quarantined,
       segments_rows, segments_accepted, segments_quarantined,
       persons_accepted + persons_quarantined = persons_rows
         AND segments_accepted + segments_quarantined = segments_rows AS rows_balanced,
       persons_inserted, persons_updated, persons_left, warnings,
       received_at, applied_at, message
FROM push_batches
UNION ALL
SELECT seq, batch_id, NULL, NULL, NULL, 'REFUSED', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, refused_at, NULL,
       reason_code || ': ' || coalesce(file || ' ', '') || coalesce('row ' || row_no || ' ', '') || reason
FROM batch_refusals;

CREATE OR REPLACE VIEW quarantine AS
SELECT q.seq, q.batch_id, q.file, q.row_no, q.reason_code, q.reason,
       CASE WHEN q.id_no_raw IS NULL THEN NULL ELSE person_key(upper(trim(q.id_no_raw))) END AS person_key
FROM quarantine_rows q;
