-- reads: -
-- writes: month_runs
-- params: month_mi, replay, seq
-- A run of month P begins (pipelines.monthly): a RUNNING row left by an attempt that failed goes, and
-- this attempt's is recorded on push seq {{ seq }} (the month-order guard reads these rows).
DELETE FROM month_runs WHERE month_mi = {{ month_mi | int }} AND command = 'run' AND status = 'RUNNING';
INSERT INTO month_runs VALUES ({{ month_mi | int }}, 'run', {{ seq | int }}, {{ "true" if replay else "false" }}, now(), NULL, 'RUNNING');
