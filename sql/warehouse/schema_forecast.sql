-- reads: -
-- writes: forecast
-- params: -
-- The workload forecast of each month P (issue 18; pipelines/forecast.py, sql/forecast/): one row per
-- office and month M of P+1 … P+horizon, as the run of P computed it on P's data (the push and the
-- applications as they are at P). A rerun of P replaces P's rows. Counts only: no personal data.
CREATE TABLE IF NOT EXISTS forecast (
    month_mi                  INTEGER NOT NULL,   -- P, the month whose run made the forecast
    forecast_mi               INTEGER NOT NULL,   -- M
    office_code               VARCHAR NOT NULL,   -- the worklist's office (insured_region; Ningdong's code a setting)
    horizon                   INTEGER NOT NULL,   -- months forecast (settings.forecast_horizon)
    entering                  INTEGER NOT NULL,   -- taken in by the run of M (first month only)
    reaching_statutory_age    INTEGER NOT NULL,   -- in the ledger in M with S = M
    ledger_persons            INTEGER NOT NULL,   -- in the ledger after the run of M
    notices_pre_service_sms INTEGER NOT NULL,
    notices_pre_service_employer INTEGER NOT NULL,
    notices_pre_service_township INTEGER NOT NULL,
    notices_age_minus_3_sms INTEGER NOT NULL,
    notices_age_minus_3_employer INTEGER NOT NULL,
    notices_age_minus_3_township INTEGER NOT NULL,
    notices_age_reached_sms INTEGER NOT NULL,
    notices_age_reached_employer INTEGER NOT NULL,
    notices_age_reached_township INTEGER NOT NULL,
    notices_overdue_sms INTEGER NOT NULL,
    notices_overdue_employer INTEGER NOT NULL,
    notices_overdue_township INTEGER NOT NULL,
    notices_declaration_sms INTEGER NOT NULL,
    notices_declaration_employer INTEGER NOT NULL,
    notices_declaration_township INTEGER NOT NULL,
    notices_consultation_sms INTEGER NOT NULL,
    notices_consultation_employer INTEGER NOT NULL,
    notices_consultation_township INTEGER NOT NULL,
    notices_result_sms INTEGER NOT NULL,
    notices_result_employer INTEGER NOT NULL,
    notices_result_township INTEGER NOT NULL,
    notices_total             INTEGER NOT NULL,
    declarations_declaration  INTEGER NOT NULL,   -- M's month-start list (rules.md §6) by decision
    declarations_consultation INTEGER NOT NULL,
    declarations_follow_up    INTEGER NOT NULL
);
