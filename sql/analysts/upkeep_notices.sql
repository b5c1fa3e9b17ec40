-- reads: _an_copy_runs (and the table's SELECT, the param select; the previous file's copy, db.notices)
-- writes: _an_frozen (and the copy's notices, named by the param db)
-- params: db, select
-- Upkeep of notices (pipelines/analysts.py; issues 17/18). A notice of a month whose batch had gone
-- out when the copy was built (a run of the month DONE, per the copy's month_runs) and recorded
-- before the copy's latest notice is frozen: the warehouse settles, withdraws and restores notices
-- only in a month not yet published (sql/notify/46_withdraw.sql, 47_settle_batch.sql) and never
-- changes an issued one. Every other row of the copy is deleted and the SELECT's rows that are not
-- frozen are inserted. The caller checks the count against the SELECT's.
CREATE OR REPLACE TEMP TABLE _an_frozen AS
SELECT (SELECT max(created_at) FROM {{ db }}.notices) AS w,
       coalesce((SELECT list(DISTINCT month) FROM _an_copy_runs WHERE command = 'run' AND status = 'DONE'),
                []) AS done;

DELETE FROM {{ db }}.notices
WHERE NOT coalesce(list_contains((SELECT done FROM _an_frozen), issued_month)
                   AND created_at < (SELECT w FROM _an_frozen), false);

INSERT INTO {{ db }}.notices BY NAME
SELECT * FROM ({{ select }}) s
WHERE NOT coalesce(list_contains((SELECT done FROM _an_frozen), issued_month)
                   AND created_at < (SELECT w FROM _an_frozen), false);
DROP TABLE _an_frozen;
