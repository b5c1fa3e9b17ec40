-- reads: notice_withdrawals
-- writes: -
-- params: -
-- retire-prep explain: the person's notices withdrawn unsent (sql/notify/46_withdraw.sql).
-- Bound (never rendered: an ID number is data): id_no.
SELECT kind, mi_text(reference_mi), mi_text(withdrawn_mi), reason FROM notice_withdrawals
WHERE id_no = ? ORDER BY withdrawn_mi, kind
