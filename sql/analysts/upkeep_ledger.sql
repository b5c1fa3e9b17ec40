-- reads: - (ledger_current.sql with ledger_only, the param select: the entries' own columns now; and the previous file's copy, db.ledger_current)
-- writes: _an_changed (and the copy's ledger_current, named by the param db)
-- params: db, select, columns
-- Upkeep of ledger_current (pipelines/analysts.py; issues 17/18): the entries to write again are those
-- whose own columns differ from the copy's (overdue included: it turns with the date), the new ones
-- and any the copy has that the ledger lacks; compared by a hash of each entry's own columns (the
-- columns param, entry_id aside) on both sides, a join of two narrow tables (comparing the columns
-- one by one cost three times as much at 1,000,000 persons; a change that leaves the 64-bit hash
-- equal is left to chance, ≈ 2^-64 an entry). They are deleted here, and inserted again by
-- upkeep_ledger_again.sql (after upkeep_ledger_run.sql adds those of a run).
{%- set cols %}{% for c in columns %}{{ c | sql_ident }}{{ ", " if not loop.last }}{% endfor %}{% endset %}
CREATE OR REPLACE TEMP TABLE _an_changed AS
SELECT entry_id
FROM (SELECT entry_id, hash({{ cols }}) AS h FROM ({{ select }}) s) n
FULL JOIN (SELECT entry_id, hash({{ cols }}) AS h FROM {{ db | sql_ident }}.ledger_current) o USING (entry_id)
WHERE n.h IS DISTINCT FROM o.h;

DELETE FROM {{ db | sql_ident }}.ledger_current WHERE entry_id IN (SELECT entry_id FROM _an_changed);
