-- reads: conclusions, ledger_entries, objections, person_versions, screen_results
-- writes: _decl_base, _decl_excluded, _declare
-- params: month_mi
-- Month-start declaration screening of month P = {{ month_mi }} (rules.md §6, seed notice 二(六)).
-- Every open ledger entry with its retirement month R (the elected month when recorded, else the
-- statutory month S of the latest screening at or before P), the latest person data (alive,
-- retired: re-checked on the push state as it is now) and its counted months (the current
-- conclusion's when one was issued, else the screening's).
CREATE OR REPLACE TEMP TABLE _decl_base AS
WITH sr AS (
    SELECT * FROM screen_results WHERE month_mi <= {{ month_mi }}
    QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY month_mi DESC) = 1
), person AS (
    SELECT * FROM person_versions WHERE valid_to_seq IS NULL
    QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY valid_from_seq DESC) = 1
), conc AS (
    SELECT * FROM conclusions WHERE superseded_on IS NULL
), obj AS (
    SELECT entry_id, bool_or(status IN ('INCOMPLETE', 'ACCEPTED')) AS objection_open
    FROM objections GROUP BY entry_id
)
SELECT e.entry_id, e.id_no, e.office_code, e.stage, e.stage_since, e.officer_id,
       e.elected_retirement_mi, sr.statutory_age_mi, sr.insurance_type,
       coalesce(e.elected_retirement_mi, sr.statutory_age_mi) AS retirement_mi,
       CASE WHEN e.elected_retirement_mi IS NOT NULL THEN 'ELECTED' ELSE 'STATUTORY' END AS retirement_source,
       CASE WHEN p.id_no IS NOT NULL THEN p.survival_status <> 2 ELSE sr.alive END AS alive,
       CASE WHEN p.id_no IS NOT NULL THEN p.retired ELSE sr.retired END AS retired,
       coalesce(c.counted_months, sr.counted_months) AS counted_months,
       CASE WHEN c.entry_id IS NOT NULL THEN 'CONCLUSION' ELSE 'SCREENING' END AS counted_source,
       c.version AS conclusion_version,
       coalesce(obj.objection_open, false) AS objection_open
FROM ledger_entries e
JOIN sr ON sr.id_no = e.id_no
LEFT JOIN person p ON p.id_no = e.id_no
LEFT JOIN conc c ON c.entry_id = e.entry_id
LEFT JOIN obj ON obj.entry_id = e.entry_id
WHERE e.closed_mi IS NULL AND e.opened_mi <= {{ month_mi }}
  AND declaration_window(coalesce(e.elected_retirement_mi, sr.statutory_age_mi), {{ month_mi }});

-- The decisions: pre-service complete (a conclusion was confirmed: stage CONFIRMED or DECLARED)
-- → DECLARATION when counted ≥ the minimum for R's year, else CONSULTATION; not complete →
-- FOLLOW_UP (listed, not notified). Deceased and retired persons are left out.
CREATE OR REPLACE TEMP TABLE _declare AS
WITH m AS (
    SELECT b.*, min_contribution_months(b.retirement_mi // 12, b.insurance_type) AS min_months,
           pre_service_complete(b.stage) AS complete
    FROM _decl_base b
    WHERE b.alive AND NOT b.retired
)
SELECT m.*,
       declaration_decision(m.complete, m.counted_months, m.min_months) AS decision,
       CASE WHEN NOT m.complete THEN
                'pre-service not complete: stage ' || m.stage || ' since ' || strftime(m.stage_since, '%Y-%m-%d')
                || CASE WHEN m.objection_open THEN ', objection open' ELSE '' END
                || ', no confirmed conclusion'
            ELSE
                'counted months ' || m.counted_months
                || CASE WHEN m.counted_months >= m.min_months THEN ' >= ' ELSE ' < ' END
                || 'minimum ' || m.min_months || ' for ' || (m.retirement_mi // 12)
                || ' (' || CASE m.counted_source WHEN 'CONCLUSION'
                                THEN 'confirmed conclusion v' || m.conclusion_version
                                ELSE 'screening' END || ')'
       END
       || CASE m.retirement_source WHEN 'ELECTED' THEN '; elected retirement month' ELSE '; statutory month' END
       AS reason
FROM m;

-- Counts for the report: in the window but deceased or retired (left out).
CREATE OR REPLACE TEMP TABLE _decl_excluded AS
SELECT count(*) FILTER (WHERE NOT alive) AS deceased,
       count(*) FILTER (WHERE alive AND retired) AS retired
FROM _decl_base;
