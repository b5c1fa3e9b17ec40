-- reads: raw_persons
-- writes: persons_checked
-- params: push_type, data_month
-- Persons rows of one batch: type every field, or give the row a reason code (push-format.md).
-- In: TEMP raw_persons(row_no, <contract columns as text>)  Out: TEMP persons_checked.
CREATE OR REPLACE TEMP TABLE persons_checked AS
WITH t AS (
    SELECT
        row_no,
        trim(coalesce(op, ''))                               AS op,
        upper(trim(coalesce(id_no, '')))                     AS id_no,
        nullif(trim(name), '')                               AS name,
        trim(coalesce(gender, ''))                           AS gender_t,
        trim(coalesce(birth_date, ''))                       AS birth_t,
        trim(coalesce(insurance_type, ''))                   AS ins_t,
        trim(coalesce(person_type, ''))                      AS ptype_t,
        nullif(trim(hukou_region), '')                       AS hukou_region,
        trim(coalesce(insured_region, ''))                   AS insured_region,
        nullif(trim(benefit_region_ministry), '')            AS benefit_region_ministry,
        nullif(upper(trim(employer_uscc)), '')               AS employer_uscc,
        nullif(trim(employer_name), '')                      AS employer_name,
        nullif(trim(phone), '')                              AS phone,
        trim(coalesce(contribution_status, ''))              AS cstat_t,
        trim(coalesce(retired, ''))                          AS retired_t,
        trim(coalesce(survival_status, ''))                  AS surv_t,
        trim(coalesce(actual_contribution_months, ''))       AS actual_t,
        trim(coalesce(deemed_months, ''))                    AS deemed_t,
        trim(coalesce(deemed_status, ''))                    AS dstat_t,
        nullif(trim(deemed_region), '')                      AS deemed_region,
        trim(coalesce(arrears_months, ''))                   AS arrears_t,
        id_no                                                AS id_no_raw
    FROM raw_persons
),
r AS (
    SELECT t.*,
        CASE
            WHEN NOT id_no_valid(id_no)                                               THEN 'BAD_ID_NO'
{% if push_type == 'FULL' %}
            WHEN op NOT IN ('', 'I')                                                  THEN 'BAD_OP'
{% else %}
            WHEN op NOT IN ('I', 'U', 'D')                                            THEN 'BAD_OP'
            WHEN op = 'D'                                                             THEN NULL
{% endif %}
            -- NUL, escapes and other controls (tab and line breaks excepted) and bidirectional overrides in the free text: quarantined,
            -- never stored or cleaned up (docs/decisions.md, issue 14); the coded columns fail their formats
            WHEN regexp_matches(concat_ws('', name, employer_name, phone),
                                '[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\x{202a}-\x{202e}\x{2066}-\x{2069}]')  THEN 'CONTROL_CHARACTER'
            WHEN gender_t NOT IN ('1', '2')                                           THEN 'BAD_GENDER'
            WHEN NOT regexp_full_match(birth_t, '(19|20)[0-9]{6}')   -- years 1900-2099, as months are
                 OR try_strptime(birth_t, '%Y%m%d') IS NULL
                 -- born after the month the data is for: no such person can be in the push
                 OR try_strptime(birth_t, '%Y%m%d') >= DATE {{ (data_month ~ '-01') | sql_str }} + INTERVAL 1 MONTH THEN 'BAD_BIRTH_DATE'
            WHEN ins_t NOT IN ('110', '170')                                          THEN 'BAD_INSURANCE_TYPE'
            WHEN (ins_t = '110' AND ptype_t NOT IN ('', '1', '2', '3'))
                 OR (ins_t = '170' AND ptype_t <> '')                                 THEN 'BAD_PERSON_TYPE'
            WHEN NOT is_office_code(insured_region)                                   THEN 'UNKNOWN_OFFICE'
            WHEN NOT is_region_code(coalesce(hukou_region, '640000'))
                 OR NOT is_region_code(coalesce(benefit_region_ministry, '640000'))
                 OR NOT is_region_code(coalesce(deemed_region, '640000'))             THEN 'BAD_REGION_CODE'
            WHEN employer_uscc IS NOT NULL AND NOT uscc_valid(employer_uscc)          THEN 'BAD_USCC'
            WHEN cstat_t NOT IN ('1', '2', '3')                                       THEN 'BAD_CONTRIBUTION_STATUS'
            WHEN retired_t NOT IN ('0', '1')                                          THEN 'BAD_RETIRED'
            WHEN surv_t NOT IN ('1', '2', '9')                                        THEN 'BAD_SURVIVAL_STATUS'
            WHEN NOT regexp_full_match(actual_t, '[0-9]{1,4}')                        THEN 'BAD_CONTRIBUTION_MONTHS'
            WHEN deemed_t <> '' AND NOT regexp_full_match(deemed_t, '[0-9]{1,4}')     THEN 'BAD_DEEMED_MONTHS'
            WHEN dstat_t NOT IN ('0', '1', '2')                                       THEN 'BAD_DEEMED_STATUS'
            WHEN NOT regexp_full_match(arrears_t, '[0-9]{1,4}')                       THEN 'BAD_ARREARS_MONTHS'
        END AS reason_code
    FROM t
),
d AS (  -- one id_no on several rows: all of them are quarantined
    SELECT *, count(*) OVER (PARTITION BY id_no) AS n_same FROM r
)
SELECT
    row_no, op, id_no, id_no_raw,
    CASE WHEN reason_code IS NULL AND n_same > 1 AND id_no <> '' THEN 'DUPLICATE_ID_NO' ELSE reason_code END AS reason_code,
    name,
    TRY_CAST(gender_t AS TINYINT)                             AS gender,
    CAST(try_strptime(birth_t, '%Y%m%d') AS DATE)             AS birth_date,
    TRY_CAST(ins_t AS SMALLINT)                               AS insurance_type,
    TRY_CAST(nullif(ptype_t, '') AS TINYINT)                  AS person_type,
    hukou_region, insured_region, benefit_region_ministry, employer_uscc, employer_name, phone,
    TRY_CAST(cstat_t AS TINYINT)                              AS contribution_status,
    retired_t = '1'                                           AS retired,
    TRY_CAST(surv_t AS TINYINT)                               AS survival_status,
    TRY_CAST(actual_t AS INTEGER)                             AS actual_contribution_months,
    TRY_CAST(nullif(deemed_t, '') AS INTEGER)                 AS deemed_months,
    TRY_CAST(dstat_t AS TINYINT)                              AS deemed_status,
    deemed_region,
    TRY_CAST(arrears_t AS INTEGER)                            AS arrears_months
FROM d;
