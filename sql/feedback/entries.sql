-- reads: ledger_entries, ledger_transitions, person_versions, screen_results
-- writes: _fb_move, ledger_entries
-- params: - (DuckDB parameters, bound per statement: $id_no, $ids, $rows, $row_id, $closed_stages, $entry_id, $event_date, $detail, $officer_id, $pre_review_office, $elected_mi)
-- A feedback row's person and ledger entry (rules.md §7; pipelines/feedback/run.py, events.py),
-- one statement per `-- name:` block (pipelines/feedback/queries.py).

-- name: entry_rows
-- where the entries of the file's persons lie in the ledger (their rowids), in one pass for the
-- whole file: the ledger has no index (issue 19, ninth session) and a query by id_no per row would
-- scan it. A file inserts no entry and deletes none, so the rowids hold while the file applies.
SELECT id_no, list(rowid ORDER BY rowid) FROM ledger_entries
WHERE id_no IN (SELECT unnest($ids::VARCHAR[]))
GROUP BY id_no;

-- name: entry_of_person
-- the person's entry: the open one, else the latest (refused UNKNOWN_PERSON or ENTRY_CLOSED), read by
-- the rowids of its entries (entry_rows: DuckDB reads only the row groups holding them)
SELECT entry_id, id_no, office_code, stage, opened_mi, closed_mi, rowid FROM ledger_entries
WHERE rowid IN (SELECT unnest($rows::BIGINT[])) AND id_no = $id_no
ORDER BY (closed_mi IS NULL) DESC, opened_mi DESC, entry_id DESC LIMIT 1;

-- name: entries_of_persons
-- the entry each of the persons $ids would find (entry_of_person: the open one, else the latest),
-- with its office, in one query for the file: the rows refused by their own checks, whose ID number
-- the office's receipt shows when the entry is the office's own (pipelines/feedback/run.py)
SELECT id_no, entry_id, office_code FROM ledger_entries
WHERE rowid IN (SELECT unnest($rows::BIGINT[])) AND id_no IN (SELECT unnest($ids::VARCHAR[]))
QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY (closed_mi IS NULL) DESC, opened_mi DESC, entry_id DESC) = 1;

-- name: last_moves
-- the day of the last stage change of every entry of the file's persons, in one pass; a closing
-- and the reopening that undid it (sql/ledger/05_reopen.sql) do not count
SELECT entry_id, max(event_date) FROM ledger_transitions
WHERE id_no IN (SELECT unnest($ids::VARCHAR[])) AND from_stage IS DISTINCT FROM to_stage
  AND coalesce(from_stage, '') NOT IN (SELECT unnest($closed_stages::VARCHAR[]))
  AND to_stage NOT IN (SELECT unnest($closed_stages::VARCHAR[]))
GROUP BY entry_id;

-- name: fact_confirmer
-- the file's persons' current push row: who confirms (rules.md §7)
SELECT id_no, insurance_type, nullif(trim(employer_uscc), ''), nullif(trim(employer_name), '')
FROM person_versions WHERE id_no IN (SELECT unnest($ids::VARCHAR[])) AND valid_to_seq IS NULL
QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY valid_from_seq DESC) = 1;

-- name: fact_screening
-- the file's persons' latest screening: the flexible window and contribution months (rules.md §1, §6)
SELECT id_no, insurance_type, flexible_earliest_mi, flexible_latest_mi, statutory_age_mi,
       month_mi, counted_months, projected_months
FROM screen_results WHERE id_no IN (SELECT unnest($ids::VARCHAR[]))
QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY month_mi DESC) = 1;

-- name: move
-- the one stage move of a row, for pipelines.ledger.record_transitions
CREATE OR REPLACE TEMP TABLE _fb_move AS
SELECT $entry_id::VARCHAR AS entry_id, $event_date::DATE AS event_date, $detail::VARCHAR AS detail;

-- name: set_officer
-- (the entry read by its rowid, named by its entry_id as well: a row never changes another entry)
UPDATE ledger_entries SET officer_id = $officer_id WHERE rowid = $row_id AND entry_id = $entry_id;

-- name: set_pre_review_office
UPDATE ledger_entries SET pre_review_office = $pre_review_office WHERE rowid = $row_id AND entry_id = $entry_id;

-- name: set_elected_month
UPDATE ledger_entries SET elected_retirement_mi = $elected_mi WHERE rowid = $row_id AND entry_id = $entry_id;
