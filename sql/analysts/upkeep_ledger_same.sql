-- reads: - (ledger_current.sql with ledger_only, the param select: the entries' own columns now; the previous file's copy, db.table)
-- writes: - (a SELECT: true when the entries' own columns are the copy's, overdue aside)
-- params: db, table, select, columns
-- Upkeep of ledger_current after a command other than a run (pipelines/analysts.py "ledger"; issue 17):
-- a checksum (row count and the sum of each row's hash) of the entries' own columns now and of the
-- same columns in the copy, overdue aside (it turns with the date: sql/analysts/upkeep_overdue.sql).
-- Equal (an ingest, applications, most DAG tasks: nothing of the ledger changed): nothing to compare
-- entry by entry. A changed entry changes its row's hash; two changes cancelling out in the sum of
-- 64-bit hashes is left to chance (≈ 2^-64).
{%- set cols %}{% for c in columns if c != 'overdue' %}{{ c | sql_ident }}{{ ", " if not loop.last }}{% endfor %}{% endset %}
SELECT (SELECT (count(*), sum(hash({{ cols }}))) FROM ({{ select }}) n)
     = (SELECT (count(*), sum(hash({{ cols }}))) FROM {{ db | sql_ident }}.{{ table | sql_ident }} o)
