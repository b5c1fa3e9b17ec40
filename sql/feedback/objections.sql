-- reads: objections
-- writes: objections
-- params: - (DuckDB parameters, bound per statement: $entry_id, $objection_no, $missing_items, $day, $conclusion_version, $deadline, $timeliness, $status, $missing_notice, $accepted_on, $source, $notice_items, $reason, $basis, $remedy, $new_conclusion_version)
-- Objections (异议申诉, seed notice 五(二)(三); rules.md §7): filed, supplemented, accepted,
-- rejected or upheld (pipelines/feedback/events.py), one statement per `-- name:` block
-- (pipelines/feedback/queries.py).

-- name: latest
SELECT * FROM objections WHERE entry_id = $entry_id ORDER BY objection_no DESC LIMIT 1;

-- name: still_missing
-- a supplement that leaves items missing: those items
UPDATE objections SET missing_items = $missing_items WHERE entry_id = $entry_id AND objection_no = $objection_no;

-- name: accept
-- the material complete: the objection is accepted that day
UPDATE objections SET status = 'ACCEPTED', accepted_on = $day, missing_items = NULL
WHERE entry_id = $entry_id AND objection_no = $objection_no;

-- name: insert
INSERT INTO objections (entry_id, objection_no, conclusion_version, filed_on, deadline, timeliness, status,
                        missing_items, missing_notice, accepted_on, source, notice_items)
VALUES ($entry_id, $objection_no, $conclusion_version, $day, $deadline, $timeliness, $status,
        $missing_items, $missing_notice, $accepted_on, $source, $notice_items);

-- name: reject
UPDATE objections SET status = 'REJECTED', resolved_on = $day, reason = $reason, basis = $basis, remedy = $remedy
WHERE entry_id = $entry_id AND objection_no = $objection_no;

-- name: uphold
UPDATE objections SET status = 'UPHELD', resolved_on = $day, reason = $reason, basis = $basis,
                      new_conclusion_version = $new_conclusion_version
WHERE entry_id = $entry_id AND objection_no = $objection_no;
