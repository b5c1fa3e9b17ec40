-- reads: _declare
-- writes: _decl_moves
-- params: month_first
-- CONFIRMED entries whose declaration notice goes out move to DECLARED (rules.md §6, §7), dated
-- the first day of P; pipelines.ledger.record_transitions records them (sql/ledger/transition.sql).
CREATE OR REPLACE TEMP TABLE _decl_moves AS
SELECT d.entry_id, DATE {{ month_first | sql_str }} AS event_date,
       'declaration notice for ' || lpad(CAST(d.retirement_mi // 12 AS VARCHAR), 4, '0') || '-' ||
       lpad(CAST(d.retirement_mi % 12 + 1 AS VARCHAR), 2, '0') AS detail
FROM _declare d WHERE d.decision = 'DECLARATION' AND d.stage = 'CONFIRMED' ORDER BY d.entry_id;
