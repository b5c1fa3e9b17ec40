-- reads: _notices_p
-- writes: -
-- params: kinds, offices
-- notifications/<office>/sms: the SMS batches for P (outputs.md sms columns), every office at once
-- (split on _office by the writer); offices: the checked office codes, quoted. Needs _notices_p
-- (45_file_office.sql).
SELECT n.file_office AS _office, n.notice_id, n.kind AS notice_kind, n.id_no, n.phone, n.text, n.segments,
       mi_text(n.reference_mi) AS reference_month
FROM _notices_p n
WHERE n.channel = 'SMS' AND n.file_office IN ({{ offices | sql_list }})
ORDER BY n.file_office, list_position([{{ kinds | sql_list }}], n.kind), n.id_no, n.reference_mi, n.notice_id
