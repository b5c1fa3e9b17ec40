-- reads: forecast, _fc_counts (the param table: the stored forecast, or one computed now)
-- writes: - (a SELECT: the rows of OUT/P/forecast/forecast.{parquet,csv}, the office names added by pipelines/forecast.py)
-- params: month_mi, horizon, table, columns
-- P's forecast as the file shows it: one row per office and month M of the horizon (all of it, or
-- the first `horizon` months), the counts in the order of pipelines/forecast.py COUNT_COLUMNS.
SELECT mi_text(month_mi) AS base_month, mi_text(forecast_mi) AS forecast_month,
       forecast_mi - month_mi AS months_ahead, office_code, {{ columns | map("sql_ident") | join(", ") }}
FROM {{ table | sql_ident }}
WHERE month_mi = {{ month_mi | int }}{% if horizon %} AND forecast_mi - month_mi <= {{ horizon | int }}{% endif %}
ORDER BY office_code, forecast_mi
