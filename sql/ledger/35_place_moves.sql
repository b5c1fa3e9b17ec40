-- reads: screen_results
-- writes: handovers
-- params: bucket, buckets, month_mi
-- rules.md §2: "a person whose place moves out of Ningxia (or into it) between two months produces
-- a handover record" — every screened person, in the ledger or not. Ledger entries are handed over
-- by 10_close.sql (out) and 30_open.sql (in) with their own reasons, which win (same key, inserted
-- first); this adds the persons outside the ledger and entries whose place moved in while open.
-- The two months are P and the latest earlier month that was screened (a replay of P reads the
-- months before P only). A person not screened in that month (new in the push) has no move.
-- buckets > 1: only the persons with hash(id_no) % buckets = bucket (issue 19: the two months of
-- 25,000,000 persons joined at once ran out of DuckDB's memory; pipelines/ledger.py runs the buckets
-- in turn; a person's two rows are in the same bucket: the same handovers either way).
INSERT INTO handovers
SELECT {{ month_mi }}, r.id_no,
       CASE WHEN r.benefit_province = '640000' THEN 'BENEFIT_PLACE_IN' ELSE 'BENEFIT_PLACE_OUT' END,
       CASE WHEN r.benefit_province = '640000' THEN prev.benefit_province ELSE r.office_code END,
       CASE WHEN r.benefit_province = '640000' THEN r.office_code ELSE r.benefit_province END,
       'benefit place moved from ' || prev.benefit_province || ' to ' || r.benefit_province
           || ' (' || r.place_rule || ')'
FROM screen_results r
JOIN screen_results prev
  ON prev.month_mi = (SELECT max(month_mi) FROM screen_results WHERE month_mi < {{ month_mi }})
 AND prev.id_no = r.id_no{% if buckets > 1 %}
 AND hash(prev.id_no) % {{ buckets }} = {{ bucket }}{% endif %}
WHERE r.month_mi = {{ month_mi }}{% if buckets > 1 %}
  AND hash(r.id_no) % {{ buckets }} = {{ bucket }}{% endif %}
  AND r.alive AND NOT r.retired AND r.in_push
  AND (r.benefit_province = '640000') <> (prev.benefit_province = '640000')
ON CONFLICT DO NOTHING;
