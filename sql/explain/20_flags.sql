-- reads: flags
-- writes: -
-- params: -
-- retire-prep explain: the person's flags of month P with their evidence (rules.md §4).
-- Bound (never rendered: an ID number is data): month_mi, id_no.
SELECT code, evidence FROM flags WHERE month_mi = ? AND id_no = ? ORDER BY code
