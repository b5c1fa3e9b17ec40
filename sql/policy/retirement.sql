-- reads: -
-- writes: age_text, benefit_start_mi, counted_months, delay_months, flexible_earliest_mi, flexible_latest_mi, mi_first_day, mi_of_date, mi_of_text, mi_of_yyyymm, mi_text, min_contribution_months, original_age_mi, original_age_years, statutory_age_mi, statutory_age_months, statutory_min_contribution_months
-- params: settings, temp
-- Retirement ages (rules.md §1): the SQL twins of pipelines/policy.py.
-- Month values are indexes  Y*12 + (M-1).  Rendered with Jinja2 (`settings`).
-- TEMP or stored (see identifiers.sql); a macro may only use macros created before it.
-- gender / person_type arrive as TINYINT (or NULL), insurance_type as SMALLINT: they are
-- only compared, never multiplied (TINYINT arithmetic overflows), so results are INTEGER.
{#- Only the two original ages of 国发〔1978〕104号 have a delay table: anything else stops rendering. #}
{%- if settings.flexible_women_original_age not in (50, 55) %}
{{ settings.flexible_women_original_age_must_be_50_or_55 }}
{%- endif %}

-- Month index of a DATE / of 'YYYYMM' (NULL when not a month) / of 'YYYY-MM'.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO mi_of_date(d) AS year(d) * 12 + month(d) - 1;
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO mi_of_yyyymm(s) AS
    CASE WHEN regexp_full_match(s, '[0-9]{4}(0[1-9]|1[0-2])')
         THEN (ascii(substr(s, 1, 1)) - 48) * 12000 + (ascii(substr(s, 2, 1)) - 48) * 1200
            + (ascii(substr(s, 3, 1)) - 48) * 120 + (ascii(substr(s, 4, 1)) - 48) * 12
            + (ascii(substr(s, 5, 1)) - 48) * 10 + (ascii(substr(s, 6, 1)) - 48) - 1 END;
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO mi_of_text(s) AS
    CASE WHEN regexp_full_match(s, '[0-9]{4}-(0[1-9]|1[0-2])')
         THEN mi_of_yyyymm(substr(s, 1, 4) || substr(s, 6, 2)) END;

-- 'YYYY-MM' of a month index; the first day of that month as a DATE.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO mi_text(i) AS
    lpad(CAST(i // 12 AS VARCHAR), 4, '0') || '-' || lpad(CAST(i % 12 + 1 AS VARCHAR), 2, '0');
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO mi_first_day(i) AS make_date(CAST(i // 12 AS BIGINT), CAST(i % 12 + 1 AS BIGINT), 1);

-- An age in whole months as '63y0m' (outputs.md statutory_age).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO age_text(months) AS
    CAST(months // 12 AS VARCHAR) || 'y' || CAST(months % 12 AS VARCHAR) || 'm';

-- Original statutory age in years (国发〔1978〕104号; rules.md §1): men 60; 110 women: cadre (2) 55,
-- worker (1) 50, flexible employment (3) {{ settings.flexible_women_original_age }} (setting), empty 50;
-- residents 170: 60 for both (国发〔2014〕8号). NULL for an unknown gender or insurance type.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO original_age_years(gender, person_type, insurance_type) AS
    CASE WHEN insurance_type = 170 AND gender IN (1, 2) THEN 60
         WHEN insurance_type = 110 THEN
             CASE WHEN gender = 1 THEN 60
                  WHEN gender = 2 THEN
                      CASE WHEN person_type = 2 THEN 55
                           WHEN person_type = 3 THEN {{ settings.flexible_women_original_age }}
                           ELSE 50 END
             END
    END;

-- O = B + 12 x original age.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO original_age_mi(gender, person_type, insurance_type, birth_mi) AS
    birth_mi + 12 * original_age_years(gender, person_type, insurance_type);

-- Delay in months (国务院关于渐进式延迟法定退休年龄的办法 第一条, annexes 1-3), 110 only; the group
-- follows the original age: 60 men from 1965-01 (23580) step 4 cap 36; 55 women from 1970-01
-- (23640) step 4 cap 36; 50 women from 1975-01 (23700) step 2 cap 60; 0 before; residents 0.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO delay_months(gender, person_type, insurance_type, birth_mi) AS
    CASE WHEN insurance_type = 170 THEN CASE WHEN gender IN (1, 2) THEN 0 END
         WHEN insurance_type = 110 THEN
             CASE original_age_years(gender, person_type, insurance_type)
                  WHEN 60 THEN CASE WHEN birth_mi < 23580 THEN 0 WHEN birth_mi >= 23580 THEN least(36, (birth_mi - 23580) // 4 + 1) END
                  WHEN 55 THEN CASE WHEN birth_mi < 23640 THEN 0 WHEN birth_mi >= 23640 THEN least(36, (birth_mi - 23640) // 4 + 1) END
                  WHEN 50 THEN CASE WHEN birth_mi < 23700 THEN 0 WHEN birth_mi >= 23700 THEN least(60, (birth_mi - 23700) // 2 + 1) END
             END
    END;

-- S = O + delay (the month the new statutory age is reached).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO statutory_age_mi(gender, person_type, insurance_type, birth_mi) AS
    original_age_mi(gender, person_type, insurance_type, birth_mi)
    + delay_months(gender, person_type, insurance_type, birth_mi);

-- The statutory age in whole months (e.g. 63*12), and as '63y0m'.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO statutory_age_months(gender, person_type, insurance_type, birth_mi) AS
    12 * original_age_years(gender, person_type, insurance_type)
    + delay_months(gender, person_type, insurance_type, birth_mi);

-- Benefit start month (待遇起领时点) = S + {{ settings.benefit_start_offset }} (setting).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO benefit_start_mi(gender, person_type, insurance_type, birth_mi) AS
    statutory_age_mi(gender, person_type, insurance_type, birth_mi) + {{ settings.benefit_start_offset }};

-- Flexible retirement (办法 第三条, 人社部发〔2024〕94号), 110 only: max(O, S - 36) .. S + 36; NULL for 170.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO flexible_earliest_mi(gender, person_type, insurance_type, birth_mi) AS
    CASE WHEN insurance_type = 110 THEN
        greatest(original_age_mi(gender, person_type, insurance_type, birth_mi),
                 statutory_age_mi(gender, person_type, insurance_type, birth_mi) - 36) END;
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO flexible_latest_mi(gender, person_type, insurance_type, birth_mi) AS
    CASE WHEN insurance_type = 110 THEN statutory_age_mi(gender, person_type, insurance_type, birth_mi) + 36 END;

-- Minimum contribution months by calendar year of retirement (办法 第二条; 社会保险法 第十六条):
-- 180 to 2029, 180 + 6 x (Y - 2029) for 2030-2039, 240 from 2039; residents 180.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO min_contribution_months(year, insurance_type) AS
    CASE WHEN insurance_type = 170 THEN 180
         WHEN insurance_type = 110 THEN least(240, greatest(180, 180 + 6 * (year - 2029))) END;

-- The minimum for the calendar year of S.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO statutory_min_contribution_months(gender, person_type, insurance_type, birth_mi) AS
    min_contribution_months(statutory_age_mi(gender, person_type, insurance_type, birth_mi) // 12, insurance_type);

-- Counted months (rules.md §1) = actual + deemed months when deemed_status = 1 (confirmed).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO counted_months(actual, deemed_months, deemed_status) AS
    coalesce(actual, 0) + CASE WHEN deemed_status = 1 THEN coalesce(deemed_months, 0) ELSE 0 END;
