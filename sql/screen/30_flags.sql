-- reads: facts, screened, segments_p, to_compute
-- writes: _left_flags (dropped), flags, fresh_flags, month_flags, screen_flag_cache
-- params: month_mi
-- Flags (rules.md §4), each with its evidence: which field, which segment, which months.
-- Evidence never carries the ID number, the name or the phone.
-- The flags that depend only on the person's row and segments are computed for the persons of
-- to_compute and cached (sql/warehouse/schema_screen.sql); three are computed from facts for
-- everyone screened, every month: INSUFFICIENT_YEARS and PAST_AGE_NOT_RETIRED depend on the
-- month, BENEFIT_PLACE_MISMATCH is one comparison with the (cached or fresh) place.
CREATE OR REPLACE TEMP TABLE fresh_flags AS
WITH f AS (
    SELECT * FROM facts SEMI JOIN to_compute USING (id_no)
),
seg AS (
    SELECT s.* FROM segments_p s SEMI JOIN to_compute USING (id_no)
),
unmerged AS (
    SELECT id_no, string_agg(region_code || ' ' || mi_text(start_mi) || '..' || mi_text(end_mi)
                             || ' relation_status=' || relation_status, '; '
                             ORDER BY start_mi, end_mi, region_code) AS ev
    FROM seg WHERE relation_status IN (2, 3) GROUP BY id_no
),
seg_overlaps AS (
    SELECT a.id_no,
           string_agg(a.region_code || ' ' || mi_text(a.start_mi) || '..' || mi_text(a.end_mi) || ' overlaps '
                      || b.region_code || ' ' || mi_text(b.start_mi) || '..' || mi_text(b.end_mi) || ' ('
                      || (least(a.end_mi, b.end_mi) - greatest(a.start_mi, b.start_mi) + 1) || ' months)', '; '
                      ORDER BY a.start_mi, b.start_mi, a.region_code, b.region_code) AS ev
    FROM seg a JOIN seg b
      ON a.id_no = b.id_no
     AND province_of(a.region_code) < province_of(b.region_code)
     AND a.start_mi <= b.end_mi AND b.start_mi <= a.end_mi
    GROUP BY a.id_no
),
key_info AS (
    SELECT id_no, concat_ws('; ',
        CASE WHEN hukou_region IS NULL THEN 'hukou_region missing' END,
        CASE WHEN phone IS NULL THEN 'phone missing'
             WHEN phone_normalized(phone) IS NULL THEN 'phone is not a valid mobile' END,
        CASE WHEN insurance_type = 110 AND gender = 2 AND person_type IS NULL
             THEN 'person_type missing (110 woman; original age taken at 50)' END,
        CASE WHEN insurance_type = 110 AND person_type IN (1, 2) AND employer_uscc IS NULL AND employer_name IS NULL
             THEN 'employer missing (neither employer_uscc nor employer_name)' END,
        CASE WHEN coalesce(deemed_months, 0) > 0 AND deemed_region IS NULL
             THEN 'deemed_region missing for ' || deemed_months || ' deemed months' END
    ) AS ev
    FROM f
)
SELECT id_no, 'YEARS_UNCONFIRMED' AS code,
       'deemed_status=2 (pending), deemed_months=' || coalesce(CAST(deemed_months AS VARCHAR), 'empty') AS evidence
FROM f WHERE deemed_status = 2
UNION ALL
SELECT id_no, 'REMOTE_UNMERGED', 'segments not merged: ' || ev FROM unmerged
UNION ALL
SELECT id_no, 'KEY_INFO_MISSING', ev FROM key_info WHERE ev <> ''
UNION ALL
-- id_no is valid here (ingest quarantines BAD_ID_NO), so its digits are read without checking again
SELECT id_no, 'BIRTH_DATE_CONFLICT',
       'birth_date ' || strftime(birth_date, '%Y-%m-%d') || ' vs ID number '
       || substr(id_no, 7, 4) || '-' || substr(id_no, 11, 2) || '-' || substr(id_no, 13, 2)
FROM f
WHERE year(birth_date) * 10000 + month(birth_date) * 100 + day(birth_date) <> id_birth_ymd_of_valid(id_no)
UNION ALL
SELECT id_no, 'GENDER_CONFLICT', 'gender=' || gender || ' vs ID number gender digit ' || id_gender_of_valid(id_no)
FROM f WHERE gender <> id_gender_of_valid(id_no)
UNION ALL
SELECT id_no, 'DUPLICATE_CONTRIBUTION', ev FROM seg_overlaps
UNION ALL
SELECT id_no, 'ARREARS', 'arrears_months=' || arrears_months FROM f WHERE arrears_months > 0;

-- persons no longer screened leave the cache: a grouped pass, as in sql/screen/10_place_cache.sql
CREATE OR REPLACE TEMP TABLE _left_flags AS
SELECT id_no FROM (SELECT id_no, false AS screened FROM screen_flag_cache
                   UNION ALL SELECT id_no, true FROM screened)
GROUP BY id_no HAVING NOT bool_or(screened);
DELETE FROM screen_flag_cache
WHERE id_no IN (SELECT id_no FROM to_compute UNION ALL SELECT id_no FROM _left_flags);
DROP TABLE _left_flags;
INSERT INTO screen_flag_cache SELECT id_no, code, evidence FROM fresh_flags;

-- the cache now holds only screened persons (the leavers just deleted, the fresh ones from facts):
-- read whole, without a semi join with every screened ID (out of memory at 25,000,000 and 1 GB)
CREATE OR REPLACE TEMP TABLE month_flags AS
SELECT id_no, code, evidence FROM screen_flag_cache
UNION ALL
SELECT id_no, 'INSUFFICIENT_YEARS',
       'projected ' || projected || ' months (counted ' || counted
       || CASE WHEN contribution_status = 1 THEN ' + ' || greatest(0, statutory_age_mi - {{ month_mi }}) || ' to come' ELSE ', not contributing' END
       || ') < minimum ' || min_months || ' for ' || (statutory_age_mi // 12)
FROM facts WHERE insufficient_years_at(counted, contribution_status, statutory_age_mi, min_months, {{ month_mi }})
UNION ALL
SELECT id_no, 'BENEFIT_PLACE_MISMATCH',
       'computed ' || benefit_province || ' (' || place_rule || ') vs ministry ' || benefit_region_ministry
FROM facts
WHERE benefit_region_ministry IS NOT NULL AND province_of(benefit_region_ministry) <> benefit_province
UNION ALL
SELECT id_no, 'PAST_AGE_NOT_RETIRED',
       'statutory age month ' || mi_text(statutory_age_mi) || ' is before ' || mi_text({{ month_mi }}) || ', retired=0'
FROM facts WHERE past_age_not_retired_at(statutory_age_mi, retired, {{ month_mi }});

DELETE FROM flags WHERE month_mi = {{ month_mi }};
INSERT INTO flags SELECT {{ month_mi }}, id_no, code, evidence FROM month_flags;
