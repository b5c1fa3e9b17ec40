-- reads: ledger_entries, ledger_transitions, screen_results
-- writes: _reopening
-- params: closed_stages, month, month_first, month_mi, seq
-- Reopen what this month's own run closed from push data that a correction push of the month has
-- since put right (docs/decisions.md "A correction push of an already-run month"): an entry that a
-- run of P closed in P as LEFT_PUSH, DECEASED or RETIRED (the push's retired = 1, not a retirement
-- the county reported), with nothing recorded for it since, and to which on the month's data now no
-- closing reason of 10_close.sql applies, goes back to the stage it was closed from, with that
-- stage's clock (stage_since and the due date as before the closing: overdue work stays overdue);
-- the closing and the reopening both stay in its history. MOVED_OUT is not reopened: its handover has gone to
-- the other province. Runs before 10_close.sql; on a first run of P nothing matches.
CREATE OR REPLACE TEMP TABLE _reopening AS
WITH closing AS (
    SELECT t.entry_id, arg_max(t.from_stage, t.recorded_at) AS from_stage, max(t.recorded_at) AS closed_at
    FROM ledger_transitions t JOIN ledger_entries e USING (entry_id)
    WHERE e.closed_mi = {{ month_mi }} AND e.stage = e.close_reason
      AND e.close_reason IN ('LEFT_PUSH', 'DECEASED', 'RETIRED')
      AND t.month_mi = {{ month_mi }} AND t.source = {{ ("run:" ~ month) | sql_str }} AND t.to_stage = e.close_reason
    GROUP BY t.entry_id
)
SELECT c.entry_id, DATE {{ month_first | sql_str }} AS event_date, c.from_stage AS to_stage,
       'reopened: push seq ' || {{ seq | int }} || ' corrects the month (' || e.close_reason || ' no longer holds)' AS detail,
       -- the stage's own start: the last real move into it (not an office change, which keeps the
       -- stage, nor an earlier reopening out of a closed stage)
       (SELECT max(t.event_date) FROM ledger_transitions t
        WHERE t.entry_id = c.entry_id AND t.to_stage = c.from_stage AND t.recorded_at < c.closed_at
          AND t.from_stage IS DISTINCT FROM t.to_stage
          AND coalesce(t.from_stage, '') NOT IN ({{ closed_stages | sql_list }})) AS stage_since
FROM closing c
JOIN ledger_entries e USING (entry_id)
JOIN screen_results r ON r.month_mi = {{ month_mi }} AND r.id_no = e.id_no
WHERE r.alive AND NOT r.retired AND r.in_push AND r.benefit_province = '640000'
  AND NOT EXISTS (SELECT 1 FROM ledger_transitions t
                  WHERE t.entry_id = c.entry_id AND t.recorded_at > c.closed_at);
