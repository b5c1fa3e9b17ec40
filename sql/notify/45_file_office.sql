-- reads: notice_log
-- writes: _notices_p
-- params: month_mi
-- The notices of P with the office whose files carry each one (file_office): as the run of P
-- settled it (47_settle_batch.sql: the office whose ledger holds the notice's entry in P, so that a
-- person who moved office in P is in the new office's files with the rest of his or her month,
-- outputs.md "an office never receives another office's persons"); else the issuing office (a
-- month published before file_office existed, or notices not settled by a run).
CREATE OR REPLACE TEMP VIEW _notices_p AS
SELECT n.* EXCLUDE (file_office), coalesce(n.file_office, n.office_code) AS file_office
FROM notice_log n
WHERE n.issued_mi = {{ month_mi }};
