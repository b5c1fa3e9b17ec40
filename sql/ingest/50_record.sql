-- reads: batch_quarantine, raw_persons, raw_segments
-- writes: quarantine_rows
-- params: batch_id, seq
-- Keep every bad row with its batch, file, row number, raw text and reason (push-format.md).
{%- macro csv_text(cols) -%}
concat_ws(',', {% for c in cols %}CASE WHEN r.{{ c }} IS NULL THEN '' WHEN regexp_matches(r.{{ c }}, '[,"\n\r]') THEN '"' || replace(r.{{ c }}, '"', '""') || '"' ELSE r.{{ c }} END{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}
INSERT INTO quarantine_rows
SELECT {{ seq }}, {{ batch_id | sql_str }}, q.file, q.row_no, q.reason_code,
       CASE q.reason_code
            WHEN 'BAD_ID_NO'                 THEN 'id_no is not a valid GB 11643 number'
            WHEN 'BAD_OP'                    THEN 'op is not allowed for this push_type'
            WHEN 'BAD_GENDER'                THEN 'gender is not 1 or 2'
            WHEN 'BAD_BIRTH_DATE'            THEN 'birth_date is not a real YYYYMMDD date of 1900-2099 up to the data month'
            WHEN 'CONTROL_CHARACTER'         THEN 'name, employer_name or phone holds a control character (NUL, escape …)'
            WHEN 'BAD_INSURANCE_TYPE'        THEN 'insurance_type is not 110 or 170'
            WHEN 'BAD_PERSON_TYPE'           THEN 'person_type is not 1/2/3/empty for 110, or not empty for 170'
            WHEN 'UNKNOWN_OFFICE'            THEN 'insured_region is not one of the Ningxia office codes'
            WHEN 'BAD_REGION_CODE'           THEN 'a region code is not 6 digits of a known province'
            WHEN 'BAD_USCC'                  THEN 'employer_uscc fails the GB 32100 check'
            WHEN 'BAD_CONTRIBUTION_STATUS'   THEN 'contribution_status is not 1, 2 or 3'
            WHEN 'BAD_RETIRED'               THEN 'retired is not 0 or 1'
            WHEN 'BAD_SURVIVAL_STATUS'       THEN 'survival_status is not 1, 2 or 9'
            WHEN 'BAD_CONTRIBUTION_MONTHS'   THEN 'actual_contribution_months is not an integer >= 0'
            WHEN 'BAD_DEEMED_MONTHS'         THEN 'deemed_months is not an integer >= 0'
            WHEN 'BAD_DEEMED_STATUS'         THEN 'deemed_status is not 0, 1 or 2'
            WHEN 'BAD_ARREARS_MONTHS'        THEN 'arrears_months is not an integer >= 0'
            WHEN 'DUPLICATE_ID_NO'           THEN 'the same id_no is on several persons rows of the batch'
            WHEN 'ORPHAN_SEGMENT'            THEN 'no persons row of the batch for this id_no'
            WHEN 'PERSON_QUARANTINED'        THEN 'the persons row of this id_no is quarantined'
            WHEN 'SEGMENT_OF_DELETED_PERSON' THEN 'segment for a person whose op is D'
            WHEN 'BAD_MONTH'                 THEN 'start_month or end_month is not a real YYYYMM'
            WHEN 'END_BEFORE_START'          THEN 'end_month is before start_month'
            WHEN 'BAD_RELATION_STATUS'       THEN 'relation_status is not 1, 2 or 3'
            WHEN 'UNPARSABLE_ROW'            THEN 'the CSV record cannot be parsed'
            ELSE q.reason_code END,
       q.id_no_raw,
       coalesce(q.raw_text, CASE q.file WHEN 'persons' THEN pr.raw ELSE sr.raw END)
FROM batch_quarantine q
LEFT JOIN (SELECT row_no, {{ csv_text(["op", "id_no", "name", "gender", "birth_date", "insurance_type", "person_type",
                                     "hukou_region", "insured_region", "benefit_region_ministry", "employer_uscc",
                                     "employer_name", "phone", "contribution_status", "retired", "survival_status",
                                     "actual_contribution_months", "deemed_months", "deemed_status", "deemed_region",
                                     "arrears_months"]) }} AS raw
           FROM raw_persons r   -- the raw text of quarantined rows only
           WHERE r.row_no IN (SELECT row_no FROM batch_quarantine WHERE file = 'persons')) pr ON q.file = 'persons' AND pr.row_no = q.row_no
LEFT JOIN (SELECT row_no, {{ csv_text(["id_no", "region_code", "start_month", "end_month", "relation_status"]) }} AS raw
           FROM raw_segments r
           WHERE r.row_no IN (SELECT row_no FROM batch_quarantine WHERE file = 'segments')) sr ON q.file = 'segments' AND sr.row_no = q.row_no;

-- the last use of the raw text: its tables (a copy of both files) go before the apply, the step
-- that needs the most memory
DROP TABLE raw_persons;
DROP TABLE raw_segments;
