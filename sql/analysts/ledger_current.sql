-- reads: ledger_entries, person_keys, screen_results
-- writes: - (a SELECT: the analysts' table)
-- params: entries, ledger_only
-- The analysts' view ledger_current (sql/warehouse/views.sql, outputs.md), as a table: the same rows
-- and columns (tests/analysts/test_analysts.py compares them), computed for the whole ledger at once. The view
-- finds each person's latest screening with a window over every month of screen_results; here each
-- entry is joined with the latest month's screening, and only the entries it lacks look further back
-- (one join of the ledger with that month instead of a semi join, an anti join and a join: ≈ 15 %
-- less at 1,000,000 persons).
-- entries: a table of entry_id, to compute those entries only; ledger_only: the entry's own columns
-- only (no person_key, no screening): what a command other than a run can change (pipelines/analysts.py:
-- the upkeep of the file compares them to find the entries to write again; person keys never change
-- but when the secret is rotated, which it checks apart).
{%- set e_rows %}(SELECT * FROM ledger_entries{% if entries %} WHERE entry_id IN (SELECT entry_id FROM {{ entries }}){% endif %}){% endset %}
{% if not ledger_only %}
WITH last AS (SELECT max(month_mi) AS m FROM screen_results),
j AS (  -- each entry with its person's screening of the latest month (none: r_mi is NULL)
    SELECT e.*, r.month_mi AS r_mi, r.insurance_type, r.gender, r.original_age_mi, r.statutory_age_mi,
           r.benefit_province, r.flags
    FROM {{ e_rows }} e
    LEFT JOIN (SELECT * FROM screen_results WHERE month_mi = (SELECT m FROM last)) r ON r.id_no = e.id_no
),
older AS (  -- entries of persons not screened in the latest month (closed, left the push long ago)
    SELECT r.* FROM screen_results r
    WHERE r.id_no IN (SELECT id_no FROM j WHERE r_mi IS NULL)
    QUALIFY r.month_mi = max(r.month_mi) OVER (PARTITION BY r.id_no)
)
{% endif %}
SELECT {% if not ledger_only %}k.person_key, {% endif %}e.entry_id, e.office_code, e.officer_id AS responsible_officer,
       month_text(e.opened_mi) AS opened_month, e.opened_by, e.stage, e.stage_since, e.due_date,
       e.closed_mi IS NULL AND e.due_date < CAST(timezone('Asia/Shanghai', now()) AS DATE) AS overdue,
       month_text(e.closed_mi) AS closed_month, e.close_reason,
       month_text(e.elected_retirement_mi) AS elected_retirement_month, e.pre_review_office{% if not ledger_only %},
       CASE WHEN e.r_mi IS NULL THEN o.insurance_type ELSE e.insurance_type END AS insurance_type,
       CASE WHEN e.r_mi IS NULL THEN o.gender ELSE e.gender END AS gender,
       month_text(CASE WHEN e.r_mi IS NULL THEN o.original_age_mi ELSE e.original_age_mi END) AS original_age_month,
       month_text(CASE WHEN e.r_mi IS NULL THEN o.statutory_age_mi ELSE e.statutory_age_mi END) AS statutory_age_month,
       CASE WHEN e.r_mi IS NULL THEN o.benefit_province ELSE e.benefit_province END AS benefit_province,
       CASE WHEN e.r_mi IS NULL THEN o.flags ELSE e.flags END AS flags,
       month_text(coalesce(e.r_mi, o.month_mi)) AS screened_month{% endif %}
FROM {% if ledger_only %}{{ e_rows }}{% else %}j{% endif %} e
{% if not ledger_only %}JOIN person_keys k ON k.id_no = e.id_no
LEFT JOIN older o ON o.id_no = e.id_no{% endif %}
