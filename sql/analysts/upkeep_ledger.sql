-- reads: _an_new (ledger_current.sql with ledger_only: the entries' own columns now; and the previous file's copy, db.ledger_current)
-- writes: _an_changed (and the copy's ledger_current, named by the param db)
-- params: db, columns, again
-- Upkeep of ledger_current after a command other than a run (pipelines/analysts.py; issues 17/18):
-- the screening columns have not changed (only a run writes screen_results), so the entries to
-- write again are those whose own columns differ from the copy's (overdue included: it turns with
-- the date), the new ones and any the copy has that the ledger lacks. They are deleted, and inserted
-- again from ledger_current.sql restricted to _an_changed (the param again).
CREATE OR REPLACE TEMP TABLE _an_changed AS
SELECT n.entry_id FROM _an_new n LEFT JOIN {{ db | sql_ident }}.ledger_current o ON o.entry_id = n.entry_id
WHERE o.entry_id IS NULL{% for c in columns %}
   OR o.{{ c | sql_ident }} IS DISTINCT FROM n.{{ c | sql_ident }}{% endfor %}
UNION
SELECT o.entry_id FROM {{ db | sql_ident }}.ledger_current o ANTI JOIN _an_new n ON n.entry_id = o.entry_id;

DELETE FROM {{ db | sql_ident }}.ledger_current WHERE entry_id IN (SELECT entry_id FROM _an_changed);

INSERT INTO {{ db | sql_ident }}.ledger_current BY NAME {{ again }};
