-- reads: _notices_p
-- writes: -
-- params: kinds, offices, persons
-- notifications/<office>/offline: notices delivered through the employer or the township
-- (乡镇（街道）) because the person has no valid mobile (rules.md §5); every office at once
-- (split on _office by the writer); offices: the checked office codes, quoted.
-- township_hint: the household-registration code, or the office when it is empty.
-- Needs _notices_p (45_file_office.sql).
SELECT n.file_office AS _office, n.notice_id, n.kind AS notice_kind, n.id_no, p.name, n.channel,
       nullif(trim(p.employer_name), '') AS employer_name,
       nullif(trim(p.employer_uscc), '') AS employer_uscc,
       coalesce(nullif(trim(p.hukou_region), ''), n.file_office) AS township_hint,
       n.offline_reason, n.text, mi_text(n.reference_mi) AS reference_month
FROM _notices_p n LEFT JOIN {{ persons }} p ON p.id_no = n.id_no
WHERE n.channel <> 'SMS' AND n.file_office IN ({{ offices | sql_list }})
ORDER BY n.file_office, n.channel, list_position([{{ kinds | sql_list }}], n.kind), n.id_no, n.reference_mi, n.notice_id
