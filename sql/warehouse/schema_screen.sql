-- reads: -
-- writes: screen_cache_state, screen_flag_cache, screen_place_cache
-- params: -
-- Screening cache (pipelines/screen.py): the month-independent part of each screened person's
-- screening — the benefit place (rules.md §2) and the flags that depend only on the person's row
-- and segments (§4: all but INSUFFICIENT_YEARS, PAST_AGE_NOT_RETIRED and BENEFIT_PLACE_MISMATCH,
-- which sql/screen/30_flags.sql computes every month) — as computed at push
-- seq screen_cache_state.facts_seq. A month recomputes only the persons whose row or segments
-- have a version that began or ended since; an earlier seq, or a changed rule file or setting
-- (fingerprint), recomputes everyone. The cache is internal: screen_results and flags of each
-- month stay the record; emptying these tables only makes the next month recompute everyone.
CREATE TABLE IF NOT EXISTS screen_cache_state (
    facts_seq   INTEGER NOT NULL,
    fingerprint VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS screen_place_cache (
    id_no            VARCHAR NOT NULL,
    benefit_province VARCHAR,
    place_rule       VARCHAR,
    hukou_province   VARCHAR,
    current_province VARCHAR,
    acc_current      INTEGER,
    acc_months       VARCHAR
);

CREATE TABLE IF NOT EXISTS screen_flag_cache (
    id_no    VARCHAR NOT NULL,
    code     VARCHAR NOT NULL,
    evidence VARCHAR NOT NULL
);
