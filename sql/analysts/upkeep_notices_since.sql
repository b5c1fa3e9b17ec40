-- reads: _an_copy_runs (and the previous file's copy, db.notices)
-- writes: -
-- params: db
-- What the upkeep of notices keeps (sql/analysts/upkeep_notices.sql): the copy's latest notice
-- (as text) and the months whose run was done when the copy was built.
SELECT CAST((SELECT max(created_at) FROM {{ db | sql_ident }}.notices) AS VARCHAR),
       (SELECT list(DISTINCT month ORDER BY month) FROM _an_copy_runs WHERE command = 'run' AND status = 'DONE');
