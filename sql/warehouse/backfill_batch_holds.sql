-- reads: batch_holds, push_batches
-- writes: batch_holds
-- params: -
-- An older warehouse's holds (the code before batch_holds kept none; docs/decisions.md "Held batches
-- have a history"): what push_batches still tells. A batch HELD now was held since it was (last)
-- received; a SUPERSEDED one from its reception to the apply of the first FULL above it received
-- after it. A held batch applied or refused since left no trace there: no hold is made up for it.
-- Idempotent (run with the schema): nothing is added for a batch that has its hold already.
INSERT INTO batch_holds
SELECT b.seq, b.batch_id, b.push_type, b.base_seq, b.data_month, b.received_at, NULL, NULL
FROM push_batches b
WHERE b.status = 'HELD' AND b.received_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM batch_holds h WHERE h.batch_id = b.batch_id AND h.ended_at IS NULL);

INSERT INTO batch_holds
SELECT b.seq, b.batch_id, b.push_type, b.base_seq, b.data_month, b.received_at,
       -- no such FULL found: ended as received (held at no run), never "held" for ever
       coalesce((SELECT min(f.applied_at) FROM push_batches f
                 WHERE f.push_type = 'FULL' AND f.status = 'APPLIED' AND f.seq > b.seq
                   AND f.applied_at >= b.received_at), b.received_at),
       'SUPERSEDED'
FROM push_batches b
WHERE b.status = 'SUPERSEDED' AND b.received_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM batch_holds h WHERE h.batch_id = b.batch_id);
