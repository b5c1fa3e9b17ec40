-- reads: ledger_entries, screen_results
-- writes: _moved_office
-- params: bucket, buckets, month_mi
-- The open entries whose office is no longer the person's (rules.md §3: the responsible office follows
-- insured_region), for sql/ledger/20_office_change.sql to hand over. Every open entry is joined with
-- the month's screening: at 25,000,000 persons that is 17 M entries against 25 M persons, which ran
-- out of DuckDB's 1 GB in the INCR month (issue 19, twenty-second session); buckets > 1: only the
-- persons with hash(id_no) % buckets = bucket, the first pass making the table and the others adding
-- to it (pipelines/ledger.py runs the buckets in turn; an entry and its person are in the same
-- bucket: the same rows either way).
{% if bucket == 0 %}CREATE OR REPLACE TEMP TABLE _moved_office AS{% else %}INSERT INTO _moved_office{% endif %}
SELECT e.entry_id, e.id_no, e.office_code AS from_office, r.office_code AS to_office
FROM ledger_entries e
JOIN screen_results r ON r.month_mi = {{ month_mi }} AND r.id_no = e.id_no{% if buckets > 1 %}
 AND hash(r.id_no) % {{ buckets }} = {{ bucket }}{% endif %}
WHERE e.closed_mi IS NULL AND e.office_code <> r.office_code{% if buckets > 1 %}
  AND hash(e.id_no) % {{ buckets }} = {{ bucket }}{% endif %};
