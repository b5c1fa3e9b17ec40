-- reads: applications, facts, month_flags
-- writes: screen_results
-- params: month_mi, next_month_first, settings
-- Scope and triggers (rules.md §3) → screen_results for month P = {{ month_mi }}.
DELETE FROM screen_results WHERE month_mi = {{ month_mi }};
INSERT INTO screen_results
WITH fl AS (
    -- codes in alphabetical order, ';'-joined (outputs.md flags); a sorted list is cheaper than an ordered string_agg
    SELECT id_no, array_to_string(list_sort(list(code)), ';') AS flags FROM month_flags GROUP BY id_no
),
app AS (   -- trigger 2: an application received by the end of P
    SELECT DISTINCT id_no FROM applications WHERE applied_on < DATE '{{ next_month_first }}'
),
s AS (
    SELECT f.*,
           coalesce(fl.flags, '') AS flag_list,
           f.alive AND NOT f.retired AND f.in_push AND f.benefit_province = '640000' AS servable,
           f.original_age_mi - {{ month_mi }} AS to_original,
           app.id_no IS NOT NULL AS applied
    FROM facts f LEFT JOIN fl USING (id_no) LEFT JOIN app USING (id_no)
),
r AS (
    SELECT s.*,
           CASE WHEN NOT servable THEN NULL
                WHEN insurance_type = 110 AND to_original BETWEEN 0 AND {{ settings.scope_window }} THEN 'a'
                WHEN insurance_type = 110 AND to_original < 0 AND contribution_status = 2 THEN 'b'
                WHEN insurance_type = 170 AND to_original BETWEEN 0 AND {{ settings.scope_window }} THEN 'c'
           END AS scope_rule
    FROM s
)
SELECT {{ month_mi }}, id_no, insured_region, insurance_type, gender, person_type, birth_mi,
       original_age_mi, statutory_age_mi, delay, benefit_start_mi, flexible_earliest_mi, flexible_latest_mi,
       min_months, counted, projected, benefit_province, place_rule, place_evidence,
       alive, retired, in_push, scope_rule,
       scope_rule IS NOT NULL                                                          AS trigger_push,
       servable AND applied AND to_original <= {{ settings.application_horizon }}     AS trigger_application,
       servable AND flag_list <> '' AND to_original <= {{ settings.screening_horizon }} AS trigger_screening,
       flag_list
FROM r;
