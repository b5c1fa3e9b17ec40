-- reads: -
-- writes: applications, applications_refused, batch_holds, batch_refusals, coordination_letters, flags, handovers, ledger_entries, ledger_transitions, month_runs, notice_log, notice_withdrawals, person_keys, person_versions, push_batches, quarantine_rows, screen_results, segment_versions, warehouse_schema, worklist_rows
-- params: -
-- The warehouse schema. Every statement is idempotent (run on each writer connect).
-- Month values inside the warehouse are month indexes  Y*12 + (M-1)  (rules.md preamble)
-- in columns named *_mi; views for people show them as 'YYYY-MM'.

-- Push batches (push-format.md): one row per batch ever accepted for processing.
CREATE TABLE IF NOT EXISTS push_batches (
    seq                   BIGINT PRIMARY KEY,
    batch_id              VARCHAR NOT NULL UNIQUE,
    push_type             VARCHAR NOT NULL,          -- FULL | INCR
    base_seq              BIGINT,
    data_month            VARCHAR NOT NULL,          -- YYYY-MM
    generated_at          VARCHAR,
    encoding              VARCHAR,
    file_format           VARCHAR,                   -- csv | parquet
    source_dir            VARCHAR,
    content_hash          VARCHAR NOT NULL,          -- sha256 over the manifest's file hashes
    status                VARCHAR NOT NULL,          -- APPLIED | HELD | SUPERSEDED
    persons_rows          BIGINT,
    persons_accepted      BIGINT,
    persons_quarantined   BIGINT,
    segments_rows         BIGINT,
    segments_accepted     BIGINT,
    segments_quarantined  BIGINT,
    warnings              BIGINT DEFAULT 0,
    persons_inserted      BIGINT,
    persons_updated       BIGINT,
    persons_left          BIGINT,
    received_at           TIMESTAMPTZ,
    applied_at            TIMESTAMPTZ,
    message               VARCHAR
);
-- persons of the batch who kept their earlier segments because one of their segment rows was
-- quarantined (docs/decisions.md "A quarantined segment row"); NULL for batches applied before it
ALTER TABLE push_batches ADD COLUMN IF NOT EXISTS persons_kept_segments BIGINT;

-- Every refusal (whole batch), kept even though nothing of the batch is applied.
CREATE TABLE IF NOT EXISTS batch_refusals (
    refused_at  TIMESTAMPTZ NOT NULL,
    batch_id    VARCHAR,
    seq         BIGINT,
    source_dir  VARCHAR,
    file        VARCHAR,
    row_no      BIGINT,
    reason_code VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL
);

-- Every stretch a batch was held (push-format.md: an INCR waiting for a missing seq), from when it was
-- first held to when it left push_batches' HELD: APPLIED, SUPERSEDED by a FULL, or REFUSED (its row
-- gone). The report's table of batches held at P's run reads it, so a replay shows what was held
-- then whatever became of the batch since (docs/decisions.md "Held batches have a history").
CREATE TABLE IF NOT EXISTS batch_holds (
    seq         BIGINT NOT NULL,
    batch_id    VARCHAR NOT NULL,
    push_type   VARCHAR NOT NULL,
    base_seq    BIGINT,
    data_month  VARCHAR NOT NULL,
    held_at     TIMESTAMPTZ NOT NULL,
    ended_at    TIMESTAMPTZ,              -- NULL: still held
    ended_as    VARCHAR                   -- APPLIED | SUPERSEDED | REFUSED
);

-- Rows that break the contract, kept with their batch (push-format.md "Bad input").
-- raw_text holds personal data: analysts see the `quarantine` view instead.
CREATE TABLE IF NOT EXISTS quarantine_rows (
    seq         BIGINT NOT NULL,
    batch_id    VARCHAR NOT NULL,
    file        VARCHAR NOT NULL,     -- persons | segments
    row_no      BIGINT NOT NULL,      -- data rows counted from 1, header excluded
    reason_code VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL,
    id_no_raw   VARCHAR,
    raw_text    VARCHAR
);

-- Every version of a person (valid_from_seq <= s < valid_to_seq, NULL = current).
CREATE TABLE IF NOT EXISTS person_versions (
    id_no                      VARCHAR NOT NULL,
    name                       VARCHAR,
    gender                     TINYINT NOT NULL,
    birth_date                 DATE NOT NULL,
    insurance_type             SMALLINT NOT NULL,
    person_type                TINYINT,
    hukou_region               VARCHAR,
    insured_region             VARCHAR NOT NULL,
    benefit_region_ministry    VARCHAR,
    employer_uscc              VARCHAR,
    employer_name              VARCHAR,
    phone                      VARCHAR,
    contribution_status        TINYINT NOT NULL,
    retired                    BOOLEAN NOT NULL,
    survival_status            TINYINT NOT NULL,
    actual_contribution_months INTEGER NOT NULL,
    deemed_months              INTEGER,
    deemed_status              TINYINT NOT NULL,
    deemed_region              VARCHAR,
    arrears_months             INTEGER NOT NULL,
    in_push                    BOOLEAN NOT NULL,     -- false: left the push (FULL absence or op D)
    row_hash                   VARCHAR NOT NULL,     -- content hash, to see what changed
    valid_from_seq             BIGINT NOT NULL,
    valid_to_seq               BIGINT
);

