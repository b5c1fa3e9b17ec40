-- reads: conclusions, feedback_events, notice_log
-- writes: conclusions
-- params: - (DuckDB parameters, bound per statement: $entry_id, $version, $day, $reason, $issued_on, $counted_months, $merge_status, $archive_conclusion, $base_data, $source, $received_on, $deadline, $deadline_status, $id_no, $reference_mi, $confirmer, $days, $deadlines)
-- Comprehensive conclusions (综合结论, seed notice 二(五); rules.md §7): issued, superseded,
-- received, confirmed (pipelines/feedback/events.py, deadlines.py), one statement per `-- name:`
-- block (pipelines/feedback/queries.py).  Versions are kept: a new one supersedes, never overwrites.

-- name: current
SELECT * FROM conclusions WHERE entry_id = $entry_id AND superseded_on IS NULL;

-- name: supersede
UPDATE conclusions SET superseded_on = $day, superseded_reason = $reason
WHERE entry_id = $entry_id AND version = $version;

-- name: insert
INSERT INTO conclusions (entry_id, version, issued_on, counted_months, merge_status, archive_conclusion,
                         base_data, deadline_status, source)
VALUES ($entry_id, $version, $issued_on, $counted_months, $merge_status, $archive_conclusion,
        $base_data, 'NOT_RECEIVED', $source);

-- name: receive
-- the result received: the objection deadline runs from that day (NULL: CALENDAR_UNKNOWN)
UPDATE conclusions SET received_on = $received_on, objection_deadline = $deadline, deadline_status = $deadline_status
WHERE entry_id = $entry_id AND version = $version;

-- name: told
-- RESULT notices already issued for the conclusion of the month of issue $reference_mi
SELECT count(*) FROM notice_log WHERE id_no = $id_no AND kind = 'RESULT' AND reference_mi = $reference_mi;

-- name: receipt_reported
-- whether the conclusion's receipt was reported (a RESULT_RECEIVED of the entry applied on
-- $received_on), not taken from a confirmation (docs/feedback-format.md "Dates")
SELECT count(*) > 0 FROM feedback_events
WHERE entry_id = $entry_id AND event = 'RESULT_RECEIVED' AND event_date = $received_on;

-- name: confirm
UPDATE conclusions SET confirmed_on = $day, confirmed_by = $confirmer WHERE entry_id = $entry_id AND version = $version;

-- name: suspend_confirmation
-- an objection in time suspends the confirmation: the conclusion must be confirmed again
UPDATE conclusions SET confirmed_on = NULL, confirmed_by = NULL WHERE entry_id = $entry_id AND version = $version;

-- name: received_days
-- the days the current conclusions were received on (their deadlines, computed again on every
-- feedback, declare and run: pipelines/feedback/deadlines.py::refresh_deadlines)
SELECT DISTINCT received_on FROM conclusions
WHERE superseded_on IS NULL AND received_on IS NOT NULL ORDER BY received_on;

-- name: set_deadlines
-- each current conclusion's deadline from its day of receipt ($days[i] → $deadlines[i], NULL: the
-- calendar does not know a year reached), where it changed (the calendar was completed since)
UPDATE conclusions AS c SET
    objection_deadline = t.deadline,
    deadline_status = CASE WHEN t.deadline IS NULL THEN 'CALENDAR_UNKNOWN' ELSE 'SET' END
FROM (SELECT unnest($days::DATE[]) AS received_on, unnest($deadlines::DATE[]) AS deadline) AS t
WHERE c.received_on = t.received_on AND c.superseded_on IS NULL
  AND (c.objection_deadline IS DISTINCT FROM t.deadline
       OR c.deadline_status <> CASE WHEN t.deadline IS NULL THEN 'CALENDAR_UNKNOWN' ELSE 'SET' END);
