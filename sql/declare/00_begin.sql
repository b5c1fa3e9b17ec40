-- reads: -
-- writes: month_runs
-- params: month_mi, replay, seq
-- A declaration screening of month P begins (pipelines.declare.declare_month): an attempt killed
-- before it could record its end stays RUNNING: it failed (and this one's end must not be written
-- onto it too); this attempt's row is recorded on push seq {{ seq }} (the month-order guard reads it).
UPDATE month_runs SET status = 'FAILED'
WHERE month_mi = {{ month_mi | int }} AND command = 'declare' AND status = 'RUNNING';
INSERT INTO month_runs
VALUES ({{ month_mi | int }}, 'declare', {{ seq | int }}, {{ "true" if replay else "false" }}, now(), NULL, 'RUNNING');