-- Every version of a person's contribution segments (replaced as a set per person).
CREATE TABLE IF NOT EXISTS segment_versions (
    id_no           VARCHAR NOT NULL,
    seg_no          INTEGER NOT NULL,   -- the segment's row number in the batch file it came from
    region_code     VARCHAR NOT NULL,
    start_mi        INTEGER NOT NULL,
    end_mi          INTEGER NOT NULL,
    relation_status TINYINT NOT NULL,
    valid_from_seq  BIGINT NOT NULL,
    valid_to_seq    BIGINT
);

-- Applications (trigger 2), kept as received.
CREATE TABLE IF NOT EXISTS applications (
    id_no          VARCHAR NOT NULL,
    applicant_type TINYINT NOT NULL,
    applied_on     DATE NOT NULL,
    channel        VARCHAR NOT NULL,
    county_code    VARCHAR NOT NULL,
    source_file    VARCHAR,
    loaded_at      TIMESTAMPTZ
);

-- ---------------------------------------------------------------- monthly run (rules.md §3–7)
-- One row per command run for a month (run, declare), for ordering and replay.
CREATE TABLE IF NOT EXISTS month_runs (
    month_mi     INTEGER NOT NULL,
    command      VARCHAR NOT NULL,        -- run | declare
    as_of_seq    BIGINT NOT NULL,         -- the push state the month was computed on
    replay       BOOLEAN NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    status       VARCHAR NOT NULL         -- RUNNING | DONE | FAILED
);

-- Screening of every person in the push (and every open ledger entry) for month P.
CREATE TABLE IF NOT EXISTS screen_results (
    month_mi                INTEGER NOT NULL,
    id_no                   VARCHAR NOT NULL,
    office_code             VARCHAR NOT NULL,
    insurance_type          SMALLINT NOT NULL,
    gender                  TINYINT NOT NULL,
    person_type             TINYINT,
    birth_mi                INTEGER NOT NULL,
    original_age_mi         INTEGER NOT NULL,
    statutory_age_mi        INTEGER NOT NULL,
    delay_months            INTEGER NOT NULL,
    benefit_start_mi        INTEGER NOT NULL,
    flexible_earliest_mi    INTEGER,
    flexible_latest_mi      INTEGER,
    min_contribution_months INTEGER NOT NULL,
    counted_months          INTEGER NOT NULL,
    projected_months        INTEGER NOT NULL,
    benefit_province        VARCHAR NOT NULL,
    place_rule              VARCHAR NOT NULL,
    place_evidence          VARCHAR,
    alive                   BOOLEAN NOT NULL,
    retired                 BOOLEAN NOT NULL,
    in_push                 BOOLEAN NOT NULL,
    scope_rule              VARCHAR,          -- a | b | c (rules.md §3) or NULL
    trigger_push            BOOLEAN NOT NULL, -- trigger 1
    trigger_application     BOOLEAN NOT NULL, -- trigger 2
    trigger_screening       BOOLEAN NOT NULL, -- trigger 3
    flags                   VARCHAR NOT NULL  -- section-4 codes, alphabetical, ';'-joined
    -- (month_mi, id_no) is unique by construction (a month is deleted, then inserted whole) and
    -- checked by the `screen` suite; no index: DuckDB's index upkeep cost more than the screening.
);

-- Each flag with its evidence (rules.md §4).
CREATE TABLE IF NOT EXISTS flags (
    month_mi INTEGER NOT NULL,
    id_no    VARCHAR NOT NULL,
    code     VARCHAR NOT NULL,
    evidence VARCHAR NOT NULL
    -- (month_mi, id_no, code) unique by construction, like screen_results
);

