-- reads: - (what the table's SELECT reads: the param select, a file of sql/analysts/)
-- writes: -
-- params: select
-- The columns and types the table's SELECT gives now; the copy's table is kept up to date only when
-- they are its own (pipelines/analysts.py; a changed SELECT writes the table whole).
DESCRIBE {{ select }};
