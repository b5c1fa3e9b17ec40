-- reads: ledger_entries
-- writes: conclusions, declaration_decisions, entries_overdue, entry_status, feedback_events, feedback_files, feedback_rows, objection_windows_open, objections, objections_open
-- params: -
-- Tables and views of the feedback and declare stages (rules.md §5–§7, docs/feedback-format.md).
-- Idempotent: CREATE … IF NOT EXISTS for tables, CREATE OR REPLACE for views and macros.
-- Views here use no TEMP macro, so a plain DuckDB CLI can read them.

-- One row per feedback file processed (APPLIED) or refused whole (REFUSED); a file is
-- recognised by the sha256 of its bytes: an APPLIED file is never applied again.
CREATE TABLE IF NOT EXISTS feedback_files (
    file_sha256      VARCHAR NOT NULL,
    file_name        VARCHAR NOT NULL,
    status           VARCHAR NOT NULL,      -- APPLIED | REFUSED
    rows             BIGINT NOT NULL,       -- data rows (header excluded)
    accepted         BIGINT NOT NULL,       -- applied + already applied
    refused          BIGINT NOT NULL,       -- accepted + refused = rows
    already_applied  BIGINT NOT NULL,       -- accepted rows identical to a row applied before
    reason_code      VARCHAR,               -- whole-file refusal only
    reason           VARCHAR,
    processed_at     TIMESTAMPTZ NOT NULL
);

-- Every data row of every APPLIED file with its fate. No ID number: person_key and entry_id.
CREATE TABLE IF NOT EXISTS feedback_rows (
    file_sha256  VARCHAR NOT NULL,
    file_name    VARCHAR NOT NULL,
    row_no       BIGINT NOT NULL,           -- data rows counted from 1, header excluded
    row_key      VARCHAR,                   -- keyed hash of the row's content (re-sent rows)
    person_key   VARCHAR,
    entry_id     VARCHAR,
    office_code  VARCHAR,
    event        VARCHAR,
    event_date   DATE,
    status       VARCHAR NOT NULL,          -- APPLIED | ALREADY_APPLIED | REFUSED
    reason_code  VARCHAR,                   -- REFUSED only (docs/feedback-format.md)
    reason       VARCHAR,
    recorded_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (file_sha256, row_no)
);
-- a re-sent row is found by its key (feedback.py, one lookup per row)
CREATE INDEX IF NOT EXISTS feedback_rows_by_key ON feedback_rows (row_key);
-- the reason in Chinese as the office's receipt shows it (issue 16, eighth session; `reason` stays
-- the division's English): rows and files recorded before have none (the receipt then shows the
-- code's generic text of data/labels.csv)
ALTER TABLE feedback_rows ADD COLUMN IF NOT EXISTS reason_zh VARCHAR;
ALTER TABLE feedback_files ADD COLUMN IF NOT EXISTS reason_zh VARCHAR;

