-- reads: -
-- writes: - (detaches the new analysts' file, the param db)
-- params: db
-- The new analysts' file, committed (or given up), detached before it is renamed over the old one.
DETACH {{ db | sql_ident }};
