-- reads: -
-- writes: - (drops _an_new and _an_changed of the upkeep of ledger_current)
-- params: -
-- After the upkeep of ledger_current (sql/analysts/upkeep_new.sql, upkeep_ledger.sql), also when it failed.
DROP TABLE IF EXISTS temp._an_new;

DROP TABLE IF EXISTS temp._an_changed;
