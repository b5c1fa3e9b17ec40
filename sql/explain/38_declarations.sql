-- reads: declaration_decisions
-- writes: -
-- params: -
-- retire-prep explain: the person's month-start declaration screenings (rules.md §6): the month, the
-- decision, the retirement month it was made for and why.
-- Bound (never rendered: an ID number is data): id_no.
SELECT mi_text(month_mi), decision, mi_text(retirement_mi), retirement_source, reason
FROM declaration_decisions WHERE id_no = ? ORDER BY month_mi
