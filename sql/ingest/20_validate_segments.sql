-- reads: persons_checked, raw_segments
-- writes: segments_checked
-- params: -
-- Segment rows of one batch: type them, or give a reason code (push-format.md).
-- In: TEMP raw_segments, persons_checked.  Out: TEMP segments_checked.
CREATE OR REPLACE TEMP TABLE segments_checked AS
WITH t AS (
    SELECT row_no,
        upper(trim(coalesce(id_no, '')))           AS id_no,
        id_no                                      AS id_no_raw,
        trim(coalesce(region_code, ''))            AS region_code,
        trim(coalesce(start_month, ''))            AS start_t,
        trim(coalesce(end_month, ''))              AS end_t,
        trim(coalesce(relation_status, ''))        AS rel_t
    FROM raw_segments
),
owner AS (  -- what the batch's persons file says of each id_no
    SELECT id_no,
           bool_or(reason_code IS NOT NULL) AS any_bad,
           bool_or(reason_code IS NULL AND op = 'D') AS deleted,
           -- the persons check tests the ID first, so BAD_ID_NO there = this id_no is invalid
           bool_and(reason_code IS DISTINCT FROM 'BAD_ID_NO') AS id_ok
    FROM persons_checked GROUP BY id_no
),
typed AS (
    SELECT t.*, mi_of_yyyymm(start_t) AS start_mi, mi_of_yyyymm(end_t) AS end_mi, o.any_bad, o.deleted,
           o.id_no IS NOT NULL AS has_owner, o.id_ok
    FROM t LEFT JOIN owner o USING (id_no)
)
SELECT row_no, id_no, id_no_raw,
    CASE
        -- the GB 11643 check once per person (from the persons check), not once per segment
        WHEN NOT (CASE WHEN has_owner THEN id_ok ELSE id_no_valid(id_no) END) THEN 'BAD_ID_NO'
        WHEN NOT has_owner                                 THEN 'ORPHAN_SEGMENT'
        WHEN any_bad                                       THEN 'PERSON_QUARANTINED'
        WHEN deleted                                       THEN 'SEGMENT_OF_DELETED_PERSON'
        WHEN NOT is_region_code(region_code)               THEN 'BAD_REGION_CODE'
        -- a month of 1900-01 .. 2099-12: what the `ingest` suite holds every stored month to, checked
        -- here on every row so that a typo is quarantined, whatever rows the suite samples
        WHEN start_mi IS NULL OR end_mi IS NULL
             OR start_mi NOT BETWEEN 1900 * 12 AND 2099 * 12 + 11
             OR end_mi NOT BETWEEN 1900 * 12 AND 2099 * 12 + 11 THEN 'BAD_MONTH'
        WHEN end_mi < start_mi                             THEN 'END_BEFORE_START'
        WHEN rel_t NOT IN ('1', '2', '3')                  THEN 'BAD_RELATION_STATUS'
    END AS reason_code,
    region_code, start_mi, end_mi, TRY_CAST(rel_t AS TINYINT) AS relation_status
FROM typed;
