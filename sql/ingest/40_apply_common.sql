-- reads: incoming, p_left, rej_segments, segments_checked
-- writes: cur, p_changed, p_left_rows, person_versions, seg_changed, seg_in, seg_kept, segment_versions
-- params: seq
{# Shared by 40_apply_full.sql and 40_apply_incr.sql: new person versions and segment sets.
    Needs TEMP incoming (accepted I/U rows), p_left (id_no leaving the push), and the batch's
    segments_checked and rej_segments (its unparsable segment records). -#}
{%- set person_cols = "id_no, name, gender, birth_date, insurance_type, person_type, hukou_region, insured_region, benefit_region_ministry, employer_uscc, employer_name, phone, contribution_status, retired, survival_status, actual_contribution_months, deemed_months, deemed_status, deemed_region, arrears_months" -%}
CREATE OR REPLACE TEMP TABLE cur AS
SELECT id_no, row_hash, in_push FROM person_versions WHERE valid_to_seq IS NULL;

CREATE OR REPLACE TEMP TABLE p_changed AS  -- ids only: the rows stay in incoming
SELECT i.id_no, c.id_no IS NULL AS is_new
FROM incoming i LEFT JOIN cur c USING (id_no)
WHERE c.id_no IS NULL OR c.row_hash <> i.row_hash OR NOT c.in_push;

-- A person of the batch with one of his or her segment rows quarantined (push-format.md "Bad
-- input": the row is kept in quarantine, not dropped) brings a set the push itself says is
-- incomplete: a person already in the warehouse keeps the current set (as a quarantined persons
-- row keeps the current version); a new person has no earlier set and takes the accepted rows.
-- docs/decisions.md "A quarantined segment row". An unparsable record (rej_segments) counts for
-- every ID number its text holds. Only the segment set is kept: the persons row applies as usual.
CREATE OR REPLACE TEMP TABLE seg_kept AS
SELECT i.id_no FROM incoming i SEMI JOIN cur c USING (id_no)
WHERE i.id_no IN (SELECT id_no FROM segments_checked WHERE reason_code IS NOT NULL
                  UNION ALL
                  SELECT upper(unnest(regexp_extract_all(raw_text, '\b[0-9]{17}[0-9Xx]\b'))) FROM rej_segments);

-- segments: a person's set is replaced when it differs (order-insensitive), but not when kept
CREATE OR REPLACE TEMP TABLE seg_in AS
SELECT s.id_no,
       CAST(s.row_no AS INTEGER) AS seg_no,   -- the segment's row in its batch file
       s.region_code, s.start_mi, s.end_mi, s.relation_status
FROM segments_checked s SEMI JOIN incoming i USING (id_no) ANTI JOIN seg_kept k USING (id_no)
WHERE s.reason_code IS NULL;

CREATE OR REPLACE TEMP TABLE seg_changed AS
-- A set's fingerprint: count and sum of 64-bit row hashes (order-insensitive; a repeated
-- segment counts twice, so it cannot cancel out as with XOR).
WITH h_in AS (
    SELECT i.id_no, count(s.id_no) AS n,
           coalesce(sum(hash(s.region_code, s.start_mi, s.end_mi, s.relation_status)::HUGEINT), 0) AS h
    FROM incoming i ANTI JOIN seg_kept k USING (id_no) LEFT JOIN seg_in s USING (id_no) GROUP BY i.id_no
),
h_cur AS (
    SELECT v.id_no, count(*) AS n,
           sum(hash(v.region_code, v.start_mi, v.end_mi, v.relation_status)::HUGEINT) AS h
    FROM segment_versions v SEMI JOIN incoming i USING (id_no)
    WHERE v.valid_to_seq IS NULL GROUP BY v.id_no
)
SELECT h_in.id_no FROM h_in LEFT JOIN h_cur USING (id_no)
WHERE h_in.n <> coalesce(h_cur.n, 0) OR h_in.h <> coalesce(h_cur.h, 0);

-- left persons keep their last data, as a version that is out of the push
CREATE OR REPLACE TEMP TABLE p_left_rows AS
SELECT v.* FROM person_versions v SEMI JOIN p_left l USING (id_no) WHERE v.valid_to_seq IS NULL;

UPDATE person_versions SET valid_to_seq = {{ seq }}
WHERE valid_to_seq IS NULL
  AND (id_no IN (SELECT id_no FROM p_changed) OR id_no IN (SELECT id_no FROM p_left));

INSERT INTO person_versions
SELECT {{ person_cols }}, true, row_hash, {{ seq }}, NULL FROM incoming SEMI JOIN p_changed USING (id_no);

INSERT INTO person_versions
SELECT {{ person_cols }}, false, row_hash, {{ seq }}, NULL FROM p_left_rows;

UPDATE segment_versions SET valid_to_seq = {{ seq }}
WHERE valid_to_seq IS NULL AND id_no IN (SELECT id_no FROM seg_changed);

INSERT INTO segment_versions
SELECT s.id_no, s.seg_no, s.region_code, s.start_mi, s.end_mi, s.relation_status, {{ seq }}, NULL
FROM seg_in s SEMI JOIN seg_changed c USING (id_no);

-- What the batch did: new persons, changed persons (row or segments), persons who left, persons
-- who kept their earlier segments (the warnings follow in the including file: 40_apply_full.sql,
-- 40_apply_incr.sql).
SELECT
    (SELECT count(*) FROM p_changed WHERE is_new),
    (SELECT count(*) FROM (SELECT id_no FROM p_changed WHERE NOT is_new UNION SELECT id_no FROM seg_changed
                           EXCEPT SELECT id_no FROM p_changed WHERE is_new)),
    (SELECT count(*) FROM p_left),
    (SELECT count(*) FROM seg_kept),
