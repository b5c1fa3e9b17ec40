-- reads: _fc_counts
-- writes: forecast
-- params: month_mi, horizon
-- P's forecast replaces P's rows (a rerun of P stores the same).
DELETE FROM forecast WHERE month_mi = {{ month_mi }};
INSERT INTO forecast BY NAME SELECT *, {{ horizon }} AS horizon FROM _fc_counts;
