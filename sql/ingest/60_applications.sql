-- reads: _apps, _apps_rej
-- writes: _apps_checked, applications, applications_refused
-- params: source_file
-- Applications (trigger 2): keep valid rows, record the others with a reason.
-- _apps(row_no, <columns>) holds the parsed records, _apps_rej(row_no, …) the unparsable ones.
CREATE OR REPLACE TEMP TABLE _apps_checked AS
SELECT row_no, upper(trim(id_no)) AS id_no, trim(applicant_type) AS applicant_type,
       try_strptime(trim(applied_on), '%Y%m%d')::DATE AS applied_on, lower(trim(channel)) AS channel,
       trim(county_code) AS county_code,
       -- NUL, escapes and other controls (tab and line breaks excepted) and bidirectional overrides (docs/decisions.md, issue 14)
       CASE WHEN regexp_matches(concat_ws('', id_no, applicant_type, applied_on, channel, county_code),
                                '[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\x{202a}-\x{202e}\x{2066}-\x{2069}]') THEN 'CONTROL_CHARACTER'
            WHEN NOT id_no_valid(upper(trim(id_no)))                    THEN 'BAD_ID_NO'
            WHEN trim(applicant_type) NOT IN ('1', '2', '3')              THEN 'BAD_APPLICANT_TYPE'
            -- %Y%m%d alone reads 2026113 as 2026-11-03: exactly 8 digits, years 1900-2099 as elsewhere
            WHEN NOT regexp_full_match(trim(applied_on), '(19|20)[0-9]{6}')
                 OR try_strptime(trim(applied_on), '%Y%m%d') IS NULL     THEN 'BAD_APPLIED_ON'
            WHEN lower(trim(channel)) NOT IN ('online', 'counter')        THEN 'BAD_CHANNEL'
            WHEN NOT is_office_code(trim(county_code))                    THEN 'UNKNOWN_OFFICE'
       END AS reason_code
FROM _apps
UNION ALL
SELECT row_no, NULL, NULL, NULL, NULL, NULL, 'UNPARSABLE_ROW' FROM _apps_rej;

INSERT INTO applications
SELECT id_no, CAST(applicant_type AS TINYINT), applied_on, channel, county_code, {{ source_file | sql_str }}, now()
FROM _apps_checked WHERE reason_code IS NULL;

INSERT INTO applications_refused
SELECT {{ source_file | sql_str }}, row_no, reason_code, now() FROM _apps_checked WHERE reason_code IS NOT NULL;
