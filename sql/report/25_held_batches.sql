-- reads: batch_holds, push_batches
-- writes: -
-- params: -
-- The month's report (outputs.md report): the batches held at P's run (waiting for a missing seq,
-- push-format.md), from their history (batch_holds): held before the run and not ended by then,
-- whatever became of them since, so that a replay lists what the published report listed. Each with
-- the seqs it waited for: from the last seq applied by then, to its base_seq.
-- Bound: hi (the run's start), hi, hi.
SELECT h.seq, h.batch_id, h.push_type, h.data_month,
       strftime(timezone('Asia/Shanghai', h.held_at), '%Y-%m-%d %H:%M') AS received_at,
       (SELECT coalesce(max(a.seq), 0) FROM push_batches a WHERE a.status = 'APPLIED' AND a.applied_at <= ?) + 1
           AS waiting_from,
       h.base_seq AS waiting_to
FROM batch_holds h
WHERE h.held_at <= ? AND (h.ended_at IS NULL OR h.ended_at > ?)
ORDER BY h.seq, h.held_at
