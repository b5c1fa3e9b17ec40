-- reads: handovers
-- writes: -
-- params: -
-- retire-prep explain: the person's handovers between offices (rules.md §2, §3).
-- Bound (never rendered: an ID number is data): id_no.
SELECT mi_text(month_mi), kind, from_code, to_code, reason FROM handovers WHERE id_no = ?
ORDER BY month_mi
