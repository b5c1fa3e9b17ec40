-- reads: person_versions, segment_versions
-- writes: persons_p, segments_p
-- params: seq
-- The push state a month is computed on: every person and segment version valid at seq {{ seq }}.
CREATE OR REPLACE TEMP VIEW persons_p AS
SELECT * FROM person_versions
WHERE valid_from_seq <= {{ seq }} AND (valid_to_seq IS NULL OR valid_to_seq > {{ seq }});

CREATE OR REPLACE TEMP VIEW segments_p AS
SELECT * FROM segment_versions
WHERE valid_from_seq <= {{ seq }} AND (valid_to_seq IS NULL OR valid_to_seq > {{ seq }});
