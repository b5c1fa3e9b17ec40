-- reads: notice_log
-- writes: -
-- params: -
-- retire-prep explain: the notices issued to the person (rules.md §5).
-- Bound (never rendered: an ID number is data): id_no.
SELECT kind, mi_text(reference_mi), mi_text(issued_mi), channel, coalesce(offline_reason, '')
FROM notice_log WHERE id_no = ? ORDER BY issued_mi, kind
