-- reads: - (what the table's own SELECT reads: the param select, a file of sql/analysts/)
-- writes: _an_new
-- params: select
-- The analysts' table as its SELECT gives it now, for upkeep_rows.sql / upkeep_units.sql to compare
-- the previous file's copy with (pipelines/analysts.py UPKEEP; issues 17/18).
CREATE OR REPLACE TEMP TABLE _an_new AS {{ select }};
