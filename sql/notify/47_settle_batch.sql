-- reads: ledger_entries
-- writes: notice_log
-- params: month_mi, persons
-- P's SMS batch settled on P's data (the run's notices stage, after the ledger and the reminders).
-- A notice raised before P's push — a RESULT from feedback, a DECLARATION of the 1st, a reminder
-- of P-1 a rerun raised after P-1's batch was sent (reference month before P) — goes out
-- with P's files: it takes the channel and mobile of the person's data of P (rules.md §5; the
-- worklist shows the same channel), and the office whose ledger holds its entry in P (file_office,
-- set only where it differs from the issuing office: the files it is in, the report's and
-- office_progress's counts). Its text stays as issued but for the office it names (48_settle_texts.sql). Only notices that differ are touched
-- (the statement's count is theirs); idempotent. Only while P's batch is unpublished
-- (notify.batch_published): once a run of P is DONE its notices were sent as they are, and a rerun
-- of P — even on a correction push of P that moves a person to another office — re-emits them as
-- published (the worklist follows the new data). A replay does not run it: a month keeps the filing it was published with (months
-- published before file_office existed: office_code).
WITH now_p AS (
    SELECT n.notice_id, phone_normalized(p.phone) AS mobile, p.phone AS raw_phone, p.insurance_type,
           p.employer_uscc, p.employer_name, e.office_code AS entry_office
    FROM notice_log n
    JOIN {{ persons }} p ON p.id_no = n.id_no
    JOIN ledger_entries e ON e.entry_id = n.entry_id
    WHERE n.issued_mi = {{ month_mi }}
      -- raised outside the run (the run's own reminders are issued on P's data already)
      AND notice_raised_before_run(n.kind, n.reference_mi, {{ month_mi }})
)
UPDATE notice_log n SET
    phone = s.mobile,
    channel = notice_channel(s.mobile, s.insurance_type, s.employer_uscc, s.employer_name),
    segments = CASE WHEN s.mobile IS NOT NULL THEN sms_segments(length(n.text)) END,
    offline_reason = notice_offline_reason(s.raw_phone, s.mobile),
    file_office = CASE WHEN s.entry_office <> n.office_code THEN s.entry_office END
FROM now_p s
WHERE n.notice_id = s.notice_id
  AND (n.phone IS DISTINCT FROM s.mobile
       OR n.channel IS DISTINCT FROM notice_channel(s.mobile, s.insurance_type, s.employer_uscc, s.employer_name)
       OR coalesce(n.file_office, n.office_code) <> s.entry_office);
