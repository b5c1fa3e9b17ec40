-- reads: batches
-- writes: -
-- params: -
-- The month's report (outputs.md report): The batches refused in P's window (10_window.sql), with why.
-- Bound: lo, lo, hi, hi.
-- (the view's message begins with the refusal's code: MANIFEST, CONFLICT … docs/reason-codes.md)
SELECT batch_id, seq, regexp_extract(message, '^([A-Z_]+):', 1) AS reason_code, message FROM batches
WHERE status = 'REFUSED' AND (CAST(? AS TIMESTAMPTZ) IS NULL OR received_at > ?)
  AND (CAST(? AS TIMESTAMPTZ) IS NULL OR received_at <= ?)
ORDER BY received_at, 1, 3
