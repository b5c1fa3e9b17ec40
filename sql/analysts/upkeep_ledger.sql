-- reads: _an_new (ledger_current.sql with ledger_only: the entries' own columns now; and the previous file's copy, db.ledger_current)
-- writes: _an_changed (and the copy's ledger_current, named by the param db)
-- params: db, columns
-- Upkeep of ledger_current after a command other than a run (pipelines/analysts.py; issues 17/18):
-- the screening columns have not changed (only a run writes screen_results), so the entries to
-- write again are those whose own columns differ from the copy's (overdue included: it turns with
-- the date), the new ones and any the copy has that the ledger lacks. They are deleted here; the
-- caller inserts them again from ledger_current.sql restricted to _an_changed.
CREATE OR REPLACE TEMP TABLE _an_changed AS
SELECT n.entry_id FROM _an_new n LEFT JOIN {{ db }}.ledger_current o ON o.entry_id = n.entry_id
WHERE o.entry_id IS NULL{% for c in columns %}
   OR o."{{ c }}" IS DISTINCT FROM n."{{ c }}"{% endfor %}
UNION
SELECT o.entry_id FROM {{ db }}.ledger_current o ANTI JOIN _an_new n ON n.entry_id = o.entry_id;

DELETE FROM {{ db }}.ledger_current WHERE entry_id IN (SELECT entry_id FROM _an_changed);
