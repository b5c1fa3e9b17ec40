-- reads: quarantine
-- writes: -
-- params: -
-- The month's report (outputs.md report): Quarantined rows up to P's push state, by batch, file and reason (docs/reason-codes.md).
-- Bound: seq.
SELECT batch_id, file, reason_code, count(*) FROM quarantine WHERE seq <= ?
GROUP BY ALL ORDER BY ALL
