-- reads: declaration_decisions, person_keys
-- writes: - (a SELECT: the analysts' table)
-- params: -
-- The month-start declaration screening (rules.md §6), one row per person and month declared: the
-- decision (DECLARATION / CONSULTATION / FOLLOW_UP), the retirement month it was made for and the
-- months counted against the minimum; no ID number, name or reason text (the county file keeps them).
SELECT month_text(d.month_mi) AS month, d.month_mi, k.person_key, d.entry_id, d.office_code,
       d.officer_id AS responsible_officer, d.decision, month_text(d.retirement_mi) AS retirement_month,
       d.retirement_source, d.stage, d.counted_months, d.min_months AS min_contribution_months, d.channel,
       d.decided_at
FROM declaration_decisions d JOIN person_keys k ON k.id_no = d.id_no
ORDER BY d.month_mi, d.office_code, d.entry_id
