-- reads: ledger_entries, person_keys (and the previous file's copy, db.ledger_current)
-- writes: -
-- params: db
-- Whether the person keys were rotated since the copy was built (pipelines/analysts.py; issues 17/18):
-- whether an entry of the copy has a person key that is no longer the warehouse's: the file is then
-- written afresh. One entry tells (a new secret changes every key), and one entry lets DuckDB skip most
-- of person_keys (a thousand cost a scan of it: a tenth of an ingest's upkeep at 1,000,000 persons).
SELECT count(*)
FROM (SELECT entry_id, person_key FROM {{ db | sql_ident }}.ledger_current LIMIT 1) o
JOIN ledger_entries e USING (entry_id)
JOIN person_keys k ON k.id_no = e.id_no
WHERE k.person_key <> o.person_key;
