-- reads: -
-- writes: -
-- params: -
-- retire-prep explain: the person shown by the keyed hash, never by the ID number (outputs.md person_key).
-- Bound (never rendered: an ID number is data): id_no.
SELECT person_key(?)
