-- reads: ledger_entries, notice_log
-- writes: _pre_service_notified
-- params: bucket, buckets, month_mi
-- Entries told of their pre-service in P move ENROLLED -> NOTIFIED (rules.md §7).
-- Read from the notices table (not only this run's inserts): a run killed between the
-- insert and the transition completes the move when rerun.
-- buckets > 1: only the persons of the bucket (as in 10_reminders_due.sql).
CREATE OR REPLACE TEMP TABLE _pre_service_notified AS
SELECT n.entry_id, mi_first_day({{ month_mi }}) AS event_date,
       'notice ' || n.notice_id || ' (' || n.channel || ')' AS detail
FROM notice_log n JOIN ledger_entries e ON e.entry_id = n.entry_id
WHERE n.kind = 'PRE_SERVICE' AND n.reference_mi = {{ month_mi }}
  AND e.stage = 'ENROLLED' AND e.closed_mi IS NULL{% if buckets and buckets > 1 %}
  AND hash(n.id_no) % {{ buckets }} = {{ bucket }}{% endif %}
ORDER BY n.entry_id;
