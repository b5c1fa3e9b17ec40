-- After the notices: move DECLARATION entries to DECLARED is done by record_transitions;
-- here the month's decisions are stored as published (replaced on a rerun of the month).
DELETE FROM declaration_decisions WHERE month_mi = {{ month_mi }};
INSERT INTO declaration_decisions
SELECT {{ month_mi }}, d.entry_id, d.id_no, d.office_code, d.retirement_mi, d.retirement_source, d.decision,
       d.reason,
       CASE WHEN d.decision = 'DECLARATION' THEN 'DECLARED' ELSE d.stage END,
       d.counted_months, d.counted_source, d.min_months,
       n.notice_id, now()
FROM _declare d
LEFT JOIN notice_log n ON n.id_no = d.id_no AND n.kind = d.decision AND n.reference_mi = d.retirement_mi;
