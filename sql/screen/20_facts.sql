-- reads: place_p, screened
-- writes: facts
-- params: month_mi, place_evidence_expr
-- Ages, months and contribution facts of every screened person for month P = {{ month_mi }}
-- (rules.md §1 through the policy macros; §2 benefit place from place_p: cached or fresh, sql/screen/10_place_cache.sql).
CREATE OR REPLACE TEMP TABLE facts AS
WITH base AS (
    SELECT s.*,
           mi_of_date(s.birth_date) AS birth_mi,
           counted_months(s.actual_contribution_months, s.deemed_months, s.deemed_status) AS counted
    FROM screened s
),
ages AS (
    SELECT b.*,
           original_age_mi(gender, person_type, insurance_type, birth_mi)      AS original_age_mi,
           statutory_age_mi(gender, person_type, insurance_type, birth_mi)     AS statutory_age_mi,
           delay_months(gender, person_type, insurance_type, birth_mi)         AS delay,
           benefit_start_mi(gender, person_type, insurance_type, birth_mi)     AS benefit_start_mi,
           flexible_earliest_mi(gender, person_type, insurance_type, birth_mi) AS flexible_earliest_mi,
           flexible_latest_mi(gender, person_type, insurance_type, birth_mi)   AS flexible_latest_mi,
           benefit_province_of(b.insurance_type, bp.benefit_province, b.insured_region) AS benefit_province,
           CASE WHEN b.insurance_type = 110 THEN coalesce(bp.place_rule, 'HUKOU_NO_BASIC_MONTHS')
                ELSE 'RESIDENT_INSURED_PLACE' END                              AS place_rule,
           {{ place_evidence_expr }}                                           AS place_evidence,
           b.survival_status <> 2                                              AS alive
    FROM base b LEFT JOIN place_p bp USING (id_no)
)
SELECT a.*,
       min_contribution_months(a.statutory_age_mi // 12, a.insurance_type) AS min_months,
       projected_months_at(a.counted, a.contribution_status, a.statutory_age_mi, {{ month_mi }}) AS projected
FROM ages a;
