-- reads: ledger_transitions, ledger_entries
-- writes: - (a SELECT: the analysts' table)
-- params: -
-- Every ledger transition (rules.md §7) without the ID number: the entry, its office, the stages,
-- the business date, the month, what made it (run, declare, feedback) and when it was recorded.
SELECT t.entry_id, e.office_code, t.from_stage, t.to_stage, t.event_date,
       month_text(t.month_mi) AS month, split_part(t.source, ':', 1) AS source_kind, t.recorded_at
FROM ledger_transitions t JOIN ledger_entries e USING (entry_id)
