-- reads: -
-- writes: id_birth_date, id_birth_ymd_of_valid, id_check_ok, id_date_of, id_gender, id_gender_of_valid, id_no_normalized, id_no_upper, id_no_valid, notice_channel, notice_offline_reason, notice_raised_before_run, phone_normalized, phone_valid, sms_segments, uscc_valid
-- params: -
-- Identifiers (rules.md §4, policy.md §7): the SQL twins of pipelines/identifiers.py,
-- plus sms_segments (rules.md §5, policy.md §9; twin of pipelines.policy.sms_segments).
-- TEMP macros: DuckDB 2.0 binds a macro body at creation (a macro may only use macros
-- created before it: this file runs first of sql/policy/), and a non-TEMP macro would be
-- written into the warehouse file, which a read-only connection cannot do.
-- Character arithmetic uses ascii()/strpos() so that no CAST can fail on bad input.

-- GB 11643-1999: the number as stored (trimmed, lower-case x read as X).
CREATE OR REPLACE TEMP MACRO id_no_upper(s) AS upper(trim(s));

-- GB 11643-1999 check character (ISO 7064 MOD 11-2) of an 18-character upper-case number.
CREATE OR REPLACE TEMP MACRO id_check_ok(u) AS
    substr('10X98765432', 1 + ((
          (ascii(substr(u, 1, 1)) - 48) * 7  + (ascii(substr(u, 2, 1)) - 48) * 9
        + (ascii(substr(u, 3, 1)) - 48) * 10 + (ascii(substr(u, 4, 1)) - 48) * 5
        + (ascii(substr(u, 5, 1)) - 48) * 8  + (ascii(substr(u, 6, 1)) - 48) * 4
        + (ascii(substr(u, 7, 1)) - 48) * 2  + (ascii(substr(u, 8, 1)) - 48) * 1
        + (ascii(substr(u, 9, 1)) - 48) * 6  + (ascii(substr(u, 10, 1)) - 48) * 3
        + (ascii(substr(u, 11, 1)) - 48) * 7 + (ascii(substr(u, 12, 1)) - 48) * 9
        + (ascii(substr(u, 13, 1)) - 48) * 10 + (ascii(substr(u, 14, 1)) - 48) * 5
        + (ascii(substr(u, 15, 1)) - 48) * 8 + (ascii(substr(u, 16, 1)) - 48) * 4
        + (ascii(substr(u, 17, 1)) - 48) * 2) % 11), 1) = substr(u, 18, 1);

-- The birth date of an 18-character upper-case number (NULL when not a real date; year >= 1).
CREATE OR REPLACE TEMP MACRO id_date_of(u) AS
    CASE WHEN substr(u, 7, 4) <> '0000' THEN CAST(try_strptime(substr(u, 7, 8), '%Y%m%d') AS DATE) END;

-- Valid Resident Identity Card number: 17 digits + check character, real birth date.
CREATE OR REPLACE TEMP MACRO id_no_valid(s) AS
    coalesce(regexp_full_match(id_no_upper(s), '[0-9]{17}[0-9X]')
             AND id_check_ok(id_no_upper(s))
             AND id_date_of(id_no_upper(s)) IS NOT NULL, false);

-- The normalised number (upper-case X) when valid, else NULL.
CREATE OR REPLACE TEMP MACRO id_no_normalized(s) AS
    CASE WHEN id_no_valid(s) THEN id_no_upper(s) END;

-- Birth date from the number (DATE), NULL when invalid.
CREATE OR REPLACE TEMP MACRO id_birth_date(s) AS
    CASE WHEN id_no_valid(s) THEN id_date_of(id_no_upper(s)) END;

-- Gender from the sequence's last digit: odd 1 (male), even 2 (female); NULL when invalid.
CREATE OR REPLACE TEMP MACRO id_gender(s) AS
    CASE WHEN id_no_valid(s) THEN CAST(2 - (ascii(substr(id_no_upper(s), 17, 1)) - 48) % 2 AS TINYINT) END;

-- For numbers already known valid (person_versions holds only those: ingest quarantines the rest,
-- BAD_ID_NO), the same facts without checking again: the birth date digits as YYYYMMDD and
-- the gender digit. Equal to id_birth_date / id_gender on a valid number (tested).
CREATE OR REPLACE TEMP MACRO id_birth_ymd_of_valid(u) AS CAST(substr(u, 7, 8) AS INTEGER);
CREATE OR REPLACE TEMP MACRO id_gender_of_valid(u) AS CAST(2 - (ascii(substr(u, 17, 1)) - 48) % 2 AS TINYINT);