-- Every applied event with its data, in the order applied (the history of an entry's pre-service).
CREATE TABLE IF NOT EXISTS feedback_events (
    entry_id            VARCHAR NOT NULL,
    event               VARCHAR NOT NULL,
    event_date          DATE NOT NULL,
    office_code         VARCHAR NOT NULL,
    officer_id          VARCHAR,
    result              VARCHAR,
    months              INTEGER,
    items               VARCHAR,
    counted_months      INTEGER,
    merge_status        VARCHAR,
    archive_conclusion  VARCHAR,
    base_data           VARCHAR,
    elected_mi          INTEGER,
    confirmer           VARCHAR,
    pre_review_office   VARCHAR,
    reason              VARCHAR,
    basis               VARCHAR,
    remedy              VARCHAR,
    note                VARCHAR,
    source              VARCHAR NOT NULL,   -- feedback:<file name>#<row>
    recorded_at         TIMESTAMPTZ NOT NULL
);

-- Comprehensive conclusions (退休预服务综合结论, seed notice 二(五)), versioned: an upheld
-- objection supersedes a version (superseded_on set) and adds the corrected one; old values stay.
CREATE TABLE IF NOT EXISTS conclusions (
    entry_id            VARCHAR NOT NULL,
    version             INTEGER NOT NULL,
    issued_on           DATE NOT NULL,
    counted_months      INTEGER NOT NULL,   -- 缴费年限认定结果 (months)
    merge_status        VARCHAR NOT NULL,   -- MERGED | NOT_NEEDED | PENDING
    archive_conclusion  VARCHAR NOT NULL,   -- PASS | FAIL
    base_data           VARCHAR NOT NULL,   -- 待遇核算预备数据 (free text)
    received_on         DATE,               -- the day the result was received (RESULT_RECEIVED)
    objection_deadline  DATE,               -- received_on + objection_working_days working days
    deadline_status     VARCHAR NOT NULL,   -- NOT_RECEIVED | SET | CALENDAR_UNKNOWN
    confirmed_on        DATE,
    confirmed_by        VARCHAR,            -- EMPLOYER | PERSON
    superseded_on       DATE,
    superseded_reason   VARCHAR,
    source              VARCHAR NOT NULL,
    PRIMARY KEY (entry_id, version)
);

-- Objections (异议申诉, seed notice 五(二)(三)), one row per objection.
CREATE TABLE IF NOT EXISTS objections (
    entry_id            VARCHAR NOT NULL,
    objection_no        INTEGER NOT NULL,
    conclusion_version  INTEGER NOT NULL,   -- the version objected to
    filed_on            DATE NOT NULL,
    deadline            DATE,               -- the conclusion's deadline when filed (NULL: see timeliness)
    timeliness          VARCHAR NOT NULL,   -- ON_TIME | NOT_RECEIVED_YET | DEADLINE_UNKNOWN
    status              VARCHAR NOT NULL,   -- INCOMPLETE | ACCEPTED | UPHELD | REJECTED
    missing_items       VARCHAR,            -- ';'-joined codes still missing (INCOMPLETE)
    missing_notice      VARCHAR,            -- the one-time notice listing every missing item
    accepted_on         DATE,
    resolved_on         DATE,
    reason              VARCHAR,            -- REJECTED: reason, basis, remedy
    basis               VARCHAR,
    remedy              VARCHAR,
    new_conclusion_version INTEGER,         -- UPHELD: the corrected version
    source              VARCHAR NOT NULL,
    PRIMARY KEY (entry_id, objection_no)
);
-- the items the one-time notice listed (a supplement may name only these: NEW_MISSING_ITEMS);
-- objections filed before this column: the items still missing stand in for them
ALTER TABLE objections ADD COLUMN IF NOT EXISTS notice_items VARCHAR;

-- The month-start declaration screening of month P (rules.md §6), as published.
CREATE TABLE IF NOT EXISTS declaration_decisions (
    month_mi            INTEGER NOT NULL,
    entry_id            VARCHAR NOT NULL,
    id_no               VARCHAR NOT NULL,
    office_code         VARCHAR NOT NULL,
    retirement_mi       INTEGER NOT NULL,   -- R: elected month, else statutory month
    retirement_source   VARCHAR NOT NULL,   -- ELECTED | STATUTORY
    decision            VARCHAR NOT NULL,   -- DECLARATION | CONSULTATION | FOLLOW_UP
    reason              VARCHAR NOT NULL,
    stage               VARCHAR NOT NULL,   -- the entry's stage when screened
    counted_months      INTEGER,
    counted_source      VARCHAR,            -- CONCLUSION | SCREENING
    min_months          INTEGER,
    notice_id           VARCHAR,
    decided_at          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (month_mi, entry_id)
);
-- the file's columns as published, so that `declare --replay` re-emits them (rows decided before
-- these columns existed have file_columns_stored NULL: 30_office_file.sql looks them up as it did)
ALTER TABLE declaration_decisions ADD COLUMN IF NOT EXISTS name VARCHAR;
ALTER TABLE declaration_decisions ADD COLUMN IF NOT EXISTS statutory_age_mi INTEGER;
ALTER TABLE declaration_decisions ADD COLUMN IF NOT EXISTS officer_id VARCHAR;
ALTER TABLE declaration_decisions ADD COLUMN IF NOT EXISTS channel VARCHAR;
ALTER TABLE declaration_decisions ADD COLUMN IF NOT EXISTS file_columns_stored BOOLEAN;

