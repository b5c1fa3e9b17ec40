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
    seg_no          INTEGER NOT NULL,   -- order within the person's rows of the batch
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
