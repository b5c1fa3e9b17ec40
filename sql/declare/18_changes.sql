-- reads: _declare, declaration_decisions
-- writes: _declare_changes
-- params: month_mi
-- A second declaration of month P (`declare` run again: after a failure, a correction push, a move)
-- decides again on the latest push (10_screen.sql) and replaces P's lists (20_record.sql). What the
-- offices already have must not change without a word (docs/decisions.md "Declaring a month again"):
-- the persons whose office or decision differs from P's lists as recorded before, or who left or
-- joined them, counted by change and offices (pipelines/declare.py reports and logs the counts, never
-- a person). Empty on P's first declaration.
CREATE OR REPLACE TEMP TABLE _declare_changes AS
WITH before AS (
    SELECT id_no, office_code, decision FROM declaration_decisions WHERE month_mi = {{ month_mi }}
),
after AS (SELECT id_no, office_code, decision FROM _declare)
SELECT CASE WHEN a.id_no IS NULL THEN 'left the lists'
            WHEN b.id_no IS NULL THEN 'added to the lists'
            WHEN a.office_code <> b.office_code THEN 'moved to another office''s list'
            ELSE 'decision changed' END AS change,
       coalesce(b.office_code, '-') AS from_office,
       coalesce(a.office_code, '-') AS to_office,
       count(*) AS persons
FROM before AS b
FULL OUTER JOIN after AS a ON b.id_no = a.id_no
WHERE (SELECT count(*) FROM before) > 0
  AND (a.id_no IS NULL OR b.id_no IS NULL OR a.office_code <> b.office_code OR a.decision <> b.decision)
GROUP BY ALL
ORDER BY ALL;
SELECT change, from_office, to_office, persons FROM _declare_changes ORDER BY ALL;
