-- reads: -
-- writes: - (the new analysts' file at the param path, attached as the param db)
-- params: path, db
-- The new analysts' file (pipelines/analysts.py: a copy of the previous one, or a new file) attached
-- to the warehouse's connection: its tables are filled by SQL, no table passes through Python.
ATTACH {{ path | sql_str }} AS {{ db | sql_ident }};
