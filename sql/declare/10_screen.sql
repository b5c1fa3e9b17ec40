-- reads: conclusions, ledger_entries, month_runs, objections, person_versions, screen_results, segment_versions
-- writes: _decl_base, _decl_bp_persons, _decl_bp_segments, bp_persons, bp_segments
-- params: month_mi
-- Month-start declaration screening of month P = {{ month_mi }} (rules.md §6, seed notice 二(六)).
-- Every open ledger entry with its retirement month R (the elected month when recorded, else the
-- statutory month S), on the latest person data, as the re-check of alive and retired is: S, the
-- flexible window and the insurance type come from the latest screening at or before P, unless the
-- person's current version came with a push after the one that screening was computed on
-- (month_runs.as_of_seq of its run): then they are computed again by the same policy macros from
-- that version (rules.md §1), and the office is its insured_region when that is one of the offices
-- (rules.md §3; P's run hands the entry over, sql/ledger/20_office_change.sql) — a corrected birth
-- date, person type or office applied since the screening is what the list and the notices say.
-- Counted months: the current conclusion's when one was issued, else the screening's.
-- The benefit place (rules.md §2) is computed again on the latest push for the persons of the window
-- only, by the screening's own SQL: this file writes its inputs, sql/screen/benefit_place.sql runs
-- next, sql/declare/11_decide.sql reads it (docs/decisions.md "The benefit place on the 1st").
CREATE OR REPLACE TEMP TABLE _decl_base AS
WITH sr AS (
    SELECT * FROM screen_results WHERE month_mi <= {{ month_mi }}
    QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY month_mi DESC) = 1
), person AS (
    SELECT *, mi_of_date(birth_date) AS birth_mi FROM person_versions WHERE valid_to_seq IS NULL
    QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY valid_from_seq DESC) = 1
), conc AS (
    SELECT * FROM conclusions WHERE superseded_on IS NULL
), obj AS (
    SELECT entry_id, bool_or(status IN ('INCOMPLETE', 'ACCEPTED')) AS objection_open
    FROM objections GROUP BY entry_id
), screened_on AS (   -- the push each month's screening was computed on (its last run done)
    SELECT month_mi, max(as_of_seq) AS seq FROM month_runs
    WHERE command = 'run' AND status = 'DONE' GROUP BY month_mi
), pe AS (             -- each entry's screening and, when newer than it, the person's current version
    SELECT e.*, sr.statutory_age_mi AS sr_statutory_age_mi, sr.flexible_earliest_mi AS sr_flexible_earliest_mi,
           sr.flexible_latest_mi AS sr_flexible_latest_mi, sr.insurance_type AS sr_insurance_type,
           sr.alive AS sr_alive, sr.retired AS sr_retired, sr.in_push AS sr_in_push,
           sr.counted_months AS sr_counted_months, sr.benefit_province AS sr_benefit_province,
           p.id_no IS NOT NULL AS has_version,
           coalesce(p.valid_from_seq > so.seq, false) AS fresh,
           p.gender, p.person_type, p.insurance_type AS p_insurance_type, p.birth_mi, p.insured_region,
           p.survival_status, p.retired AS p_retired, p.in_push AS p_in_push
    FROM ledger_entries e
    JOIN sr ON sr.id_no = e.id_no
    LEFT JOIN screened_on so ON so.month_mi = sr.month_mi
    LEFT JOIN person p ON p.id_no = e.id_no
    WHERE e.closed_mi IS NULL AND e.opened_mi <= {{ month_mi }}
), b AS (
    SELECT x.entry_id, x.id_no,
           CASE WHEN x.fresh AND is_office_code(x.insured_region) THEN x.insured_region
                ELSE x.office_code END AS office_code,
           x.office_code AS entry_office, x.stage, x.stage_since, x.officer_id, x.elected_retirement_mi,
           CASE WHEN x.fresh THEN statutory_age_mi(x.gender, x.person_type, x.p_insurance_type, x.birth_mi)
                ELSE x.sr_statutory_age_mi END AS statutory_age_mi,
           CASE WHEN x.fresh THEN flexible_earliest_mi(x.gender, x.person_type, x.p_insurance_type, x.birth_mi)
                ELSE x.sr_flexible_earliest_mi END AS flexible_earliest_mi,
           CASE WHEN x.fresh THEN flexible_latest_mi(x.gender, x.person_type, x.p_insurance_type, x.birth_mi)
                ELSE x.sr_flexible_latest_mi END AS flexible_latest_mi,
           CASE WHEN x.fresh THEN x.p_insurance_type ELSE x.sr_insurance_type END AS insurance_type,
           CASE WHEN x.has_version THEN x.survival_status <> 2 ELSE x.sr_alive END AS alive,
           CASE WHEN x.has_version THEN x.p_retired ELSE x.sr_retired END AS retired,
           CASE WHEN x.has_version THEN x.p_in_push ELSE x.sr_in_push END AS in_push,
           x.has_version, x.p_insurance_type AS latest_insurance_type, x.insured_region AS latest_insured_region,
           x.sr_benefit_province,
           coalesce(c.counted_months, x.sr_counted_months) AS counted_months,
           CASE WHEN c.entry_id IS NOT NULL THEN 'CONCLUSION' ELSE 'SCREENING' END AS counted_source,
           c.version AS conclusion_version,
           coalesce(obj.objection_open, false) AS objection_open
    FROM pe x
    LEFT JOIN conc c ON c.entry_id = x.entry_id
    LEFT JOIN obj ON obj.entry_id = x.entry_id
)
SELECT b.entry_id, b.id_no, b.office_code, b.entry_office, b.stage, b.stage_since,
       -- an entry the push moved to another office has no officer there yet (the run assigns one)
       CASE WHEN b.office_code = b.entry_office THEN b.officer_id END AS officer_id,
       b.elected_retirement_mi, b.statutory_age_mi, b.flexible_earliest_mi, b.flexible_latest_mi,
       b.insurance_type,
       coalesce(b.elected_retirement_mi, b.statutory_age_mi) AS retirement_mi,
       CASE WHEN b.elected_retirement_mi IS NOT NULL THEN 'ELECTED' ELSE 'STATUTORY' END AS retirement_source,
       elected_month_usable(b.elected_retirement_mi, b.flexible_earliest_mi, b.flexible_latest_mi) AS elected_usable,
       b.alive, b.retired, b.in_push, b.counted_months, b.counted_source, b.conclusion_version, b.objection_open,
       b.has_version, b.latest_insurance_type, b.latest_insured_region, b.sr_benefit_province
