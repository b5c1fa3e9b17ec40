-- reads: notice_log
-- writes: notice_log
-- params: month_mi, offices
-- The texts of P's unpublished batch name the office that files them (pipelines.notify.settle_batch,
-- after 47_settle_batch.sql). A notice raised before P's push — a RESULT of county feedback, a
-- DECLARATION of the 1st — was rendered with the issuing office's name and telephone
-- (templates/sms: 向{office_short}提交…, 咨询电话：{office_phone}); when P's push has moved the
-- person to another office, the notice goes out in that office's batch (file_office), and the person
-- must be told to call, and to object at, the office that now holds the file (outputs.md: an office
-- never receives another office's persons; docs/decisions.md "A notice filed by another office names
-- it"). Only the two office fields change — the telephone, and the office's name wherever the text
-- names it (向…提交 of RESULT, 前往…经办窗口 of CONSULTATION, …为您提供 of a PRE_SERVICE and （…）或12333
-- of a reminder a rerun deferred: docs/decisions.md "What the recipients read") — only while the
-- batch is unpublished; idempotent (a text already naming its filing office is left alone, and one
-- moved back is moved back). The office named is the one whose telephone the text gives (no short
-- name is part of another's).
WITH contacts AS (
    SELECT * FROM (
        VALUES {% for code, short, phone in offices %}({{ code | sql_str }}, {{ short | sql_str }}, {{ phone | sql_str }}){{ "," if not loop.last }}{% endfor %}
    ) AS v (code, short, phone)
),
fix AS (
    SELECT n.notice_id,
           replace(replace(n.text, '咨询电话：' || named.phone, '咨询电话：' || t.phone), named.short, t.short) AS text
    FROM notice_log AS n
    INNER JOIN contacts AS t ON t.code = coalesce(n.file_office, n.office_code)
    INNER JOIN contacts AS named ON named.code <> t.code AND contains(n.text, '咨询电话：' || named.phone)
    WHERE n.issued_mi = {{ month_mi }}
      AND notice_raised_before_run(n.kind, n.reference_mi, {{ month_mi }})
)
UPDATE notice_log AS n SET
    text = f.text,
    segments = CASE WHEN n.phone IS NOT NULL THEN sms_segments(length(f.text)) END
FROM fix AS f
WHERE n.notice_id = f.notice_id;
