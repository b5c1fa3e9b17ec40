-- reads: batch_quarantine, person_keys, persons_checked
-- writes: person_keys
-- params: -
-- Key the ID numbers this batch brought (outputs.md person_key), in the batch's transaction (a crash
-- after the COMMIT would leave an applied batch whose persons the analyst views never show): what
-- pipelines.warehouse.refresh_person_keys would find new, without scanning every version of every
-- person again (~0.3 s a batch at 10^6 persons).
INSERT INTO person_keys
SELECT id_no, person_key(id_no) FROM (
    SELECT id_no FROM persons_checked WHERE reason_code IS NULL AND op <> 'D'
    UNION SELECT upper(trim(id_no_raw)) FROM batch_quarantine WHERE id_no_raw IS NOT NULL
) n WHERE NOT EXISTS (SELECT 1 FROM person_keys k WHERE k.id_no = n.id_no);
