-- reads: _moved_office, handovers, ledger_entries
-- writes: handovers, ledger_entries, ledger_transitions
-- params: month, month_first, month_mi
-- The responsible office follows insured_region (rules.md §3); a change is handed over. The entries
-- that moved are sql/ledger/15_moved_office.sql's _moved_office.

-- A rerun of P (a correction push of P) that moves the entry again finds P's handover of the earlier
-- run: it is brought up to date, never left behind (it would hand the person to an office that no
-- longer holds him or her, and tell the new one nothing). from_code stays the office of the month
-- before (where the pre-review was done: the coordination letter's recipient, 55_letters_due.sql);
-- to_code is where the person is now; the reason says where the earlier run had put the person
-- (docs/decisions.md "A correction push that moves a person again").
UPDATE handovers h
SET to_code = m.to_office,
    reason = CASE WHEN m.to_office = h.from_code
                  THEN 'insured_region back at ' || h.from_code
                  ELSE 'insured_region changed from ' || h.from_code || ' to ' || m.to_office END
             || ' (a correction push of the month: its earlier run had handed the person to ' || h.to_code || ')'
FROM _moved_office m
WHERE h.month_mi = {{ month_mi }} AND h.id_no = m.id_no AND h.kind = 'OFFICE_CHANGE';

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
