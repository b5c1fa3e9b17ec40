-- reads: batches
-- writes: -
-- params: -
-- The month's report (outputs.md report): The batches applied up to P's push state, with their row accounting (push-format.md).
-- Bound: seq.
SELECT seq, batch_id, push_type, data_month, status, persons_rows, persons_accepted,
       persons_quarantined, segments_rows, segments_accepted, segments_quarantined,
       rows_balanced, warnings
FROM batches WHERE status <> 'REFUSED' AND seq <= ? ORDER BY seq
