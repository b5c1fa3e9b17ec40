-- reads: ledger_entries
-- writes: -
-- params: -
-- retire-prep explain: whether the person's ledger entry is open in P (else the forecast says when the run would take them in).
-- Bound (never rendered: an ID number is data): id_no, month_mi, month_mi.
SELECT count(*) FROM ledger_entries WHERE id_no = ? AND opened_mi <= ? AND (closed_mi IS NULL OR closed_mi > ?)
