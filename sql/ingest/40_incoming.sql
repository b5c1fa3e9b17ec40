{#- The accepted persons rows this batch brings as whole rows (FULL: all; INCR: I and U),
    with a content hash to tell a changed person from an unchanged one. -#}
{%- set hash_cols = "id_no, name, gender, birth_date, insurance_type, person_type, hukou_region, insured_region, benefit_region_ministry, employer_uscc, employer_name, phone, contribution_status, retired, survival_status, actual_contribution_months, deemed_months, deemed_status, deemed_region, arrears_months" %}
CREATE OR REPLACE TEMP TABLE incoming AS
SELECT *, md5(concat_ws('|', {% for c in hash_cols.split(', ') %}coalesce(CAST({{ c }} AS VARCHAR), '\0'){{ ", " if not loop.last }}{% endfor %})) AS row_hash
FROM persons_checked WHERE reason_code IS NULL{% if push_type == 'INCR' %} AND op IN ('I', 'U'){% endif %};
