-- reads: ledger_entries, notice_log
-- writes: _notice_new, _notice_rows
-- params: exclude_kind, kind, month_mi, person_cols, persons, rows_table
-- The notices still to issue from {{ rows_table }} (rules.md §5), with their channel.
-- {{ rows_table }}: id_no, entry_id, reference_mi, office_code[, kind] + template variables.
-- Params: rows_table, kind (NULL: the rows carry a kind column), person_cols (person columns
-- the rows do not carry themselves), persons (person state), exclude_kind (rows carry a kind
-- column that the given kind replaces).
-- Idempotent: a (id_no, kind, reference_mi) already in notices is left out, and so is a
-- duplicate within the rows (the lowest entry_id is kept). Never to a deceased or retired person,
-- nor for a ledger entry closed by month_mi.
-- The notices and persons read are only those of the rows' persons (issue 19: the hash tables stay the
-- size of the rows, not of the whole log or population, when a large month is issued in buckets).
-- Channel: SMS to a valid mobile; otherwise EMPLOYER (110 with an employer code or name),
-- else TOWNSHIP (乡镇（街道）); offline_reason says why the notice is not an SMS.
CREATE OR REPLACE TEMP TABLE _notice_rows AS
WITH r AS (
    SELECT {% if kind %}{{ kind | sql_str }} AS kind, s.*{% if exclude_kind %} EXCLUDE (kind){% endif %}{% else %}s.*{% endif %}
    FROM {{ rows_table }} s
),
d AS (
    SELECT r.* FROM r
    WHERE NOT EXISTS (SELECT 1 FROM notice_log n
                      WHERE n.id_no = r.id_no AND n.kind = r.kind AND n.reference_mi = r.reference_mi
                        AND n.id_no IN (SELECT id_no FROM {{ rows_table }}))
    QUALIFY row_number() OVER (PARTITION BY r.id_no, r.kind, r.reference_mi
                               ORDER BY r.entry_id NULLS LAST, r.office_code) = 1
),
j AS (
    SELECT d.*,
           {% for c in person_cols %}p.{{ c }},
           {% endfor %}p.phone AS _person_phone,
           nullif(trim(p.employer_uscc), '') AS _employer_uscc,
           nullif(trim(p.employer_name), '') AS _employer_name,
           phone_normalized(p.phone) AS _mobile,
           p.survival_status AS _survival_status,
           p.retired AS _retired
    FROM d LEFT JOIN (SELECT * FROM {{ persons }} WHERE id_no IN (SELECT id_no FROM {{ rows_table }})) p
           ON p.id_no = d.id_no
    WHERE NOT EXISTS (SELECT 1 FROM ledger_entries le
                      WHERE le.entry_id = d.entry_id AND le.closed_mi <= {{ month_mi }})
)
SELECT j.* EXCLUDE (_person_phone, _employer_uscc, _employer_name, _survival_status, _retired),
       j.kind || '-' || mi_text(j.reference_mi) || '-' || person_key(j.id_no) AS _notice_id,
       person_key(j.id_no) AS _person_key,
       notice_channel(j._mobile, j.insurance_type, j._employer_uscc, j._employer_name) AS _channel,
       notice_offline_reason(j._person_phone, j._mobile) AS _offline_reason,
       -- who confirms a conclusion (rules.md §7: the employer for 110 with an employer, else the person;
       -- pipelines/feedback/objections.py refuses the other): the RESULT text says which
       coalesce(j.insurance_type = 110 AND (j._employer_uscc IS NOT NULL OR j._employer_name IS NOT NULL), false)
           AS employer_confirms
FROM j
WHERE coalesce(j._survival_status, 0) <> 2 AND NOT coalesce(j._retired, false)
ORDER BY _notice_id;

-- The notices to insert, filled kind by kind with their texts (sql/notify/25_notice_texts.sql).
CREATE OR REPLACE TEMP TABLE _notice_new (
    notice_id VARCHAR, id_no VARCHAR, entry_id VARCHAR, kind VARCHAR, reference_mi INTEGER,
    issued_mi INTEGER, office_code VARCHAR, channel VARCHAR, phone VARCHAR, text VARCHAR,
    segments INTEGER, offline_reason VARCHAR);
