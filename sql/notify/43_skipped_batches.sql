-- reads: -
-- writes: notice_log
-- params: batch_mi, skipped_from, skipped_to
-- The notices waiting for the batch of a month whose run was skipped go out with this run's batch
-- (docs/decisions.md "Skipped months: reminders caught up"; rules.md §5: every notice due is sent).
-- A notice raised outside a run goes to the batch of the first month not run yet
-- (pipelines.feedback.notice_month: a DECLARATION or CONSULTATION of that month's 1st, a RESULT of
-- feedback applied after the last run) and a rerun of a published month defers what it raises to the
-- next month's batch; when that month's run is skipped, no run writes its batch, and once P has run it
-- never will (a month before the last month run is refused). So P's run takes those notices into its
-- own batch ({{ batch_mi }}: P, or P+1 when P's was published) before the batch is settled on P's data
-- and what P's run closed is withdrawn (46_withdraw.sql, 47_settle_batch.sql: reference month before P
-- or raised outside a run, like every notice raised before P's push). The range is empty when no month
-- was skipped (skipped_from > skipped_to). Returns how many notices moved.
UPDATE notice_log SET issued_mi = {{ batch_mi }}
WHERE issued_mi BETWEEN {{ skipped_from }} AND {{ skipped_to }}
