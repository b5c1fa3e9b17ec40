-- reads: worklist_rows
-- writes: -
-- params: columns, month_mi, offices
-- worklists/<office>/worklist: the worklist rows of P of the given offices, every office at once
-- (split by office in Arrow, pipelines.tabular.write_partitioned); {{ columns }} is
-- pipelines.outputs.WORKLIST_COLUMNS, which the workbooks share (outputs.md worklist columns).
SELECT office_code AS _office, {{ columns }}
FROM worklist_rows
WHERE month_mi = {{ month_mi }} AND office_code IN ({{ offices | sql_list }})
ORDER BY office_code, statutory_age_month, entry_id
