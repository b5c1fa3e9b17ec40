-- The declarations list of one office for month P (outputs.md declarations columns);
-- with office empty, the whole month (for validation).
SELECT d.id_no, p.name, d.office_code,
       lpad(CAST(d.retirement_mi // 12 AS VARCHAR), 4, '0') || '-' || lpad(CAST(d.retirement_mi % 12 + 1 AS VARCHAR), 2, '0')
           AS retirement_month,
       d.decision, d.reason, d.retirement_source,
       lpad(CAST(sr.statutory_age_mi // 12 AS VARCHAR), 4, '0') || '-' || lpad(CAST(sr.statutory_age_mi % 12 + 1 AS VARCHAR), 2, '0')
           AS statutory_age_month,
       d.counted_months AS counted_contribution_months, d.min_months AS min_contribution_months,
       d.stage, e.officer_id AS responsible_officer, d.notice_id, n.channel
FROM declaration_decisions d
JOIN ledger_entries e USING (entry_id)
LEFT JOIN (SELECT * FROM person_versions WHERE valid_to_seq IS NULL
           QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY valid_from_seq DESC) = 1) p ON p.id_no = d.id_no
LEFT JOIN (SELECT * FROM screen_results WHERE month_mi <= {{ month_mi }}
           QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY month_mi DESC) = 1) sr ON sr.id_no = d.id_no
LEFT JOIN notice_log n ON n.notice_id = d.notice_id
WHERE d.month_mi = {{ month_mi }}{% if office %} AND d.office_code = '{{ office }}'{% endif %}
ORDER BY CASE d.decision WHEN 'DECLARATION' THEN 1 WHEN 'CONSULTATION' THEN 2 ELSE 3 END,
         d.retirement_mi, d.id_no
