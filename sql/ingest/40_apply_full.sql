-- A FULL replaces the whole pushed population (push-format.md): persons absent from it
-- have left the push and get a version with in_push = false; nobody is deleted.
{% include "ingest/40_incoming.sql" %}

CREATE OR REPLACE TEMP TABLE p_left AS
SELECT v.id_no FROM person_versions v
WHERE v.valid_to_seq IS NULL AND v.in_push
  AND NOT EXISTS (SELECT 1 FROM incoming i WHERE i.id_no = v.id_no);

{% include "ingest/40_apply_common.sql" %}

