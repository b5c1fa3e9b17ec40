-- reads: -
-- writes: officers
-- params: officers_csv
-- The roster of responsible officers (data/officers.csv): the active ones, for sql/ledger/40_officers.sql.
CREATE OR REPLACE TEMP TABLE officers AS
SELECT office_code, officer_id, officer_name
FROM read_csv({{ officers_csv | sql_str }}, header = true, all_varchar = true)
WHERE coalesce(active, '1') = '1';
