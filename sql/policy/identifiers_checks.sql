-- reads: -
-- writes: id_birth_date, id_check_ok, id_date_of, id_gender, id_no_normalized, id_no_upper, id_no_valid, uscc_valid
-- params: temp
-- The checks of an ID number (GB 11643-1999) and of a unified social credit code (GB 32100-2015)
-- (rules.md §4, policy.md §7; the SQL twins of pipelines/identifiers.py): only ingest and
-- applications read them (sql/ingest/10, 20, 60). DuckDB binds a macro at creation with the macros
-- it uses expanded; these are ≈ 18 ms of binding: they are in the policy macros' file that every
-- connection attaches (pipelines/policy_macros.py), and created TEMP only by a connection that
-- validates input rows when the file cannot be used (pipelines.warehouse.register_id_checks).
-- Character arithmetic uses ascii()/strpos() so that no CAST can fail on bad input.

-- GB 11643-1999: the number as stored (trimmed, lower-case x read as X).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO id_no_upper(s) AS upper(trim(s));

-- GB 11643-1999 check character (ISO 7064 MOD 11-2) of an 18-character upper-case number.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO id_check_ok(u) AS
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
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO id_date_of(u) AS
    CASE WHEN substr(u, 7, 4) <> '0000' THEN CAST(try_strptime(substr(u, 7, 8), '%Y%m%d') AS DATE) END;

-- Valid Resident Identity Card number: 17 digits + check character, real birth date.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO id_no_valid(s) AS
    coalesce(regexp_full_match(id_no_upper(s), '[0-9]{17}[0-9X]')
             AND id_check_ok(id_no_upper(s))
             AND id_date_of(id_no_upper(s)) IS NOT NULL, false);

-- The normalised number (upper-case X) when valid, else NULL.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO id_no_normalized(s) AS
    CASE WHEN id_no_valid(s) THEN id_no_upper(s) END;

-- Birth date from the number (DATE), NULL when invalid.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO id_birth_date(s) AS
    CASE WHEN id_no_valid(s) THEN id_date_of(id_no_upper(s)) END;

-- Gender from the sequence's last digit: odd 1 (male), even 2 (female); NULL when invalid.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO id_gender(s) AS
    CASE WHEN id_no_valid(s) THEN CAST(2 - (ascii(substr(id_no_upper(s), 17, 1)) - 48) % 2 AS TINYINT) END;

-- GB 32100-2015 unified social credit code: 18 characters of the 31-character alphabet,
-- check character by MOD 31 (weights 3^i mod 31). Exact text: no trimming, no case folding.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO uscc_valid(s) AS
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
