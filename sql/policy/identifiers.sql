-- reads: -
-- writes: id_birth_ymd_of_valid, id_gender_of_valid, notice_channel, notice_offline_reason, notice_raised_before_run, phone_normalized, phone_valid, sms_segments
-- params: temp
-- Identifiers (rules.md §4, policy.md §7): the SQL twins of pipelines/identifiers.py,
-- but the checks of an ID number and a credit code (identifiers_checks.sql: ingest's only),
-- plus sms_segments (rules.md §5, policy.md §9; twin of pipelines.policy.sms_segments).
-- Where the macros live (`temp`, pipelines/warehouse.py): a writer stores them in the warehouse
-- under its schema stamp (bound once, not on every connection); a connection whose settings
-- render them otherwise, or that cannot write, creates them TEMP, which come first in DuckDB's
-- search. DuckDB 2.0 binds a macro body at creation: a macro may only use macros created
-- before it (this file runs first of sql/policy/).
-- Character arithmetic uses ascii()/strpos() so that no CAST can fail on bad input.

-- For numbers already known valid (person_versions holds only those: ingest quarantines the rest,
-- BAD_ID_NO), the same facts without checking again: the birth date digits as YYYYMMDD and
-- the gender digit. Equal to id_birth_date / id_gender on a valid number (tested).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO id_birth_ymd_of_valid(u) AS CAST(substr(u, 7, 8) AS INTEGER);
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO id_gender_of_valid(u) AS CAST(2 - (ascii(substr(u, 17, 1)) - 48) % 2 AS TINYINT);

-- Mobile number rule of rules.md §4: NFKC (the nfkc() UDF), remove spaces and hyphens ('-' and
-- U+2010 HYPHEN, which NFKC makes of U+2011; see pipelines/identifiers.normalize_phone), then
-- one leading +86 or 0086; valid when 1[3-9] + 9 ASCII digits. The number, or NULL.
-- One nfkc() call per row (the UDF is the costly part).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO phone_normalized(s) AS
    nullif(regexp_extract(
        regexp_replace(replace(replace(replace(nfkc(s), ' ', ''), '-', ''), chr(8208), ''), '^(\+86|0086)', ''),
        '^1[3-9][0-9]{9}$'), '');

CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO phone_valid(s) AS phone_normalized(s) IS NOT NULL;

-- SMS segments by length, signature included (rules.md §5, policy.md §9): <= 70 one, else ceil(n/67).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO sms_segments(n_chars) AS
    CASE WHEN n_chars <= 70 THEN 1 ELSE (n_chars + 66) // 67 END;

-- Why a notice is not an SMS (NULL when it is): the raw phone and its normalised mobile.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO notice_offline_reason(phone, mobile) AS
    CASE WHEN mobile IS NOT NULL THEN NULL
         WHEN nullif(trim(phone), '') IS NULL THEN 'no mobile number'
         ELSE 'phone is not a valid mobile' END;

-- Channel of a notice to the person (rules.md §5): SMS to a valid mobile (the normalised number,
-- or NULL); otherwise the employer (110 with an employer code or name); else the township/street
-- office (乡镇（街道）). The worklist shows it too ("the worklist says which").
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO notice_channel(mobile, insurance_type, employer_uscc, employer_name) AS
    CASE WHEN mobile IS NOT NULL THEN 'SMS'
         WHEN insurance_type = 110 AND (nullif(trim(employer_uscc), '') IS NOT NULL
                                        OR nullif(trim(employer_name), '') IS NOT NULL) THEN 'EMPLOYER'
         ELSE 'TOWNSHIP' END;

-- A notice of P's batch raised before P's push, not by P's run itself (rules.md §5–§7): a
-- DECLARATION/CONSULTATION of the 1st, a RESULT from feedback, or a reminder of an earlier month that
-- a rerun deferred to this batch (reference month before P). P's run settles such a notice on P's data
-- and withdraws it when P's run closes its entry (sql/notify/46_withdraw.sql, 47_settle_batch.sql).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO notice_raised_before_run(kind, reference_mi, month_mi) AS
    kind IN ('DECLARATION', 'CONSULTATION', 'RESULT') OR reference_mi < month_mi;
