-- reads: _an_changed (and the previous file's copy, db.ledger_current; the param again: ledger_current.sql restricted to _an_changed)
-- writes: - (the copy's ledger_current, named by the param db)
-- params: db, again
-- The entries of _an_changed (upkeep_ledger.sql, upkeep_overdue.sql, upkeep_ledger_run.sql: deleted
-- from the copy) inserted again as ledger_current.sql computes them now (pipelines/analysts.py "ledger").
INSERT INTO {{ db | sql_ident }}.ledger_current BY NAME {{ again }};
