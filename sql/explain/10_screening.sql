-- reads: screen_results
-- writes: -
-- params: -
-- retire-prep explain: the person's screening of month P (rules.md §1–3).
-- Bound (never rendered: an ID number is data): month_mi, id_no.
SELECT * FROM screen_results WHERE month_mi = ? AND id_no = ?
