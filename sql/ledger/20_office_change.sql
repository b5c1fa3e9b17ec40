-- reads: screen_results
-- writes: _moved_office, handovers, ledger_entries, ledger_transitions
-- params: month, month_first, month_mi
-- The responsible office follows insured_region (rules.md §3); a change is handed over.
CREATE OR REPLACE TEMP TABLE _moved_office AS
SELECT e.entry_id, e.id_no, e.office_code AS from_office, r.office_code AS to_office
FROM ledger_entries e
JOIN screen_results r ON r.month_mi = {{ month_mi }} AND r.id_no = e.id_no
WHERE e.closed_mi IS NULL AND e.office_code <> r.office_code;

INSERT INTO handovers
SELECT {{ month_mi }}, id_no, 'OFFICE_CHANGE', from_office, to_office,
       'insured_region changed from ' || from_office || ' to ' || to_office
FROM _moved_office
ON CONFLICT DO NOTHING;

INSERT INTO ledger_transitions
SELECT m.entry_id, m.id_no, e.stage, e.stage, DATE {{ month_first | sql_str }}, {{ month_mi }}, {{ ('run:' ~ month) | sql_str }},
       'office ' || m.from_office || ' -> ' || m.to_office, now()
FROM _moved_office m JOIN ledger_entries e USING (entry_id);

UPDATE ledger_entries e SET office_code = m.to_office, officer_id = NULL
FROM _moved_office m WHERE e.entry_id = m.entry_id;
