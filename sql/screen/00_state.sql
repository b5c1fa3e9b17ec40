-- The push state a month is computed on: every person and segment version valid at seq {{ seq }}.
CREATE OR REPLACE TEMP VIEW persons_p AS
SELECT * FROM person_versions
WHERE valid_from_seq <= {{ seq }} AND (valid_to_seq IS NULL OR valid_to_seq > {{ seq }});

CREATE OR REPLACE TEMP VIEW segments_p AS
SELECT * FROM segment_versions
WHERE valid_from_seq <= {{ seq }} AND (valid_to_seq IS NULL OR valid_to_seq > {{ seq }});

-- Screened: everyone in the push, and everyone whose ledger entry is still open.
CREATE OR REPLACE TEMP TABLE screened AS
SELECT p.* FROM persons_p p
WHERE p.in_push
   OR p.id_no IN (SELECT id_no FROM ledger_entries WHERE closed_mi IS NULL);