-- ------------------------------------------------------------------ views for worklists / office_progress

-- One row per ledger entry: its stage, the current conclusion, the objection window, the open objection.
CREATE OR REPLACE VIEW entry_status AS
WITH cur AS (
    SELECT * FROM conclusions WHERE superseded_on IS NULL
), obj AS (
    SELECT * FROM (
        SELECT o.*, row_number() OVER (PARTITION BY entry_id ORDER BY objection_no DESC) AS rn
        FROM objections o) WHERE rn = 1
), arch AS (
    SELECT entry_id, arg_max(result, event_date) AS archive_result, arg_max(items, event_date) AS archive_items,
           max(event_date) AS archive_reviewed_on
    FROM feedback_events WHERE event = 'ARCHIVE_REVIEWED' GROUP BY entry_id
), yrs AS (
    SELECT entry_id, arg_max(months, event_date) AS years_confirmed_months
    FROM feedback_events WHERE event = 'YEARS_CONFIRMED' GROUP BY entry_id
)
SELECT e.entry_id, e.office_code, e.officer_id, e.stage, e.stage_since, e.due_date,
       e.closed_mi IS NULL AS is_open,
       CASE WHEN e.elected_retirement_mi IS NULL THEN NULL
            ELSE lpad(CAST(e.elected_retirement_mi // 12 AS VARCHAR), 4, '0') || '-'
                 || lpad(CAST(e.elected_retirement_mi % 12 + 1 AS VARCHAR), 2, '0') END AS elected_retirement_month,
       e.pre_review_office,
       arch.archive_result, arch.archive_items, arch.archive_reviewed_on,
       yrs.years_confirmed_months,
       cur.version AS conclusion_version, cur.issued_on AS concluded_on,
       cur.counted_months, cur.merge_status, cur.archive_conclusion, cur.base_data,
       cur.received_on AS result_received_on, cur.objection_deadline, cur.deadline_status,
       cur.confirmed_on, cur.confirmed_by,
       obj.objection_no, obj.status AS objection_status, obj.filed_on AS objection_filed_on,
       coalesce(obj.status IN ('INCOMPLETE', 'ACCEPTED'), false) AS objection_open,
       CASE WHEN obj.status = 'INCOMPLETE' THEN obj.missing_items END AS objection_missing_items
FROM ledger_entries e
LEFT JOIN cur USING (entry_id)
LEFT JOIN obj USING (entry_id)
LEFT JOIN arch USING (entry_id)
LEFT JOIN yrs USING (entry_id);

-- Objections not yet resolved: INCOMPLETE (waiting for material) or ACCEPTED (under review).
CREATE OR REPLACE VIEW objections_open AS
SELECT o.entry_id, e.office_code, e.officer_id, o.objection_no, o.conclusion_version, o.filed_on,
       o.deadline, o.timeliness, o.status, o.missing_items, o.accepted_on
FROM objections o JOIN ledger_entries e USING (entry_id)
WHERE o.status IN ('INCOMPLETE', 'ACCEPTED');

-- Open entries whose stage due date lies before day d (the stage is overdue on d).
CREATE OR REPLACE MACRO entries_overdue(d) AS TABLE
SELECT entry_id, office_code, officer_id, stage, stage_since, due_date,
       CAST(d AS DATE) - due_date AS days_overdue
FROM ledger_entries
WHERE closed_mi IS NULL AND due_date < CAST(d AS DATE);

-- Current conclusions whose objection window is still open on day d (received, not confirmed,
-- deadline not passed or not computable yet).
CREATE OR REPLACE MACRO objection_windows_open(d) AS TABLE
SELECT c.entry_id, e.office_code, c.version AS conclusion_version, c.received_on,
       c.objection_deadline, c.deadline_status
FROM conclusions c JOIN ledger_entries e USING (entry_id)
WHERE c.superseded_on IS NULL AND c.confirmed_on IS NULL AND c.received_on IS NOT NULL
  AND e.closed_mi IS NULL
  AND (c.objection_deadline IS NULL OR c.objection_deadline >= CAST(d AS DATE));
