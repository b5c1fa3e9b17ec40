-- reads: _an_new (TEMP: the table as its SELECT gives it now), {{ db }}.{{ table }} (the previous file's, copied)
-- writes: {{ db }}.{{ table }}, _an_units
-- params: db, table, key, columns
-- Upkeep of an analysts' table with several rows per key and no key of its own (pipelines/analysts.py
-- Units; issues 17/18): the rows of every key whose rows differ — in number, or in the sum of the
-- rows' hashes — are deleted and inserted again from _an_new; the others are left as they are.
-- (transitions: the warehouse only appends to ledger_transitions, so a changed entry has more rows,
-- or another office; the hash also catches any other change.) The key is never NULL.
{%- set h %}sum(CAST(hash({% for c in columns %}{% if not loop.first %}, {% endif %}"{{ c }}"{% endfor %}) AS HUGEINT)){% endset %}
CREATE OR REPLACE TEMP TABLE _an_units AS
WITH n AS (SELECT "{{ key }}" AS k, count(*) AS c, {{ h }} AS h FROM _an_new GROUP BY ALL),
o AS (SELECT "{{ key }}" AS k, count(*) AS c, {{ h }} AS h FROM {{ db }}.{{ table }} GROUP BY ALL)
SELECT k FROM n FULL JOIN o USING (k)
WHERE n.c IS DISTINCT FROM o.c OR n.h IS DISTINCT FROM o.h;

DELETE FROM {{ db }}.{{ table }} WHERE "{{ key }}" IN (SELECT k FROM _an_units);
INSERT INTO {{ db }}.{{ table }} BY NAME SELECT * FROM _an_new WHERE "{{ key }}" IN (SELECT k FROM _an_units);
DROP TABLE _an_units;
