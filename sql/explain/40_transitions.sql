-- reads: ledger_transitions
-- writes: -
-- params: -
-- retire-prep explain: the stage transitions of the person's entries (rules.md §7).
-- Bound (never rendered: an ID number is data): id_no.
SELECT entry_id, coalesce(from_stage, '—'), to_stage, event_date, source, coalesce(detail, '')
FROM ledger_transitions WHERE id_no = ? ORDER BY event_date, recorded_at
