-- reads: _an_copy_runs, _an_months, notice_log (and the previous file's copy, db.notices)
-- writes: -
-- params: db
-- What the upkeep of notices keeps (sql/analysts/upkeep_notices.sql): the copy's latest notice
-- (as text); the months whose run was done when the copy was built, but for a month whose run
-- changed since (a rerun); and whether the notices stamped with the copy's latest time are as many
-- in notice_log as in the copy (they are then the copy's: the stamp is the recording transaction's
-- start, and any later transaction starts after the copy was built).
WITH c AS (SELECT max(created_at) AS m FROM {{ db | sql_ident }}.notices)
SELECT CAST(c.m AS VARCHAR),
       (SELECT list(DISTINCT month ORDER BY month) FROM _an_copy_runs WHERE command = 'run' AND status = 'DONE'
          AND CAST(left(month, 4) AS INTEGER) * 12 + CAST(right(month, 2) AS INTEGER) - 1
              NOT IN (SELECT month_mi FROM _an_months)),
       (SELECT count(*) FROM {{ db | sql_ident }}.notices WHERE created_at = c.m)
       = (SELECT count(*) FROM notice_log WHERE created_at = c.m)
FROM c;
