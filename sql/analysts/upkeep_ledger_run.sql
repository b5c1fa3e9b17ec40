-- reads: screen_results, ledger_entries, _an_changed (sql/analysts/upkeep_ledger.sql: the entries whose own columns changed, already deleted from the copy; and the copy, db.table)
-- writes: _an_people, _an_changed (and the copy's table, named by the params db and table)
-- params: db, table, latest_mi, copy_mi
-- Upkeep of ledger_current after a run (pipelines/analysts.py "ledger"; issue 17). The copy's rows took
-- their screening from its latest screened month M (copy_mi; the caller checked that no run of M began,
-- ended or was rerun since, so M's screen_results are what the copy was built from); the screening
-- now is the latest month P's (latest_mi). A row changes with the screening only when the person's
-- screening columns differ between M and P (≈ 1 % of persons in an INCR month), else only its
-- screened_month turns from M to P: that column is updated in place, the rows of the persons whose
-- screening changed (or who are screened in P only) and every row not screened in M are written
-- again (upkeep_ledger_again.sql inserts _an_changed again). Persons screened in M and
-- not in P keep M: their latest screening is still M's.
-- Compared by a hash of the person's screening columns in each month (a third of the cost of EXCEPT
-- on the columns at 1,000,000 persons; a change leaving the 64-bit hash equal is left to chance).
CREATE OR REPLACE TEMP TABLE _an_people AS
WITH p AS (SELECT id_no, hash(insurance_type, gender, original_age_mi, statutory_age_mi, benefit_province, flags) AS h
           FROM screen_results WHERE month_mi = {{ latest_mi | int }}),
     m AS (SELECT id_no, hash(insurance_type, gender, original_age_mi, statutory_age_mi, benefit_province, flags) AS h
           FROM screen_results WHERE month_mi = {{ copy_mi | int }})
-- again: screened in P otherwise than in M, or newly; not again: screened in M, not in P
SELECT id_no, p.h IS NOT NULL AS again FROM p FULL JOIN m USING (id_no) WHERE p.h IS DISTINCT FROM m.h;

INSERT INTO _an_changed
SELECT entry_id FROM {{ db | sql_ident }}.{{ table | sql_ident }} WHERE screened_month IS DISTINCT FROM month_text({{ copy_mi | int }})
UNION
SELECT entry_id FROM ledger_entries WHERE id_no IN (SELECT id_no FROM _an_people WHERE again);

DELETE FROM {{ db | sql_ident }}.{{ table | sql_ident }} WHERE entry_id IN (SELECT entry_id FROM _an_changed);

{% if latest_mi | int != copy_mi | int %}
UPDATE {{ db | sql_ident }}.{{ table | sql_ident }} SET screened_month = month_text({{ latest_mi | int }})
WHERE entry_id NOT IN (SELECT entry_id FROM ledger_entries
                       WHERE id_no IN (SELECT id_no FROM _an_people WHERE NOT again));
{% endif %}
DROP TABLE _an_people;
