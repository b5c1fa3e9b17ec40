-- reads: _decl_base, benefit_place
-- writes: _decl_placed, _decl_excluded, _declare
-- params: -
-- Month-start declaration screening (rules.md §6), its decisions: the persons of the window
-- (_decl_base, sql/declare/10_screen.sql) with their benefit place on the latest push (rules.md §2:
-- sql/screen/benefit_place.sql for 110, the insured region's province for 170: benefit_province_of,
-- as the screening, sql/screen/20_facts.sql). A person without a current version keeps the
-- screening's place.
CREATE OR REPLACE TEMP TABLE _decl_placed AS
SELECT b.*,
       CASE WHEN b.has_version
            THEN benefit_province_of(b.latest_insurance_type, bp.benefit_province, b.latest_insured_region)
            ELSE b.sr_benefit_province END AS benefit_province
FROM _decl_base b LEFT JOIN benefit_place bp USING (id_no);

-- The decisions: an elected month outside the window of the latest data → FOLLOW_UP (listed,
-- not notified; elected_month_usable, sql/policy/scope.sql); pre-service complete (a conclusion
-- was confirmed: stage CONFIRMED or DECLARED) → DECLARATION when counted ≥ the minimum for R's year, else CONSULTATION; not complete →
-- FOLLOW_UP (listed, not notified). Only persons served here are listed (servable, sql/policy/scope.sql:
-- rules.md §3 closes the entries of all others at P's run): deceased and retired persons are left out,
-- and so are persons the latest push no longer carries (op D, or absent from a FULL; docs/decisions.md
-- "Left the push before the 1st") and persons whose benefit place it moved out of Ningxia (rules.md §2;
-- "The benefit place on the 1st", seventeenth session): their province will declare them.
CREATE OR REPLACE TEMP TABLE _declare AS
WITH m AS (
    SELECT b.*, min_contribution_months(b.retirement_mi // 12, b.insurance_type) AS min_months,
           pre_service_complete(b.stage) AS complete
    FROM _decl_placed b
    WHERE servable(b.alive, b.retired, b.in_push, b.benefit_province)
)
SELECT m.* EXCLUDE (has_version, latest_insurance_type, latest_insured_region, sr_benefit_province),
       declaration_decision(m.complete, m.elected_usable, m.counted_months, m.min_months) AS decision,
       CASE WHEN NOT m.elected_usable THEN
                'elected month ' || mi_text(m.elected_retirement_mi) || ' outside the flexible window ('
                || coalesce(mi_text(m.flexible_earliest_mi) || ' to ' || mi_text(m.flexible_latest_mi), 'none')
                || ') of the latest push data: to be elected again'
            WHEN NOT m.complete THEN
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

-- Counts for the report: in the window but deceased, retired, no longer in the push or with a benefit
-- place outside Ningxia (left out; each person counted once, in this order).
CREATE OR REPLACE TEMP TABLE _decl_excluded AS
SELECT count(*) FILTER (WHERE NOT alive) AS deceased,
       count(*) FILTER (WHERE alive AND retired) AS retired,
       count(*) FILTER (WHERE alive AND NOT retired AND NOT in_push) AS left_push,
       count(*) FILTER (WHERE alive AND NOT retired AND in_push
                        AND NOT servable(alive, retired, in_push, benefit_province)) AS place_out
FROM _decl_placed;
