-- reads: notice_log
-- writes: -
-- params: -
-- The month's report (outputs.md report): the reminders of the months whose run was skipped before P
-- (pipelines.monthly.skipped_months) that went out with P's batch, by reference month and kind
-- (rules.md §5; docs/decisions.md "Skipped months: reminders caught up"). Counts only.
-- Bound: month_mi (P's batch), the first and the last month skipped.
SELECT reference_mi, kind, count(*) FROM notice_log
WHERE issued_mi = ? AND reference_mi BETWEEN ? AND ? AND kind IN ('AGE_MINUS_3', 'AGE_REACHED')
GROUP BY ALL ORDER BY ALL
