-- reads: -
-- writes: age_minus_3_due, age_reached_due, benefit_province_of, declaration_decision, declaration_window, elected_month_usable, flag_depends_on_month, insufficient_years_at, overdue_age, past_age_not_retired_at, pre_service_complete, projected_months_at, scope_rule_at, servable, trigger_application_at, trigger_reach, trigger_screening_at
-- params: settings, temp
-- Scope, triggers and the month-dependent flags (rules.md §3, §4), as functions of the month m:
-- the one definition that the screening of month P (sql/screen/20_facts.sql, 30_flags.sql,
-- 40_scope.sql) and the forecast of months P+1 … P+horizon (sql/forecast/10_forecast.sql) both
-- use, so that the forecast cannot drift from what the run of a month decides.
-- Rendered with Jinja2 (`settings`); created after retirement.sql (macros use earlier macros only).

-- Triggers 1–3 need the person alive (survival_status 2 is deceased; 9 counts as alive), not
-- retired, in the push, and served here: the benefit place is Ningxia (§2, §3).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO servable(alive, retired, in_push, benefit_province) AS
    alive AND NOT retired AND in_push AND benefit_province = '640000';

-- The benefit-claiming place's province (rules.md §2): for 110 the place computed from the segments
-- (sql/screen/benefit_place.sql; Ningxia when it gave none), for residents (170) the province they
-- are insured in. One definition for the screening (sql/screen/20_facts.sql) and the declaration
-- screening's re-check on the latest push (sql/declare/11_decide.sql).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO benefit_province_of(insurance_type, place_110, insured_region) AS
    CASE WHEN insurance_type = 110 THEN coalesce(place_110, '640000') ELSE province_of(insured_region) END;

-- §3 scope in month m: 'a' | 'b' | 'c', NULL when out of scope (window: settings.scope_window).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO scope_rule_at(is_servable, insurance_type, original_age_mi, contribution_status, m) AS
    CASE WHEN NOT is_servable THEN NULL
         WHEN insurance_type = 110 AND original_age_mi - m BETWEEN 0 AND {{ settings.scope_window }} THEN 'a'
         WHEN insurance_type = 110 AND original_age_mi - m < 0 AND contribution_status = 2 THEN 'b'
         WHEN insurance_type = 170 AND original_age_mi - m BETWEEN 0 AND {{ settings.scope_window }} THEN 'c'
    END;

-- §3 trigger 2: an application, O − m ≤ settings.application_horizon.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO trigger_application_at(is_servable, applied, original_age_mi, m) AS
    is_servable AND applied AND original_age_mi - m <= {{ settings.application_horizon }};

-- §3 trigger 3: any §4 flag, O − m ≤ settings.screening_horizon (early, or after the original age).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO trigger_screening_at(is_servable, flagged, original_age_mi, m) AS
    is_servable AND flagged AND original_age_mi - m <= {{ settings.screening_horizon }};

-- The furthest O − m at which any trigger can take a person in (scope (b) is after O): a person
-- whose O lies further ahead than this from every month considered cannot enter (forecast prefilter).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO trigger_reach() AS
    greatest({{ settings.scope_window }}, {{ settings.application_horizon }}, {{ settings.screening_horizon }});

-- §4 projected months in month m: counted, plus the months to S while contributing.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO projected_months_at(counted, contribution_status, statutory_age_mi, m) AS
    counted + CASE WHEN contribution_status = 1 THEN greatest(0, statutory_age_mi - m) ELSE 0 END;

-- §4 the two flags that depend on the month (every other flag depends only on the person's row
-- and segments, and on the benefit place: sql/warehouse/schema_screen.sql).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO insufficient_years_at(counted, contribution_status, statutory_age_mi, min_months, m) AS
    projected_months_at(counted, contribution_status, statutory_age_mi, m) < min_months;
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO past_age_not_retired_at(statutory_age_mi, retired, m) AS
    statutory_age_mi < m AND NOT retired;
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO flag_depends_on_month(code) AS
    code IN ('INSUFFICIENT_YEARS', 'PAST_AGE_NOT_RETIRED');

-- §5 the reminders due by age in month m (PRE_SERVICE: the month of entering; OVERDUE also
-- spaced by settings.overdue_every_months, sql/notify/10_reminders_due.sql).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO age_minus_3_due(statutory_age_mi, m) AS statutory_age_mi - m = 3;
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO age_reached_due(statutory_age_mi, m) AS statutory_age_mi = m;
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO overdue_age(statutory_age_mi, m) AS statutory_age_mi < m;

-- §6 month-start declaration screening of month m: retirement month R 1–3 months ahead; the
-- pre-service is complete when a conclusion was confirmed (stage CONFIRMED, or DECLARED already).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO declaration_window(retirement_mi, m) AS retirement_mi - m BETWEEN 1 AND 3;
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO pre_service_complete(stage) AS stage IN ('CONFIRMED', 'DECLARED');
-- An elected month counts only within the flexible window (rules.md §6 "the elected month if one
-- was recorded (feedback, within the flexible window)"; policy.md §2): the window is that of the
-- person's latest data, and a month elected inside an earlier window that a corrected push has
-- moved (a birth date, a person type) is not used: the entry is listed for follow-up, not notified
-- (docs/decisions.md "An elected month the latest data puts outside the window").
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO elected_month_usable(elected_mi, flexible_earliest_mi, flexible_latest_mi) AS
    elected_mi IS NULL OR coalesce(elected_mi BETWEEN flexible_earliest_mi AND flexible_latest_mi, false);
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO declaration_decision(complete, elected_usable, counted_months, min_months) AS
    CASE WHEN NOT complete OR NOT elected_usable THEN 'FOLLOW_UP'
         WHEN counted_months >= min_months THEN 'DECLARATION'
         ELSE 'CONSULTATION' END;
