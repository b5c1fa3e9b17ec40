-- reads: declaration_decisions, ledger_entries, notice_log, person_versions, screen_results
-- writes: -
-- params: month_mi, office
-- The declarations list of one office for month P (outputs.md declarations columns);
-- with office empty, the whole month (for validation).
SELECT d.id_no, CASE WHEN d.file_columns_stored THEN d.name ELSE p.name END AS name, d.office_code,
       mi_text(d.retirement_mi) AS retirement_month,
       d.decision, d.reason, d.retirement_source,
       mi_text(CASE WHEN d.file_columns_stored THEN d.statutory_age_mi ELSE sr.statutory_age_mi END)
           AS statutory_age_month,
       d.counted_months AS counted_contribution_months, d.min_months AS min_contribution_months,
       d.stage, CASE WHEN d.file_columns_stored THEN d.officer_id ELSE e.officer_id END AS responsible_officer,
       d.notice_id, CASE WHEN d.file_columns_stored THEN d.channel ELSE n.channel END AS channel
FROM declaration_decisions d
-- rows decided before the file's columns were stored: looked up as they were then (current data)
LEFT JOIN ledger_entries e ON e.entry_id = d.entry_id AND NOT coalesce(d.file_columns_stored, false)
LEFT JOIN (SELECT * FROM person_versions WHERE valid_to_seq IS NULL
           QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY valid_from_seq DESC) = 1) p
       ON p.id_no = d.id_no AND NOT coalesce(d.file_columns_stored, false)
LEFT JOIN (SELECT * FROM screen_results WHERE month_mi <= {{ month_mi }}
           QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY month_mi DESC) = 1) sr
       ON sr.id_no = d.id_no AND NOT coalesce(d.file_columns_stored, false)
LEFT JOIN notice_log n ON n.notice_id = d.notice_id AND NOT coalesce(d.file_columns_stored, false)
WHERE d.month_mi = {{ month_mi }}{% if office %} AND d.office_code = {{ office | sql_str }}{% endif %}
ORDER BY CASE d.decision WHEN 'DECLARATION' THEN 1 WHEN 'CONSULTATION' THEN 2 ELSE 3 END,
         d.retirement_mi, d.id_no
