-- reads: screen_results, persons_p, applications, ledger_entries, conclusions, notice_log, worklist_rows
-- writes: _fc_months, _fc_open, _fc_cand, _fc_entering, _fc_people, _fc_notices, _fc_declarations
-- params: month_mi, horizon, next_month_first, overdue_every, only
-- (persons_p: the push state of P, sql/screen/00_state.sql; only: an ID number — one person,
-- for explain — or empty: everyone)
--
-- The workload of months M = P+1 … P+horizon if the push and the applications stayed as they are
-- at P (issue 18; docs/decisions.md "Issue 18"): one pass over P's screening, every rule evaluated
-- at each M by the same macros the run of a month uses (sql/policy/scope.sql: §3 scope and
-- triggers, the two month-dependent §4 flags, §5 reminders by age, §6 declaration screening).
-- On an unchanged push a person's facts (ages, benefit place, alive, retired, in the push, the
-- month-independent flags, contribution status, applications) are those of P; only the month moves.

CREATE OR REPLACE TEMP TABLE _fc_months AS
SELECT CAST(m AS INTEGER) AS m FROM range({{ month_mi + 1 }}, {{ month_mi + horizon + 1 }}) t(m);

-- In the ledger after P's run: the open entries (a county RETIRED dated after P is in stage RETIRED
-- already and closes in its month: not open). {% if only %}One person only.{% endif %}
CREATE OR REPLACE TEMP TABLE _fc_open AS
SELECT e.entry_id, e.id_no, e.office_code, e.stage, e.elected_retirement_mi
FROM ledger_entries e
WHERE e.opened_mi <= {{ month_mi }} AND (e.closed_mi IS NULL OR e.closed_mi > {{ month_mi }})
  AND e.stage NOT IN ('RETIRED', 'DECEASED', 'LEFT_PUSH', 'MOVED_OUT')
  {% if only %}AND e.id_no = {{ only | sql_str }}{% endif %};

-- Entering (rules.md §3 triggers 1–3 at M): P's screened persons outside the ledger — no entry open
-- after P, nor closed after P (the month's run opens nobody with such an entry: sql/ledger/30_open.sql)
-- — whom a trigger takes in at some M; the first such M. Servable is month-independent on an
-- unchanged push; a person whose O lies beyond every trigger's reach of P+horizon is left out early.
CREATE OR REPLACE TEMP TABLE _fc_cand AS
WITH app AS (   -- trigger 2: the applications received by the end of P (as they are at P)
    SELECT DISTINCT id_no FROM applications WHERE applied_on < DATE {{ next_month_first | sql_str }}
),
cand AS (
    SELECT r.id_no, r.office_code, r.insurance_type, r.original_age_mi, r.statutory_age_mi, r.retired,
           r.counted_months, r.min_contribution_months, p.contribution_status, r.flags,
           -- a §4 flag of P that does not move with the month
           len(list_filter(string_split(r.flags, ';'), LAMBDA c: c <> '' AND NOT flag_depends_on_month(c))) > 0
               AS fixed_flagged,
           app.id_no IS NOT NULL AS applied
    FROM screen_results r
    JOIN persons_p p ON p.id_no = r.id_no
    LEFT JOIN app ON app.id_no = r.id_no
    WHERE r.month_mi = {{ month_mi }}
      AND servable(r.alive, r.retired, r.in_push, r.benefit_province)
      AND r.original_age_mi - ({{ month_mi + horizon }}) <= trigger_reach()
      {% if only %}AND r.id_no = {{ only | sql_str }}{% endif %}
      AND NOT EXISTS (SELECT 1 FROM ledger_entries e
                      WHERE e.id_no = r.id_no AND e.opened_mi <= {{ month_mi }}
                        AND (e.closed_mi IS NULL OR e.closed_mi > {{ month_mi }}))
)
SELECT * FROM cand;

-- (a table, not a CTE: DuckDB then runs the month-by-month pass over it alone)
CREATE OR REPLACE TEMP TABLE _fc_entering AS
WITH at_m AS (
    SELECT c.*, mo.m,
           -- §4 flags in M: those of P that do not move, and the two that move with the month
           insufficient_years_at(c.counted_months, c.contribution_status, c.statutory_age_mi,
                                 c.min_contribution_months, mo.m) AS insufficient_m,
           past_age_not_retired_at(c.statutory_age_mi, c.retired, mo.m) AS past_age_m
    FROM _fc_cand c CROSS JOIN _fc_months mo
),
t AS (
    SELECT a.*,
           scope_rule_at(true, a.insurance_type, a.original_age_mi, a.contribution_status, a.m) AS scope_rule,
           trigger_application_at(true, a.applied, a.original_age_mi, a.m)                    AS by_application,
           trigger_screening_at(true, a.fixed_flagged OR a.insufficient_m OR a.past_age_m,
                                a.original_age_mi, a.m)                                      AS by_screening
    FROM at_m a
),
first AS (
    SELECT * FROM t
    WHERE scope_rule IS NOT NULL OR by_application OR by_screening
    QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY m) = 1
)
SELECT id_no, office_code, m AS entry_mi, scope_rule,
       scope_rule IS NOT NULL AS by_push, by_application, by_screening,
       -- the flags of M (for explain): P's that do not move, and those of M that do
       array_to_string(list_sort(list_concat(
           list_filter(string_split(flags, ';'), LAMBDA c: c <> '' AND NOT flag_depends_on_month(c)),
           CASE WHEN insufficient_m THEN ['INSUFFICIENT_YEARS'] ELSE [] END,
           CASE WHEN past_age_m THEN ['PAST_AGE_NOT_RETIRED'] ELSE [] END)), ';') AS flags
