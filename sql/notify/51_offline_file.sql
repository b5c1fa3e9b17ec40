-- notifications/<office>/offline: notices delivered through the employer or the township
-- (乡镇（街道）) because the person has no valid mobile (rules.md §5); every office at once
-- (split on _office by the writer); offices: the checked office codes, quoted.
-- township_hint: the household-registration code, or the office when it is empty.
SELECT n.office_code AS _office, n.notice_id, n.kind AS notice_kind, n.id_no, p.name, n.channel,
       nullif(trim(p.employer_name), '') AS employer_name,
       nullif(trim(p.employer_uscc), '') AS employer_uscc,
       coalesce(nullif(trim(p.hukou_region), ''), n.office_code) AS township_hint,
       n.offline_reason, n.text, mi_text(n.reference_mi) AS reference_month
FROM notice_log n LEFT JOIN {{ persons }} p ON p.id_no = n.id_no
WHERE n.issued_mi = {{ month_mi }} AND n.channel <> 'SMS' AND n.office_code IN ({{ offices }})
ORDER BY n.office_code, n.channel, list_position({{ kinds }}, n.kind), n.id_no, n.reference_mi, n.notice_id