-- 一人一档: one entry per person and enrolment (a person closed and taken in again gets a new one).
-- No PRIMARY KEY (entry_id) and no index on id_no since issue 19 (ninth session): DuckDB keeps the
-- index entries a transaction inserts in memory until COMMIT (a FULL month of 25,000,000 persons opens
-- ≈ 17 M entries, ≈ 2 GB of them). The insert (sql/ledger/30_open.sql) is followed, in its transaction,
-- by sql/ledger/31_unique.sql, which refuses an entry_id held twice and so rolls the stage back; county
-- feedback reads a row's entry by its rowid (pipelines/feedback/run.py); an older warehouse's table is
-- rebuilt without them (pipelines.warehouse.migrate_ledger_entries).
CREATE TABLE IF NOT EXISTS ledger_entries (
    entry_id              VARCHAR NOT NULL,      -- person_key || '-' || opened month (deterministic), unique
    id_no                 VARCHAR NOT NULL,
    office_code           VARCHAR NOT NULL,      -- responsible office (insured_region)
    opened_mi             INTEGER NOT NULL,
    opened_by             VARCHAR NOT NULL,      -- PUSH | APPLICATION | SCREENING (';'-joined)
    officer_id            VARCHAR,
    stage                 VARCHAR NOT NULL,
    stage_since           DATE NOT NULL,
    due_date              DATE,
    closed_mi             INTEGER,
    close_reason          VARCHAR,              -- RETIRED | DECEASED | LEFT_PUSH | MOVED_OUT
    elected_retirement_mi INTEGER,              -- from feedback, within the flexible window
    pre_review_office     VARCHAR               -- office that did the archive pre-review (feedback)
);

-- Every transition with its time and source (rules.md §7).
CREATE TABLE IF NOT EXISTS ledger_transitions (
    entry_id    VARCHAR NOT NULL,
    id_no       VARCHAR NOT NULL,
    from_stage  VARCHAR,
    to_stage    VARCHAR NOT NULL,
    event_date  DATE NOT NULL,          -- business date of the change
    month_mi    INTEGER NOT NULL,       -- month it belongs to
    source      VARCHAR NOT NULL,       -- run:YYYY-MM | declare:YYYY-MM | feedback:<file>#<row>
    detail      VARCHAR,
    recorded_at TIMESTAMPTZ NOT NULL
);

-- Benefit place or office changes between months (rules.md §2, §3).
CREATE TABLE IF NOT EXISTS handovers (
    month_mi    INTEGER NOT NULL,
    id_no       VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,       -- OFFICE_CHANGE | BENEFIT_PLACE_OUT | BENEFIT_PLACE_IN
    from_code   VARCHAR NOT NULL,       -- office or province
    to_code     VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL,
    PRIMARY KEY (month_mi, id_no, kind)
);

-- Every notice ever issued: never two of the same person, kind and reference month (rules.md §5).
-- No PRIMARY KEY (notice_id) nor UNIQUE (id_no, kind, reference_mi) since issue 19: DuckDB keeps the
-- index entries a transaction inserts in memory until COMMIT (~130 bytes a notice; a FULL month of
-- 5,000,000 persons did not commit within 1 GB). Every insert is followed, in its transaction, by
-- sql/notify/35_unique.sql, which refuses both duplicates and so rolls the writer back; an older
-- warehouse's table is rebuilt without them (pipelines.warehouse.migrate_notice_log).
CREATE TABLE IF NOT EXISTS notice_log (
    notice_id        VARCHAR NOT NULL,
    id_no            VARCHAR NOT NULL,
    entry_id         VARCHAR,
    kind             VARCHAR NOT NULL,
    reference_mi     INTEGER NOT NULL,
    issued_mi        INTEGER NOT NULL,   -- the run month that issued it (its batch)
    office_code      VARCHAR NOT NULL,
    channel          VARCHAR NOT NULL,   -- SMS | EMPLOYER | TOWNSHIP
    phone            VARCHAR,            -- normalised mobile, SMS only
    text             VARCHAR NOT NULL,
    segments         INTEGER,            -- SMS only
    offline_reason   VARCHAR,
    created_at       TIMESTAMPTZ NOT NULL,
    file_office      VARCHAR             -- the office whose files of the batch month carry it (47_settle_batch.sql)
);
ALTER TABLE notice_log ADD COLUMN IF NOT EXISTS file_office VARCHAR;

-- Notices withdrawn before their batch was written: raised before P's push (a DECLARATION of the
-- 1st, a RESULT from feedback), their entry closed by P's run (sql/notify/46_withdraw.sql). Kept
-- here as they were; gone from notice_log, so no file, count or key of it remains.
CREATE TABLE IF NOT EXISTS notice_withdrawals (
    notice_id        VARCHAR PRIMARY KEY,
    id_no            VARCHAR NOT NULL,
    entry_id         VARCHAR,
    kind             VARCHAR NOT NULL,
    reference_mi     INTEGER NOT NULL,
    issued_mi        INTEGER NOT NULL,
    office_code      VARCHAR NOT NULL,
    channel          VARCHAR NOT NULL,
    phone            VARCHAR,
    text             VARCHAR NOT NULL,
    segments         INTEGER,
    offline_reason   VARCHAR,
    created_at       TIMESTAMPTZ NOT NULL,
    reason           VARCHAR NOT NULL,   -- the entry's close_reason: DECEASED | RETIRED | LEFT_PUSH | MOVED_OUT
    withdrawn_mi     INTEGER NOT NULL,   -- the run month that withdrew it
    withdrawn_at     TIMESTAMPTZ NOT NULL
);

