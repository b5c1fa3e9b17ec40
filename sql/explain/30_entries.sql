-- reads: ledger_entries
-- writes: -
-- params: -
-- retire-prep explain: the person's ledger entries (rules.md §3, §7).
-- Bound (never rendered: an ID number is data): id_no.
SELECT entry_id, office_code, mi_text(opened_mi), opened_by, stage, officer_id, due_date,
       mi_text(closed_mi), close_reason, mi_text(elected_retirement_mi)
FROM ledger_entries WHERE id_no = ? ORDER BY opened_mi
