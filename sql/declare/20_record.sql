-- reads: _declare, notice_log, person_versions
-- writes: declaration_decisions
-- params: month_mi
-- After the notices: move DECLARATION entries to DECLARED is done by record_transitions;
-- here the month's decisions are stored as published, with the file's columns (replaced on a rerun
-- of the month; 30_office_file.sql writes the files from them).
DELETE FROM declaration_decisions WHERE month_mi = {{ month_mi }};
INSERT INTO declaration_decisions
SELECT {{ month_mi }}, d.entry_id, d.id_no, d.office_code, d.retirement_mi, d.retirement_source, d.decision,
       d.reason,
       CASE WHEN d.decision = 'DECLARATION' THEN 'DECLARED' ELSE d.stage END,
       d.counted_months, d.counted_source, d.min_months,
       n.notice_id, now(),
       -- the file's own columns as published (a replay re-emits them: no later push, run or move changes them)
       p.name, d.statutory_age_mi, d.officer_id, n.channel, true
FROM _declare d
LEFT JOIN notice_log n ON n.id_no = d.id_no AND n.kind = d.decision AND n.reference_mi = d.retirement_mi
LEFT JOIN (SELECT id_no, name FROM person_versions WHERE valid_to_seq IS NULL
           QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY valid_from_seq DESC) = 1) p ON p.id_no = d.id_no;
