-- notifications/<office>/sms: the SMS batches for P (outputs.md sms columns), every office at once
-- (split on _office by the writer); offices: the checked office codes, quoted.
SELECT n.office_code AS _office, n.notice_id, n.kind AS notice_kind, n.id_no, n.phone, n.text, n.segments,
       mi_text(n.reference_mi) AS reference_month
FROM notice_log n
WHERE n.issued_mi = {{ month_mi }} AND n.channel = 'SMS' AND n.office_code IN ({{ offices }})
ORDER BY n.office_code, list_position({{ kinds }}, n.kind), n.id_no, n.reference_mi, n.notice_id
