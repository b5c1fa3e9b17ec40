-- reads: persons_checked, rej_persons, rej_segments, segments_checked
-- writes: batch_quarantine
-- params: -
-- Row accounting of one batch and its quarantine (accepted + quarantined = manifest rows).
CREATE OR REPLACE TEMP TABLE batch_quarantine AS
SELECT 'persons' AS file, row_no, reason_code, id_no_raw, NULL::VARCHAR AS raw_text FROM persons_checked WHERE reason_code IS NOT NULL
UNION ALL
SELECT 'persons', row_no, 'UNPARSABLE_ROW', NULL, raw_text FROM rej_persons
UNION ALL
SELECT 'segments', row_no, reason_code, id_no_raw, NULL FROM segments_checked WHERE reason_code IS NOT NULL
UNION ALL
SELECT 'segments', row_no, 'UNPARSABLE_ROW', NULL, raw_text FROM rej_segments;

SELECT
    (SELECT count(*) FROM persons_checked WHERE reason_code IS NULL),
    (SELECT count(*) FROM batch_quarantine WHERE file = 'persons'),
    (SELECT count(*) FROM segments_checked WHERE reason_code IS NULL),
    (SELECT count(*) FROM batch_quarantine WHERE file = 'segments');
