-- reads: _an_new (TEMP: the table as its SELECT gives it now; and the previous file's copy of the table, db.table)
-- writes: - (only the analysts' table the params db and table name)
-- params: db, table, key, stable, volatile
-- Upkeep of an analysts' table with one row per key (pipelines/analysts.py Rows; issues 17/18): the
-- copy of the previous file becomes exactly _an_new, writing only what differs. Rows whose key is
-- gone or whose stable columns differ are deleted (and inserted again below); the volatile columns,
-- which a run changes on nearly every row (the month screened), are updated one column at a time,
-- where they differ: DuckDB then rewrites that column, not the whole table.
{%- set on %}{% for k in key %}{% if not loop.first %} AND {% endif %}n."{{ k }}" = o."{{ k }}"{% endfor %}{% endset %}
DELETE FROM {{ db }}.{{ table }} WHERE rowid IN (
    SELECT o.rowid FROM {{ db }}.{{ table }} o LEFT JOIN _an_new n ON {{ on }}
    WHERE n."{{ key[0] }}" IS NULL{% for c in stable %}
       OR o."{{ c }}" IS DISTINCT FROM n."{{ c }}"{% endfor %}
);
{% for v in volatile %}
UPDATE {{ db }}.{{ table }} AS o SET "{{ v }}" = n."{{ v }}" FROM _an_new n
WHERE {{ on }} AND o."{{ v }}" IS DISTINCT FROM n."{{ v }}";
{% endfor %}
INSERT INTO {{ db }}.{{ table }} BY NAME
SELECT n.* FROM _an_new n WHERE NOT EXISTS (SELECT 1 FROM {{ db }}.{{ table }} o WHERE {{ on }});
