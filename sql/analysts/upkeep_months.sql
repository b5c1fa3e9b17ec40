-- reads: _an_months (and the table's SELECT for those months, the param select; the copy's table, db.table)
-- writes: - (only the analysts' table the params db and table name)
-- params: db, table, select
-- Upkeep of a history table by month (office_month, flags_month; pipelines/analysts.py; issues
-- 17/18): a month's rows come from what its run wrote (worklist, screening, flags) and the notices of
-- its published batch, so they change only when a run of the month began, ended or was rerun since
-- the copy (_an_months); those months are computed again, the others kept.
DELETE FROM {{ db }}.{{ table }} WHERE month_mi IN (SELECT month_mi FROM _an_months);
INSERT INTO {{ db }}.{{ table }} BY NAME {{ select }};