-- The worklist of each month as it was published (the office ledger for P, rules.md §3/§7,
-- outputs.md worklist columns). Replays re-emit it; analysts read ledger_current instead.
CREATE TABLE IF NOT EXISTS worklist_rows (
    month_mi                      INTEGER NOT NULL,
    entry_id                      VARCHAR NOT NULL,
    id_no                         VARCHAR NOT NULL,
    name                          VARCHAR,
    gender                        TINYINT,
    birth_month                   VARCHAR,
    insurance_type                SMALLINT,
    person_type                   TINYINT,
    office_code                   VARCHAR NOT NULL,
    original_age_month            VARCHAR,
    statutory_age_month           VARCHAR,
    statutory_age                 VARCHAR,
    delay_months                  INTEGER,
    benefit_start_month           VARCHAR,
    months_to_original            INTEGER,
    months_to_statutory           INTEGER,
    flexible_earliest_month       VARCHAR,
    flexible_latest_month         VARCHAR,
    min_contribution_months       INTEGER,
    counted_contribution_months   INTEGER,
    projected_contribution_months INTEGER,
    benefit_region                VARCHAR,
    scope_rule                    VARCHAR,
    entered_by                    VARCHAR,
    flags                         VARCHAR,
    flag_evidence                 VARCHAR,
    stage                         VARCHAR,
    stage_since                   VARCHAR,
    responsible_officer           VARCHAR,
    due_date                      VARCHAR,
    overdue                       BOOLEAN,
    elected_retirement_month      VARCHAR,
    objection_deadline            VARCHAR,   -- of the current conclusion (rules.md §7), YYYY-MM-DD
    objection_status              VARCHAR,   -- INCOMPLETE | ACCEPTED | UPHELD | REJECTED of the latest objection
    channel                       VARCHAR,   -- how the person is told (rules.md §5): SMS | EMPLOYER | TOWNSHIP
    objection_missing_notice      VARCHAR    -- an INCOMPLETE objection: the one-time notice of all missing material
    -- (month_mi, entry_id) unique by construction (the month is deleted, then inserted whole)
);
-- warehouses made before these columns existed get them last, in this order (the INSERT is positional)
ALTER TABLE worklist_rows ADD COLUMN IF NOT EXISTS channel VARCHAR;
ALTER TABLE worklist_rows ADD COLUMN IF NOT EXISTS objection_missing_notice VARCHAR;

-- Applications rows that could not be read (trigger 2 input), kept with the reason.
CREATE TABLE IF NOT EXISTS applications_refused (
    source_file VARCHAR NOT NULL,
    row_no      BIGINT NOT NULL,
    reason_code VARCHAR NOT NULL,
    loaded_at   TIMESTAMPTZ
);

-- The pseudonymous key of every ID number (outputs.md person_key); filled by the pipeline,
-- which alone has the secret (pipelines.warehouse.refresh_person_keys).
-- No PRIMARY KEY: the index costs more than the anti-join that keeps id_no unique.
CREATE TABLE IF NOT EXISTS person_keys (
    id_no      VARCHAR NOT NULL,
    person_key VARCHAR NOT NULL
);

-- Coordination letters (附件1) decided, once per (person, sending office, addressee): a letter is
-- written in the month it first becomes due, never again in later months.
CREATE TABLE IF NOT EXISTS coordination_letters (
    id_no     VARCHAR NOT NULL,
    sender    VARCHAR NOT NULL,
    recipient VARCHAR NOT NULL,
    first_mi  INTEGER NOT NULL,
    basis     VARCHAR NOT NULL
);
-- the entry and officer the letter was written for (a replay re-emits it even after the entry closed
-- or moved; rows recorded before these columns: the latest entry opened by first_mi)
ALTER TABLE coordination_letters ADD COLUMN IF NOT EXISTS entry_id VARCHAR;
ALTER TABLE coordination_letters ADD COLUMN IF NOT EXISTS officer_id VARCHAR;

-- The schema this warehouse was last brought up to (pipelines.warehouse.create_schema): a hash of
-- these files as rendered, the migrations' names and DuckDB's version. A writer that finds its own
-- stamp here skips the statements above, the views and the migrations; any change of them runs
-- them all again. One row.
CREATE TABLE IF NOT EXISTS warehouse_schema (
    stamp   VARCHAR NOT NULL,
    made_at TIMESTAMPTZ NOT NULL
);
