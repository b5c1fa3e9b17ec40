-- reads: -
-- writes: screen_cache_state
-- params: fingerprint, seq
-- The cached screening is now as of push seq {{ seq }}, computed by the rules of this fingerprint
-- (pipelines.screen.rules_fingerprint; sql/warehouse/schema_screen.sql).
DELETE FROM screen_cache_state;
INSERT INTO screen_cache_state VALUES ({{ seq }}, {{ fingerprint | sql_str }});
