-- reads: batches
-- writes: -
-- params: -
-- The month's report (outputs.md report): Batches refused in month P's window (10_window.sql).
-- Bound: lo, lo, hi.
SELECT count(*) FROM batches WHERE status = 'REFUSED' AND (? IS NULL OR received_at > ?) AND received_at <= ?
