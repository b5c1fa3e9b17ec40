-- reads: -
-- writes: - (drops _an_changed and _an_people of the upkeep of ledger_current)
-- params: -
-- After the upkeep of ledger_current (sql/analysts/upkeep_ledger.sql, upkeep_overdue.sql,
-- upkeep_ledger_run.sql), also when it failed.
DROP TABLE IF EXISTS temp._an_changed;

DROP TABLE IF EXISTS temp._an_people;
