-- reads: forecast
-- writes: - (a SELECT: the analysts' table)
-- params: -
-- Each office's workload for the next months as each month's run forecast it (issue 18; counts only):
-- one row per base month P, office and forecast month M. Columns as OUT/P/forecast/forecast.csv.
SELECT month_text(month_mi) AS base_month, month_text(forecast_mi) AS forecast_month,
       forecast_mi - month_mi AS months_ahead, * EXCLUDE (month_mi, forecast_mi, horizon)
FROM forecast
ORDER BY month_mi, office_code, forecast_mi
