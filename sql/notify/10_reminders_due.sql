-- reads: ledger_entries, notice_log, screen_results
-- writes: _reminders_due
-- params: benefit_start_offset, bucket, buckets, month_mi, overdue_every, persons, skipped_from, skipped_to
-- The three-level reminders due in month P (rules.md §5): PRE_SERVICE, AGE_MINUS_3, AGE_REACHED, OVERDUE.
-- Params: month_mi (P), overdue_every (settings.overdue_every_months), benefit_start_offset,
--         persons (the person state of P: persons_p, or the current versions outside a run),
--         skipped_from .. skipped_to (the months whose run was skipped before P, or NULL:
--         pipelines.monthly.skipped_months).
-- Out: TEMP _reminders_due, one row per (kind, entry) due; reference_mi = P for the four kinds, and
-- the skipped month M for an AGE_MINUS_3 or AGE_REACHED caught up (below).
-- buckets > 1: only the entries of persons with hash(id_no) % buckets = bucket (issue 19: a large
-- month is issued bucket by bucket, pipelines/notify.py; a person's rows are all in one bucket).
-- Open in P: opened by P and not closed by P, and not already in a closing stage (feedback RETIRED
-- dated after P closes the entry in that month but puts it in stage RETIRED at once).
-- Never to a deceased (survival_status 2) or retired person.
CREATE OR REPLACE TEMP TABLE _reminders_due AS
WITH base AS (
    SELECT e.entry_id, e.id_no, e.office_code, e.opened_mi, e.elected_retirement_mi,
           r.insurance_type, r.original_age_mi, r.statutory_age_mi, r.benefit_start_mi,
           r.flexible_earliest_mi, r.flexible_latest_mi,
           -- a 110 woman without person_type is taken at 50, the earliest (rules.md §1): her months are
           -- provisional, and the texts say so (docs/decisions.md "What the recipients read")
           coalesce(r.insurance_type = 110 AND r.gender = 2 AND r.person_type IS NULL, false) AS age_provisional
    FROM ledger_entries e
    JOIN screen_results r ON r.month_mi = {{ month_mi }} AND r.id_no = e.id_no{% if buckets and buckets > 1 %}
                         AND hash(r.id_no) % {{ buckets }} = {{ bucket }}
    LEFT JOIN (SELECT * FROM {{ persons }} WHERE hash(id_no) % {{ buckets }} = {{ bucket }}) p ON p.id_no = e.id_no{% else %}
    LEFT JOIN {{ persons }} p ON p.id_no = e.id_no{% endif %}
    WHERE e.opened_mi <= {{ month_mi }}
      AND (e.closed_mi IS NULL OR e.closed_mi > {{ month_mi }})
      AND e.stage NOT IN ('RETIRED', 'DECEASED', 'LEFT_PUSH', 'MOVED_OUT')
      AND r.alive AND NOT r.retired
      AND coalesce(p.survival_status, 0) <> 2
      AND NOT coalesce(p.retired, false){% if buckets and buckets > 1 %}
      AND hash(e.id_no) % {{ buckets }} = {{ bucket }}{% endif %}
),
due AS (
    SELECT 'PRE_SERVICE' AS kind, {{ month_mi }} AS reference_mi, b.* FROM base b WHERE b.opened_mi = {{ month_mi }}
    UNION ALL
    SELECT 'AGE_MINUS_3' AS kind, {{ month_mi }} AS reference_mi, b.* FROM base b
    WHERE age_minus_3_due(b.statutory_age_mi, {{ month_mi }})
    UNION ALL
    SELECT 'AGE_REACHED' AS kind, {{ month_mi }} AS reference_mi, b.* FROM base b
    WHERE age_reached_due(b.statutory_age_mi, {{ month_mi }})
    UNION ALL
    -- at most once every N months: none when another OVERDUE of the person refers to, or went out
    -- with the batch of, P-N+1 .. P-1 (a rerun of a sent month defers its notices to the next batch)
    SELECT 'OVERDUE' AS kind, {{ month_mi }} AS reference_mi, b.* FROM base b
    WHERE overdue_age(b.statutory_age_mi, {{ month_mi }})
      AND NOT EXISTS (
          SELECT 1 FROM notice_log n
          WHERE n.id_no = b.id_no AND n.kind = 'OVERDUE'
            AND greatest(n.reference_mi, n.issued_mi) > {{ month_mi }} - {{ overdue_every }}
            AND n.reference_mi < {{ month_mi }}){% if skipped_from is not none %}
    -- Skipped months (docs/decisions.md "Skipped months: reminders caught up"): rules.md §5 gives each
    -- person in the ledger in month M every kind due in M, but no run of M took place. The AGE_MINUS_3
    -- and AGE_REACHED due in a skipped month M to an entry open in M (opened by M: a person taken in
    -- only now was in no ledger in M, and gets P's PRE_SERVICE, naming S) and still open in P are
    -- raised now, with reference month M as a run of M would have (notice_log's key: never twice,
    -- whatever is rerun); rendered for the batch's month like a notice a rerun deferred. AGE_MINUS_3
    -- only while S is still ahead of P: once S is reached, P's AGE_REACHED or the caught-up one and
    -- OVERDUE say more. OVERDUE is not caught up (P's own is due whenever one of M was).
    UNION ALL
    SELECT 'AGE_MINUS_3' AS kind, g.m AS reference_mi, b.* FROM base b
    INNER JOIN range({{ skipped_from }}, {{ skipped_to }} + 1) AS g (m)
        ON age_minus_3_due(b.statutory_age_mi, g.m)
    WHERE b.opened_mi <= g.m AND b.statutory_age_mi > {{ month_mi }}
      AND b.statutory_age_mi BETWEEN {{ skipped_from }} + 3 AND {{ skipped_to }} + 3
    UNION ALL
    SELECT 'AGE_REACHED' AS kind, g.m AS reference_mi, b.* FROM base b
    INNER JOIN range({{ skipped_from }}, {{ skipped_to }} + 1) AS g (m)
        ON age_reached_due(b.statutory_age_mi, g.m)
    WHERE b.opened_mi <= g.m
      AND b.statutory_age_mi BETWEEN {{ skipped_from }} AND {{ skipped_to }}{% endif %}
)
SELECT kind, id_no, entry_id, CAST(reference_mi AS INTEGER) AS reference_mi, office_code,
       insurance_type, original_age_mi, statutory_age_mi, benefit_start_mi,
       flexible_earliest_mi, flexible_latest_mi, elected_retirement_mi,
       elected_retirement_mi + {{ benefit_start_offset }} AS elected_benefit_start_mi, age_provisional
FROM due;
