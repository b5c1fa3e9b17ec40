-- reads: _declare
-- writes: _decl_notice_rows
-- params: kind
-- The {{ kind }} notices of the declaration screening (rules.md §6): the rows for
-- pipelines.notify.issue_notices, referring to the retirement month. retirement_elected: R is a
-- month the person elected (弹性退休, feedback), else S: the text says 选定的 only of the former
-- (templates/sms/declaration.txt.j2).
CREATE OR REPLACE TEMP TABLE _decl_notice_rows AS
SELECT id_no, entry_id, retirement_mi AS reference_mi, office_code,
       lpad(CAST(retirement_mi // 12 AS VARCHAR), 4, '0') || '-' ||
       lpad(CAST(retirement_mi % 12 + 1 AS VARCHAR), 2, '0') AS retirement_month,
       retirement_source = 'ELECTED' AS retirement_elected
FROM _declare WHERE decision = {{ kind | sql_str }} ORDER BY entry_id;
