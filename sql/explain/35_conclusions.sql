-- reads: conclusions, ledger_entries
-- writes: -
-- params: -
-- retire-prep explain: the person's comprehensive conclusions (综合结论), every version, with the day the
-- result was received and the objection deadline (rules.md §7; CALENDAR_UNKNOWN: a year no calendar covers).
-- Bound (never rendered: an ID number is data): id_no.
SELECT c.entry_id, c.version, c.issued_on, c.archive_conclusion, c.counted_months, c.received_on,
       c.objection_deadline, c.deadline_status, c.confirmed_on, c.confirmed_by, c.superseded_on
FROM conclusions c JOIN ledger_entries e USING (entry_id)
WHERE e.id_no = ? ORDER BY c.issued_on, c.version
