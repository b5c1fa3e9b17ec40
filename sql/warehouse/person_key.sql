-- reads: -
-- writes: person_key
-- params: person_key_secret
-- person_key (outputs.md): a keyed hash of the ID number, stable across months.
-- A TEMP macro: the key lives only in the connection of a process that has the
-- configuration, never in the warehouse file that analysts open.
CREATE OR REPLACE TEMP MACRO person_key(id_no) AS substr(sha256({{ person_key_secret | sql_str }} || '|' || id_no), 1, 16);