FROM b
WHERE declaration_window(coalesce(b.elected_retirement_mi, b.statutory_age_mi), {{ month_mi }});

-- The inputs of sql/screen/benefit_place.sql (rules.md §2, 110 only; a resident's place is the
-- insured region's, benefit_province_of): the current row and segment set of each 110 person of the
-- window — a few thousand at most, never the push (declaration_window bounds them).
CREATE OR REPLACE TEMP TABLE _decl_bp_persons AS
SELECT id_no, hukou_region, benefit_region_ministry, insured_region, deemed_region, deemed_months, deemed_status
FROM person_versions
SEMI JOIN (SELECT id_no FROM _decl_base WHERE has_version AND latest_insurance_type = 110) USING (id_no)
WHERE valid_to_seq IS NULL
QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY valid_from_seq DESC) = 1;

CREATE OR REPLACE TEMP TABLE _decl_bp_segments AS
SELECT id_no, region_code, start_mi, end_mi, relation_status
FROM segment_versions SEMI JOIN _decl_bp_persons USING (id_no)
WHERE valid_to_seq IS NULL;

CREATE OR REPLACE TEMP VIEW bp_persons AS SELECT * FROM _decl_bp_persons;
CREATE OR REPLACE TEMP VIEW bp_segments AS SELECT * FROM _decl_bp_segments;