-- GB 32100-2015 unified social credit code: 18 characters of the 31-character alphabet,
-- check character by MOD 31 (weights 3^i mod 31). Exact text: no trimming, no case folding.
CREATE OR REPLACE TEMP MACRO uscc_valid(s) AS
    coalesce(regexp_full_match(s, '[0-9A-HJ-NP-RTUW-Y]{18}')
        AND substr('0123456789ABCDEFGHJKLMNPQRTUWXY', 1 + (31 - ((
              (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, 1, 1)) - 1) * 1
            + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, 2, 1)) - 1) * 3
            + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, 3, 1)) - 1) * 9
            + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, 4, 1)) - 1) * 27
            + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, 5, 1)) - 1) * 19
            + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, 6, 1)) - 1) * 26
            + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, 7, 1)) - 1) * 16
            + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, 8, 1)) - 1) * 17
            + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, 9, 1)) - 1) * 20
            + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, 10, 1)) - 1) * 29
            + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, 11, 1)) - 1) * 25
            + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, 12, 1)) - 1) * 13
            + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, 13, 1)) - 1) * 8
            + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, 14, 1)) - 1) * 24
            + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, 15, 1)) - 1) * 10
            + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, 16, 1)) - 1) * 30
            + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, 17, 1)) - 1) * 28) % 31)) % 31, 1)
           = substr(s, 18, 1), false);

-- Mobile number rule of rules.md §4: NFKC (the nfkc() UDF), remove spaces and hyphens ('-' and
-- U+2010 HYPHEN, which NFKC makes of U+2011; see pipelines/identifiers.normalize_phone), then
-- one leading +86 or 0086; valid when 1[3-9] + 9 ASCII digits. The number, or NULL.
-- One nfkc() call per row (the UDF is the costly part).
CREATE OR REPLACE TEMP MACRO phone_normalized(s) AS
    nullif(regexp_extract(
        regexp_replace(replace(replace(replace(nfkc(s), ' ', ''), '-', ''), chr(8208), ''), '^(\+86|0086)', ''),
        '^1[3-9][0-9]{9}$'), '');

CREATE OR REPLACE TEMP MACRO phone_valid(s) AS phone_normalized(s) IS NOT NULL;

-- SMS segments by length, signature included (rules.md §5, policy.md §9): <= 70 one, else ceil(n/67).
CREATE OR REPLACE TEMP MACRO sms_segments(n_chars) AS
    CASE WHEN n_chars <= 70 THEN 1 ELSE (n_chars + 66) // 67 END;

-- Why a notice is not an SMS (NULL when it is): the raw phone and its normalised mobile.
CREATE OR REPLACE TEMP MACRO notice_offline_reason(phone, mobile) AS
    CASE WHEN mobile IS NOT NULL THEN NULL
         WHEN nullif(trim(phone), '') IS NULL THEN 'no mobile number'
         ELSE 'phone is not a valid mobile' END;

-- Channel of a notice to the person (rules.md §5): SMS to a valid mobile (the normalised number,
-- or NULL); otherwise the employer (110 with an employer code or name); else the township/street
-- office (乡镇（街道）). The worklist shows it too ("the worklist says which").
CREATE OR REPLACE TEMP MACRO notice_channel(mobile, insurance_type, employer_uscc, employer_name) AS
    CASE WHEN mobile IS NOT NULL THEN 'SMS'
         WHEN insurance_type = 110 AND (nullif(trim(employer_uscc), '') IS NOT NULL
                                        OR nullif(trim(employer_name), '') IS NOT NULL) THEN 'EMPLOYER'
         ELSE 'TOWNSHIP' END;

-- A notice of P's batch raised before P's push, not by P's run itself (rules.md §5–§7): a
-- DECLARATION/CONSULTATION of the 1st, a RESULT from feedback, or a reminder of an earlier month that
-- a rerun deferred to this batch (reference month before P). P's run settles such a notice on P's data
-- and withdraws it when P's run closes its entry (sql/notify/46_withdraw.sql, 47_settle_batch.sql).
CREATE OR REPLACE TEMP MACRO notice_raised_before_run(kind, reference_mi, month_mi) AS
    kind IN ('DECLARATION', 'CONSULTATION', 'RESULT') OR reference_mi < month_mi;
