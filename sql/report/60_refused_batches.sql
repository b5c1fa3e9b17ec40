-- reads: batches
-- writes: -
-- params: -
-- The month's report (outputs.md report): The batches refused in P's window (10_window.sql), with why.
-- Bound: lo, lo, hi, hi.
SELECT batch_id, seq, message FROM batches
WHERE status = 'REFUSED' AND (CAST(? AS TIMESTAMPTZ) IS NULL OR received_at > ?)
  AND (CAST(? AS TIMESTAMPTZ) IS NULL OR received_at <= ?)
ORDER BY received_at, 1, 3
