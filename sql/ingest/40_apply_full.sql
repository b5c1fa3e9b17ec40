-- reads: incoming, person_versions, persons_checked
-- writes: p_left
-- params: -
-- A FULL replaces the whole pushed population (push-format.md): persons absent from it
-- have left the push and get a version with in_push = false; nobody is deleted.
{% include "ingest/40_incoming.sql" %}

-- A person whose row is in the FULL but quarantined has not left: the row is there, only unusable;
-- the person keeps the current version (and segments) until a good row comes.
CREATE OR REPLACE TEMP TABLE p_left AS
SELECT v.id_no FROM person_versions v
WHERE v.valid_to_seq IS NULL AND v.in_push
  AND NOT EXISTS (SELECT 1 FROM incoming i WHERE i.id_no = v.id_no)
  AND NOT EXISTS (SELECT 1 FROM persons_checked q WHERE q.reason_code IS NOT NULL AND q.id_no = v.id_no);

{% include "ingest/40_apply_common.sql" %}
    0;  -- a FULL has no warnings
