-- reads: person_versions, persons_checked
-- writes: incr_warnings, p_left
-- params: -
-- An INCR applies changes since base_seq (push-format.md): I/U bring the whole row and all
-- segments again (they replace the earlier ones), D removes the person from the push.
-- I for a person already present and U for one not present are upserts, counted as warnings.
{% include "ingest/40_incoming.sql" %}

CREATE OR REPLACE TEMP TABLE incr_warnings AS
SELECT p.id_no, p.op,
       CASE WHEN p.op = 'I' AND v.in_push THEN 'INSERT_OF_PRESENT'
            WHEN p.op = 'U' AND NOT coalesce(v.in_push, false) THEN 'UPDATE_OF_ABSENT'
            WHEN p.op = 'D' AND NOT coalesce(v.in_push, false) THEN 'DELETE_OF_ABSENT' END AS warning
FROM persons_checked p
LEFT JOIN person_versions v ON v.id_no = p.id_no AND v.valid_to_seq IS NULL
WHERE p.reason_code IS NULL;

CREATE OR REPLACE TEMP TABLE p_left AS
SELECT v.id_no FROM person_versions v
JOIN persons_checked p ON p.id_no = v.id_no AND p.reason_code IS NULL AND p.op = 'D'
WHERE v.valid_to_seq IS NULL AND v.in_push;

{% include "ingest/40_apply_common.sql" %}
    (SELECT count(*) FROM incr_warnings WHERE warning IS NOT NULL);
