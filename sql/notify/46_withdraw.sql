-- reads: ledger_entries
-- writes: _restore, _withdraw, notice_log, notice_withdrawals
-- params: month_mi, restore_into, withdraw
-- A notice raised before P's push — a DECLARATION or CONSULTATION of the 1st (rules.md §6), a
-- RESULT from feedback (§7), a reminder of P-1 that a rerun of P-1 raised after P-1's batch was sent
-- (reference month before P, pipelines/notify.issue_reminders) — waits for P's batch. When P's run
-- closed its entry (P's push says the person died, retired, left the push or Ningxia: rules.md §3
-- "until closed"; §6 "alive and not retired"), it is withdrawn before the batch is written: moved to notice_withdrawals with the
-- entry's close reason, so that it is kept but in no file and no count. Only while P's batch is
-- unpublished (notify.batch_published): once a run of P is DONE its notices were sent, and a rerun of
-- P (after, say, a county RETIRED dated in P closed the entry) keeps them — it re-emits what was
-- published. Runs before 47_settle_batch.sql; idempotent; a replay does not run it.
-- First, what an earlier run of P withdrew and a rerun on a correction push of P has reopened
-- (sql/ledger/05_reopen.sql) is issued again, as it was: into P's batch while it is unpublished
-- (restore_into = P), else into the next one (restore_into = P+1, like every notice a rerun of a
-- published month raises; pipelines/notify.withdraw_closed).
CREATE OR REPLACE TEMP TABLE _restore AS
SELECT w.* REPLACE (CAST({{ restore_into }} AS INTEGER) AS issued_mi) FROM notice_withdrawals w
JOIN ledger_entries e ON e.entry_id = w.entry_id
WHERE w.withdrawn_mi = {{ month_mi }} AND e.closed_mi IS NULL
  AND NOT EXISTS (SELECT 1 FROM notice_log n
                  WHERE n.notice_id = w.notice_id
                     OR (n.id_no = w.id_no AND n.kind = w.kind AND n.reference_mi = w.reference_mi));

INSERT INTO notice_log (notice_id, id_no, entry_id, kind, reference_mi, issued_mi, office_code, channel,
                        phone, text, segments, offline_reason, created_at)
SELECT notice_id, id_no, entry_id, kind, reference_mi, issued_mi, office_code, channel, phone, text,
       segments, offline_reason, created_at
FROM _restore;

DELETE FROM notice_withdrawals WHERE notice_id IN (SELECT notice_id FROM _restore);
{% if withdraw %}
CREATE OR REPLACE TEMP TABLE _withdraw AS
SELECT n.notice_id, n.id_no, n.entry_id, n.kind, n.reference_mi, n.issued_mi, n.office_code, n.channel,
       n.phone, n.text, n.segments, n.offline_reason, n.created_at, e.close_reason
FROM notice_log n
JOIN ledger_entries e ON e.entry_id = n.entry_id
WHERE n.issued_mi = {{ month_mi }}
  AND notice_raised_before_run(n.kind, n.reference_mi, {{ month_mi }})
  AND e.closed_mi IS NOT NULL;

INSERT INTO notice_withdrawals
SELECT notice_id, id_no, entry_id, kind, reference_mi, issued_mi, office_code, channel, phone, text,
       segments, offline_reason, created_at, close_reason, {{ month_mi }}, now()
FROM _withdraw;

DELETE FROM notice_log WHERE notice_id IN (SELECT notice_id FROM _withdraw);
{% endif %}
