-- reads: applications, facts, month_flags
-- writes: screen_results
-- params: bucket, buckets, month_mi, next_month_first
-- Scope and triggers (rules.md §3) → screen_results for month P = {{ month_mi }}.
-- buckets > 1: only the persons with hash(id_no) % buckets = bucket, the month's rows deleted by the
-- first (issue 19: 25,000,000 persons in one insert ran out of DuckDB's memory in an INCR month;
-- pipelines/screen.py runs the buckets in turn; the rule is per person: the same rows either way).
{% if bucket == 0 %}DELETE FROM screen_results WHERE month_mi = {{ month_mi }};
{% endif %}INSERT INTO screen_results
WITH fl AS (
    -- codes in alphabetical order, ';'-joined (outputs.md flags); a sorted list is cheaper than an ordered string_agg
    SELECT id_no, array_to_string(list_sort(list(code)), ';') AS flags
    FROM month_flags{% if buckets > 1 %} WHERE hash(id_no) % {{ buckets }} = {{ bucket }}{% endif %}
    GROUP BY id_no
),
app AS (   -- trigger 2: an application received by the end of P
    SELECT DISTINCT id_no FROM applications WHERE applied_on < DATE {{ next_month_first | sql_str }}
),
s AS (
    SELECT f.*,
           coalesce(fl.flags, '') AS flag_list,
           servable(f.alive, f.retired, f.in_push, f.benefit_province) AS servable,
           f.original_age_mi - {{ month_mi }} AS to_original,
           app.id_no IS NOT NULL AS applied
    FROM {% if buckets > 1 %}(SELECT * FROM facts WHERE hash(id_no) % {{ buckets }} = {{ bucket }}){% else %}facts{% endif %} f
    LEFT JOIN fl USING (id_no) LEFT JOIN app USING (id_no)
),
r AS (
    SELECT s.*,
           -- sql/policy/scope.sql: the same macros decide the forecast (sql/forecast/)
           scope_rule_at(servable, insurance_type, original_age_mi, contribution_status, {{ month_mi }}) AS scope_rule
    FROM s
)
SELECT {{ month_mi }}, id_no, insured_region, insurance_type, gender, person_type, birth_mi,
       original_age_mi, statutory_age_mi, delay, benefit_start_mi, flexible_earliest_mi, flexible_latest_mi,
       min_months, counted, projected, benefit_province, place_rule, place_evidence,
       alive, retired, in_push, scope_rule,
       scope_rule IS NOT NULL                                                          AS trigger_push,
       trigger_application_at(servable, applied, original_age_mi, {{ month_mi }})       AS trigger_application,
       trigger_screening_at(servable, flag_list <> '', original_age_mi, {{ month_mi }}) AS trigger_screening,
       flag_list
FROM r;
