-- reads: _waiting_texts, notice_log
-- writes: notice_log
-- params: month_mi
-- The texts pipelines.notify_settle.render_waiting rendered for P's batch (registered by it: one row
-- per notice whose stored text was rendered for the month it was raised in), with their SMS segments;
-- only notices of P's unpublished batch (sql/notify/47_waiting_rows.sql).
UPDATE notice_log AS n SET
    text = w.text,
    segments = CASE WHEN n.phone IS NOT NULL THEN sms_segments(length(w.text)) END
FROM _waiting_texts AS w
WHERE n.notice_id = w.notice_id AND n.issued_mi = {{ month_mi | int }};