FROM first;

-- Everyone in the ledger during the horizon: the open entries from P+1, the entering from their
-- month; with S, the retirement month R (elected, else S), counted months (the confirmed
-- conclusion's, else the screening's: as sql/declare/10_screen.sql) and the channel a notice takes
-- (rules.md §5, on P's person data: as sql/notify/20_notice_rows.sql).
CREATE OR REPLACE TEMP TABLE _fc_people AS
WITH who AS (
    SELECT id_no, entry_id, office_code, stage, elected_retirement_mi,
           {{ month_mi + 1 }} AS from_mi, false AS entering
    FROM _fc_open
    UNION ALL
    SELECT id_no, NULL, office_code, 'ENROLLED', NULL, entry_mi, true FROM _fc_entering
),
od AS (   -- OVERDUE at most once every N months (sql/notify/10_reminders_due.sql): the last one sent
    SELECT id_no, max(greatest(reference_mi, issued_mi)) AS last_overdue_mi
    FROM notice_log WHERE kind = 'OVERDUE' GROUP BY id_no
),
wl AS (   -- the channel of P's worklist row, for the open entries
    SELECT w.id_no, w.entry_id, wl.channel
    FROM who w JOIN worklist_rows wl ON wl.month_mi = {{ month_mi }} AND wl.entry_id = w.entry_id
),
p AS (    -- the push's person data, only for those without a worklist row (the persons entering):
          -- a hash table of them, not of every person of the push
    SELECT p.id_no, p.phone, p.employer_uscc, p.employer_name
    FROM persons_p p
    WHERE p.id_no IN (SELECT w.id_no FROM who w LEFT JOIN wl ON wl.entry_id = w.entry_id WHERE wl.channel IS NULL)
)
SELECT w.*, r.statutory_age_mi, r.insurance_type,
       coalesce(w.elected_retirement_mi, r.statutory_age_mi) AS retirement_mi,
       elected_month_usable(w.elected_retirement_mi, r.flexible_earliest_mi, r.flexible_latest_mi) AS elected_usable,
       coalesce(c.counted_months, r.counted_months) AS counted_months,
       -- the channel of P's worklist row (the same expression on the same data: sql/outputs/10_worklist.sql),
       -- computed here only for the persons entering
       coalesce(wl.channel,
                notice_channel(phone_normalized(p.phone), r.insurance_type, p.employer_uscc, p.employer_name)) AS channel,
       od.last_overdue_mi
FROM who w
JOIN screen_results r ON r.month_mi = {{ month_mi }} AND r.id_no = w.id_no
LEFT JOIN wl ON wl.entry_id = w.entry_id
LEFT JOIN p ON p.id_no = w.id_no AND wl.channel IS NULL
LEFT JOIN od ON od.id_no = w.id_no
LEFT JOIN (SELECT entry_id, any_value(counted_months) AS counted_months FROM conclusions
           WHERE superseded_on IS NULL GROUP BY entry_id) c ON c.entry_id = w.entry_id;

-- Notices due in M (rules.md §5), one row per person, kind and M: PRE_SERVICE in the month of
-- entering; AGE_MINUS_3 and AGE_REACHED by age; OVERDUE past S, spaced: due in M when M − N is at
-- or after the last one (sent before P, or due in the horizon), i.e. the first month it may go
-- and every N months after. DECLARATION / CONSULTATION: below, from the declaration screening.
CREATE OR REPLACE TEMP TABLE _fc_notices AS
SELECT id_no, office_code, from_mi AS m, 'PRE_SERVICE' AS kind, channel FROM _fc_people WHERE entering
UNION ALL
SELECT id_no, office_code, m, kind, channel FROM (
    SELECT p.id_no, p.office_code, p.channel, mo.m,
           -- the three are exclusive (S − M = 3, S = M, S < M): one pass over the months
           CASE WHEN age_minus_3_due(p.statutory_age_mi, mo.m) THEN 'AGE_MINUS_3'
                WHEN age_reached_due(p.statutory_age_mi, mo.m) THEN 'AGE_REACHED'
                WHEN overdue_age(p.statutory_age_mi, mo.m)
                     AND mo.m >= greatest(p.statutory_age_mi + 1, p.from_mi,
                                          coalesce(p.last_overdue_mi + {{ overdue_every }}, p.from_mi))
                     AND (mo.m - greatest(p.statutory_age_mi + 1, p.from_mi,
                                          coalesce(p.last_overdue_mi + {{ overdue_every }}, p.from_mi)))
                         % {{ overdue_every }} = 0 THEN 'OVERDUE' END AS kind
    FROM _fc_people p JOIN _fc_months mo ON mo.m >= p.from_mi
) WHERE kind IS NOT NULL;

-- Notices already waiting for the batch of a month of the horizon (raised before P's run ended: a
-- RESULT of county feedback, a declaration notice of a late screening, what a rerun deferred): they
-- go out with M's batch, filed for the office that holds the entry (sql/notify/47_settle_batch.sql).
INSERT INTO _fc_notices
SELECT n.id_no, coalesce(e.office_code, n.file_office, n.office_code), n.issued_mi, n.kind,
       notice_channel(phone_normalized(p.phone), p.insurance_type, p.employer_uscc, p.employer_name)
FROM notice_log n
LEFT JOIN ledger_entries e ON e.entry_id = n.entry_id
LEFT JOIN persons_p p ON p.id_no = n.id_no
WHERE n.issued_mi BETWEEN {{ month_mi + 1 }} AND {{ month_mi + horizon }}
  AND (e.entry_id IS NULL OR e.closed_mi IS NULL OR e.closed_mi > n.issued_mi)
  {% if only %}AND n.id_no = {{ only | sql_str }}{% endif %};

-- The month-start declaration screening of M (rules.md §6; sql/declare/10_screen.sql), on the 1st,
-- before M's run: the entries open then (the open ones, and those entering before M). Decided by
-- the same macros; the stage stays as at P (no feedback is assumed), so an entering person is
-- never complete. A DECLARATION or CONSULTATION notice is due in the first such M of its retirement
-- month R, unless it was sent already (one per kind and R).
CREATE OR REPLACE TEMP TABLE _fc_declarations AS
SELECT p.id_no, p.office_code, mo.m, p.retirement_mi, p.channel,
       declaration_decision(pre_service_complete(p.stage), p.elected_usable, p.counted_months,
                            min_contribution_months(p.retirement_mi // 12, p.insurance_type)) AS decision
FROM _fc_people p
JOIN _fc_months mo ON mo.m >= p.from_mi + CASE WHEN p.entering THEN 1 ELSE 0 END
WHERE declaration_window(p.retirement_mi, mo.m);

INSERT INTO _fc_notices
SELECT d.id_no, d.office_code, d.m, d.decision, d.channel
FROM _fc_declarations d
WHERE d.decision IN ('DECLARATION', 'CONSULTATION')
  AND NOT EXISTS (SELECT 1 FROM notice_log n
                  WHERE n.id_no = d.id_no AND n.kind = d.decision AND n.reference_mi = d.retirement_mi)
QUALIFY row_number() OVER (PARTITION BY d.id_no, d.decision, d.retirement_mi ORDER BY d.m) = 1;
