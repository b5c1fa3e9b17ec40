-- reads: notice_withdrawals
-- writes: -
-- params: -
-- The month's report (outputs.md report): Notices P's run withdrew unsent (sql/notify/46_withdraw.sql), by office, kind and closing.
-- Bound: month_mi.
SELECT office_code, kind, reason, count(*) FROM notice_withdrawals WHERE withdrawn_mi = ?
GROUP BY ALL ORDER BY ALL
