-- reads: ledger_entries, ledger_transitions, person_versions, screen_results
-- writes: -
-- params: declare_mi, month_mi
-- Candidates for the demo feedback (pipelines.feedback.demo_feedback): open entries of month
-- {{ month_mi }} still in ENROLLED/NOTIFIED, alive and not retired, whose retirement month R can
-- fall 1..3 months after the declare month {{ declare_mi }}: the statutory month S itself, or
-- (110 only) an elected month inside the flexible window, the one nearest to S.
WITH s AS (
    SELECT e.entry_id, e.id_no, e.office_code, r.insurance_type, r.statutory_age_mi,
           r.flexible_earliest_mi AS flex_lo, r.flexible_latest_mi AS flex_hi, r.counted_months,
           least(greatest(r.statutory_age_mi, {{ declare_mi }} + 1), {{ declare_mi }} + 3) AS r_mi
    FROM ledger_entries e
    JOIN screen_results r ON r.month_mi = {{ month_mi }} AND r.id_no = e.id_no
    WHERE e.closed_mi IS NULL AND e.opened_mi <= {{ month_mi }}
      AND e.stage IN ('ENROLLED', 'NOTIFIED')
      AND r.alive AND NOT r.retired AND r.in_push
), ok AS (
    SELECT s.*, s.r_mi <> s.statutory_age_mi AS elect
    FROM s
    WHERE s.r_mi = s.statutory_age_mi
       OR (s.insurance_type = 110 AND s.flex_lo IS NOT NULL AND s.r_mi BETWEEN s.flex_lo AND s.flex_hi)
), last_move AS (
    SELECT entry_id, max(event_date) AS d FROM ledger_transitions
    WHERE from_stage IS DISTINCT FROM to_stage GROUP BY entry_id
)
SELECT ok.entry_id, ok.id_no, ok.office_code, ok.insurance_type, ok.statutory_age_mi, ok.flex_lo, ok.flex_hi,
       ok.counted_months, min_contribution_months(ok.r_mi // 12, ok.insurance_type) AS min_at_r,
       ok.r_mi, ok.elect,
       CASE WHEN p.insurance_type = 110 AND (nullif(trim(p.employer_uscc), '') IS NOT NULL
                                             OR nullif(trim(p.employer_name), '') IS NOT NULL)
            THEN 'EMPLOYER' ELSE 'PERSON' END AS expected_confirmer,
       greatest(mi_first_day({{ month_mi }}), coalesce(lm.d, mi_first_day({{ month_mi }}))) AS base_day,
       person_key(ok.id_no) AS key
FROM ok
JOIN person_versions p ON p.id_no = ok.id_no AND p.valid_to_seq IS NULL
LEFT JOIN last_move lm USING (entry_id)
ORDER BY key, ok.entry_id;
