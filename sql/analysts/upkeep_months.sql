-- reads: month_runs (and the table's SELECT, the param select; the copy's table, the params db and table)
-- writes: - (only the copy's table named by the params db and table)
-- params: db, table, select, months, latest_mi, latest_select
-- Upkeep of a per-month analysts' table (office_month, flags_month: a row per month whose run is DONE,
-- month_mi) after a run (pipelines/analysts.py "months"; issue 17): the rows of the months whose run
-- began, ended or was rerun since the copy (the param months: _an_months as literals, so that the
-- filter reaches the SELECT's scans) are written again, and those of a month no longer DONE dropped;
-- the other months' rows are what each month published, and stay. A month written again goes at the
-- end of the table (only the latest month is at its place as in a full rebuild; the rows are the same).
-- latest_select (with latest_mi, one of the months): that month's rows computed another, cheaper way
-- (sql/analysts/flags_month_latest.sql), inserted in its place.
DELETE FROM {{ db | sql_ident }}.{{ table | sql_ident }}
WHERE month_mi IN ({{ months | map('int') | join(', ') if months else 'NULL' }})
   OR month_mi NOT IN (SELECT month_mi FROM month_runs WHERE command = 'run' AND status = 'DONE');
{% set rest = months | reject('equalto', latest_mi) | list if latest_select else months %}
{% if rest %}
INSERT INTO {{ db | sql_ident }}.{{ table | sql_ident }} BY NAME
SELECT * FROM ({{ select }}) s WHERE month_mi IN ({{ rest | map('int') | join(', ') }});
{% endif %}
{% if latest_select %}
INSERT INTO {{ db | sql_ident }}.{{ table | sql_ident }} BY NAME {{ latest_select }};
{% endif %}
