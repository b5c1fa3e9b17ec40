-- reads: push_batches, month_runs
-- writes: - (the table about of the new analysts' file, the param db)
-- params: db
-- When the file was built and what of the warehouse it shows: the last batch applied, the last month
-- run and declared (outputs.md "The warehouse, for analysts").
CREATE TABLE {{ db | sql_ident }}.about AS
SELECT CAST(timezone('Asia/Shanghai', now()) AS TIMESTAMP) AS built_at,
       (SELECT max(seq) FROM push_batches WHERE status = 'APPLIED') AS last_applied_seq,
       (SELECT month_text(max(month_mi)) FROM month_runs
         WHERE command = 'run' AND status = 'DONE') AS last_month_run,
       (SELECT month_text(max(month_mi)) FROM month_runs
         WHERE command = 'declare' AND status = 'DONE') AS last_month_declared;
