-- reads: persons_checked
-- writes: incoming
-- params: push_type
{# The accepted persons rows this batch brings as whole rows (FULL: all; INCR: I and U),
    with a content hash to tell a changed person from an unchanged one.
    The hash input is the fields joined by '|', NULL written as the two characters \0. So that two
    different rows never give the same input, the free-text fields (the only ones that can hold
    '|' or '\' once a row passed its checks) escape '\' as '\\' and '|' as '\|'; a value without
    either is written as before, so stored hashes stay valid. -#}
{%- set hash_cols = "id_no, name, gender, birth_date, insurance_type, person_type, hukou_region, insured_region, benefit_region_ministry, employer_uscc, employer_name, phone, contribution_status, retired, survival_status, actual_contribution_months, deemed_months, deemed_status, deemed_region, arrears_months" %}
{%- set free_text = ["name", "employer_name", "phone"] %}
CREATE OR REPLACE TEMP TABLE incoming AS
SELECT *, md5(concat_ws('|', {% for c in hash_cols.split(', ') %}
    {%- if c in free_text %}coalesce(replace(replace({{ c }}, '\', '\\'), '|', '\|'), '\0')
    {%- else %}coalesce(CAST({{ c }} AS VARCHAR), '\0'){% endif %}{{ ", " if not loop.last }}{% endfor %})) AS row_hash
FROM persons_checked WHERE reason_code IS NULL{% if push_type == 'INCR' %} AND op IN ('I', 'U'){% endif %};
