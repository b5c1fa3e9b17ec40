-- reads: _an_units (and the table's own SELECT, the param select; the previous file's copy of the table, db.table)
-- writes: _an_units (and the analysts' table the params db and table name)
-- params: db, table, key, stamp, since, after, select
-- Upkeep of an analysts' table with several rows per key and no key of its own, whose source only
-- ever gains rows, each stamped when recorded (pipelines/analysts.py Units; issues 17/18): every key
-- with a row recorded at or after the latest stamp of the previous file's copy has its rows deleted
-- and inserted again from the SELECT; the others are left as they are. transitions: the warehouse
-- only appends to ledger_transitions (recorded_at: the recording transaction's start), and an entry
-- changes office only with a transition of its own (sql/ledger/20_office_change.sql). since: the
-- copy's latest stamp, a literal (so that it filters the source table before any join); after: ">"
-- when the rows stamped at since are as many in the source as in the copy (they are then the copy's:
-- a later transaction's stamp is later), else ">=".
CREATE OR REPLACE TEMP TABLE _an_units AS
SELECT DISTINCT "{{ key }}" AS k FROM ({{ select }}) s
WHERE "{{ stamp }}" {{ ">" if after == ">" else ">=" }} {{ since }};

DELETE FROM {{ db }}.{{ table }} WHERE "{{ key }}" IN (SELECT k FROM _an_units);
INSERT INTO {{ db }}.{{ table }} BY NAME
SELECT * FROM ({{ select }}) s WHERE "{{ key }}" IN (SELECT k FROM _an_units);
DROP TABLE _an_units;
