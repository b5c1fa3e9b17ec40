-- reads: conclusions, ledger_entries
-- writes: - (a SELECT: the analysts' table)
-- params: -
-- Every comprehensive conclusion (综合结论, rules.md §7) an office issued, each version: when it was
-- issued and received, its objection deadline (15 working days), confirmed or superseded. No base
-- data, reason or source file (free text an officer typed, or a file name).
SELECT c.entry_id, e.office_code, c.version, c.issued_on, strftime(c.issued_on, '%Y-%m') AS issued_month,
       c.counted_months, c.merge_status, c.archive_conclusion, c.received_on, c.objection_deadline,
       c.deadline_status, c.confirmed_on, c.confirmed_by, c.superseded_on
FROM conclusions c JOIN ledger_entries e USING (entry_id)
ORDER BY c.issued_on, c.entry_id, c.version
