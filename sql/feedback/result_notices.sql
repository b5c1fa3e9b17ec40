-- reads: _fb_result_src, ledger_entries, month_runs
-- writes: _fb_result_rows, _fb_result_src
-- params: objection_days (and DuckDB parameters bound per statement: $entry_id, $reference_mi, $issue_mi)
-- RESULT notices of the conclusions a feedback file issued (rules.md §5, §7;
-- pipelines/feedback/deadlines.py), one statement per `-- name:` block (pipelines/feedback/queries.py).

-- name: last_run
-- the latest month whose run is done or under way: a notice goes to the month after it
SELECT max(month_mi) FROM month_runs WHERE command = 'run' AND status IN ('DONE', 'RUNNING');

-- name: create_source
CREATE OR REPLACE TEMP TABLE _fb_result_src (entry_id VARCHAR, reference_mi INTEGER, issue_mi INTEGER);

-- name: add_source
INSERT INTO _fb_result_src VALUES ($entry_id, $reference_mi, $issue_mi);

-- name: issue_months
SELECT DISTINCT issue_mi FROM _fb_result_src ORDER BY 1;

-- name: rows_of_month
-- the notices of one batch month, for pipelines.notify.issue_notices (the text names the period)
CREATE OR REPLACE TEMP TABLE _fb_result_rows AS
SELECT e.id_no, s.entry_id, s.reference_mi, e.office_code, {{ objection_days | int }} AS objection_days
FROM _fb_result_src s JOIN ledger_entries e USING (entry_id)
WHERE s.issue_mi = $issue_mi;
