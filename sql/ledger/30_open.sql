-- reads: ledger_entries, screen_results
-- writes: _opening, handovers, ledger_entries, ledger_transitions
-- params: month, month_first, month_mi, settings
-- Take persons in (rules.md §3 triggers 1–3): a new entry for each triggered person without an open one.
-- And taken in again (rules.md §3 "once in the ledger … stays"; docs/decisions.md "Taken in again"):
-- a person whose last entry the push closed (DECEASED, RETIRED, LEFT_PUSH, MOVED_OUT) and whom the
-- push returns — servable again (alive, not retired, in the push, benefit place Ningxia) — while S
-- has not passed (after it, PAST_AGE_NOT_RETIRED takes the person in): past the scope window around
-- the original age no trigger would, and the reminders up to S (rules.md §5) would be lost.
-- A retirement the county reported is never taken in again (screened.retired holds it).
CREATE OR REPLACE TEMP TABLE _opening AS
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
    WHERE r.month_mi = {{ month_mi }}
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
                  WHERE e.id_no = o.id_no
                    AND (e.closed_mi IS NULL OR e.closed_mi >= {{ month_mi }} OR e.opened_mi = {{ month_mi }}));

INSERT INTO ledger_entries (entry_id, id_no, office_code, opened_mi, opened_by, officer_id, stage, stage_since, due_date)
SELECT entry_id, id_no, office_code, {{ month_mi }}, opened_by, NULL, 'ENROLLED', DATE {{ month_first | sql_str }},
       CAST(DATE {{ month_first | sql_str }} + INTERVAL {{ settings.stage_days['ENROLLED'] }} DAY AS DATE)
FROM _opening;

INSERT INTO ledger_transitions
SELECT entry_id, id_no, NULL, 'ENROLLED', DATE {{ month_first | sql_str }}, {{ month_mi }}, {{ ('run:' ~ month) | sql_str }},
       'taken in by ' || opened_by, now()
FROM _opening;

-- A benefit place that moved into Ningxia since the person's last screening is handed over too.
INSERT INTO handovers
SELECT {{ month_mi }}, o.id_no, 'BENEFIT_PLACE_IN', prev.benefit_province, o.office_code,
       'benefit place moved from ' || prev.benefit_province || ' to 640000'
FROM _opening o
JOIN (SELECT id_no, arg_max(benefit_province, month_mi) AS benefit_province
      FROM screen_results WHERE month_mi < {{ month_mi }} GROUP BY id_no) prev USING (id_no)
WHERE prev.benefit_province <> '640000'
ON CONFLICT DO NOTHING;
