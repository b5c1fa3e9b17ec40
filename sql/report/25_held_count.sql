-- reads: push_batches
-- writes: -
-- params: -
-- The month's report (outputs.md report): Batches held at P's run (waiting for a missing seq): held then, applied or superseded since.
-- Bound: hi, hi, hi.
SELECT count(*) FROM push_batches b WHERE b.received_at <= ? AND (
    b.status = 'HELD' OR (b.status = 'APPLIED' AND b.applied_at > ?)
    OR (b.status = 'SUPERSEDED' AND EXISTS (SELECT 1 FROM push_batches f WHERE f.push_type = 'FULL'
                                            AND f.seq > b.seq AND f.applied_at > ?)))
