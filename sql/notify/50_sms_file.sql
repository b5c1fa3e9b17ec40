-- notifications/<office>/sms: the SMS batch of an office for P (outputs.md sms columns).
-- Params: month_mi, office (a checked office code). Notices issued in P whose office is <office>.
SELECT n.notice_id, n.kind AS notice_kind, n.id_no, n.phone, n.text, n.segments,
       mi_text(n.reference_mi) AS reference_month
FROM notice_log n
WHERE n.issued_mi = {{ month_mi }} AND n.office_code = '{{ office }}' AND n.channel = 'SMS'
ORDER BY list_position({{ kinds }}, n.kind), n.id_no, n.reference_mi, n.notice_id
