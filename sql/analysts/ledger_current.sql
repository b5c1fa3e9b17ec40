-- reads: ledger_entries, person_keys, screen_results
-- writes: - (a SELECT: the analysts' table)
-- params: entries, ledger_only
-- The analysts' view ledger_current (sql/warehouse/views.sql, outputs.md), as a table: the same rows
-- and columns (tests/test_analysts.py compares them), computed for the whole ledger at once. The view
-- finds each person's latest screening with a window over every month of screen_results; here the
-- latest month screens almost everyone, so only the entries it lacks look further back.
-- entries: a table of entry_id, to compute those entries only; ledger_only: the entry's own columns
-- only (no person_key, no screening): what a command other than a run can change (pipelines/analysts.py:
-- the upkeep of the file compares them to find the entries to write again; person keys never change
-- but when the secret is rotated, which it checks apart).
{%- set e_rows %}(SELECT * FROM ledger_entries{% if entries %} WHERE entry_id IN (SELECT entry_id FROM {{ entries }}){% endif %}){% endset %}
{% if not ledger_only %}
WITH last AS (SELECT max(month_mi) AS m FROM screen_results),
cur AS (
    SELECT r.* FROM screen_results r, last WHERE r.month_mi = last.m
      AND r.id_no IN (SELECT id_no FROM {{ e_rows }})
),
older AS (  -- entries of persons not screened in the latest month (closed, left the push long ago)
    SELECT r.* FROM screen_results r
    WHERE r.id_no IN (SELECT e.id_no FROM {{ e_rows }} e ANTI JOIN cur USING (id_no))
    QUALIFY r.month_mi = max(r.month_mi) OVER (PARTITION BY r.id_no)
),
r AS (SELECT * FROM cur UNION ALL SELECT * FROM older)
{% endif %}
SELECT {% if not ledger_only %}k.person_key, {% endif %}e.entry_id, e.office_code, e.officer_id AS responsible_officer,
       month_text(e.opened_mi) AS opened_month, e.opened_by, e.stage, e.stage_since, e.due_date,
       e.closed_mi IS NULL AND e.due_date < CAST(timezone('Asia/Shanghai', now()) AS DATE) AS overdue,
       month_text(e.closed_mi) AS closed_month, e.close_reason,
       month_text(e.elected_retirement_mi) AS elected_retirement_month, e.pre_review_office{% if not ledger_only %},
       r.insurance_type, r.gender, month_text(r.original_age_mi) AS original_age_month,
       month_text(r.statutory_age_mi) AS statutory_age_month, r.benefit_province, r.flags,
       month_text(r.month_mi) AS screened_month{% endif %}
FROM {{ e_rows }} e
{% if not ledger_only %}JOIN person_keys k ON k.id_no = e.id_no
LEFT JOIN r ON r.id_no = e.id_no{% endif %}
