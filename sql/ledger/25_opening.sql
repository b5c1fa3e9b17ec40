-- reads: ledger_entries, screen_results
-- writes: _opening
-- params: bucket, buckets, month_mi
-- Take persons in (rules.md §3 triggers 1–3): a new entry for each triggered person without an open one.
-- And taken in again (rules.md §3 "once in the ledger … stays"; docs/decisions.md "Taken in again"):
-- a person whose last entry the push closed (DECEASED, RETIRED, LEFT_PUSH, MOVED_OUT) and whom the
-- push returns — servable again (alive, not retired, in the push, benefit place Ningxia) — while S
-- has not passed (after it, PAST_AGE_NOT_RETIRED takes the person in): past the scope window around
-- the original age no trigger would, and the reminders up to S (rules.md §5) would be lost.
-- A retirement the county reported is never taken in again (screened.retired holds it).
-- In passes when buckets > 1 (issue 19, twenty-second session: the month's 25,000,000 screened persons
-- against the ledger's 17 M entries at once is the largest join of the ledger stage): only the persons
-- with hash(id_no) % buckets = bucket, the first pass making the table and the others adding to it
-- (pipelines/ledger.py runs the buckets in turn; a person and his or her entries are in the same
-- bucket: the same rows either way). sql/ledger/30_open.sql then opens the entries.
{% if bucket == 0 %}CREATE OR REPLACE TEMP TABLE _opening AS{% else %}INSERT INTO _opening{% endif %}
WITH returned AS (
    SELECT DISTINCT id_no FROM ledger_entries
    WHERE closed_mi < {{ month_mi }} AND close_reason IN ('DECEASED', 'RETIRED', 'LEFT_PUSH', 'MOVED_OUT')
),
o AS (
    SELECT r.id_no, r.office_code,
           concat_ws(';', CASE WHEN r.trigger_push THEN 'PUSH' END,
                          CASE WHEN r.trigger_application THEN 'APPLICATION' END,
                          CASE WHEN r.trigger_screening THEN 'SCREENING' END) AS triggers
    FROM screen_results AS r
    WHERE r.month_mi = {{ month_mi }}{% if buckets > 1 %}
      AND hash(r.id_no) % {{ buckets }} = {{ bucket }}{% endif %}
      AND (r.trigger_push OR r.trigger_application OR r.trigger_screening
           OR (servable(r.alive, r.retired, r.in_push, r.benefit_province)
               AND r.statutory_age_mi >= {{ month_mi }}
               AND r.id_no IN (SELECT id_no FROM returned)))
)
SELECT o.id_no, o.office_code,
       person_key(o.id_no) || '-' || mi_text({{ month_mi }}) AS entry_id,
       -- the push that returns the person takes him or her in
       CASE WHEN o.triggers = '' THEN 'PUSH' ELSE o.triggers END AS opened_by
FROM o
-- no entry open in P: none still open, none closed in P or later (a county RETIRED dated after P
-- closes in that later month), none opened in P (a rerun opens nothing twice)
WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e
                  WHERE e.id_no = o.id_no{% if buckets > 1 %}
                    AND hash(e.id_no) % {{ buckets }} = {{ bucket }}{% endif %}
                    AND (e.closed_mi IS NULL OR e.closed_mi >= {{ month_mi }} OR e.opened_mi = {{ month_mi }}));
