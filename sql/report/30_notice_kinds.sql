-- reads: notice_log
-- writes: -
-- params: -
-- The month's report (outputs.md report): Notices issued into P's batch, by kind and channel (rules.md §5).
-- Bound: month_mi.
SELECT kind, channel, count(*) FROM notice_log WHERE issued_mi = ? GROUP BY ALL
