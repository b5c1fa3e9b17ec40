-- reads: push_batches
-- writes: -
-- params: -
-- The month's report (outputs.md report): the batches held at P's run (waiting for a missing seq,
-- push-format.md): held then, and applied or superseded since; each with what became of it.
-- Bound: hi, hi, hi.
SELECT b.seq, b.batch_id, b.push_type, b.data_month,
       strftime(timezone('Asia/Shanghai', b.received_at), '%Y-%m-%d %H:%M') AS received_at, b.status
FROM push_batches b WHERE b.received_at <= ? AND (
    b.status = 'HELD' OR (b.status = 'APPLIED' AND b.applied_at > ?)
    OR (b.status = 'SUPERSEDED' AND EXISTS (SELECT 1 FROM push_batches f WHERE f.push_type = 'FULL'
                                            AND f.seq > b.seq AND f.applied_at > ?)))
ORDER BY b.seq
