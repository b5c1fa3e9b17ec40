-- Applications (trigger 2): keep valid rows, record the others with a reason.
CREATE OR REPLACE TEMP TABLE _apps_checked AS
SELECT row_no, upper(trim(id_no)) AS id_no, trim(applicant_type) AS applicant_type,
       try_strptime(trim(applied_on), '%Y%m%d')::DATE AS applied_on, lower(trim(channel)) AS channel,
       trim(county_code) AS county_code,
       CASE WHEN NOT id_no_valid(upper(trim(id_no)))                    THEN 'BAD_ID_NO'
            WHEN trim(applicant_type) NOT IN ('1', '2', '3')              THEN 'BAD_APPLICANT_TYPE'
            WHEN try_strptime(trim(applied_on), '%Y%m%d') IS NULL         THEN 'BAD_APPLIED_ON'
            WHEN lower(trim(channel)) NOT IN ('online', 'counter')        THEN 'BAD_CHANNEL'
            WHEN NOT is_office_code(trim(county_code))                    THEN 'UNKNOWN_OFFICE'
       END AS reason_code
FROM _apps;

INSERT INTO applications
SELECT id_no, CAST(applicant_type AS TINYINT), applied_on, channel, county_code, '{{ source_file }}', now()
FROM _apps_checked WHERE reason_code IS NULL;

INSERT INTO applications_refused
SELECT '{{ source_file }}', row_no, reason_code, now() FROM _apps_checked WHERE reason_code IS NOT NULL;
