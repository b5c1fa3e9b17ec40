-- reads: TEMP _fc_counts (20_counts.sql)
-- writes: forecast (the month's rows replaced: a rerun of P stores the same)
-- params: month_mi (P), horizon
DELETE FROM forecast WHERE month_mi = {{ month_mi }};
INSERT INTO forecast BY NAME SELECT *, {{ horizon }} AS horizon FROM _fc_counts;
