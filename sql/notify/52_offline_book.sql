-- reads: _code_labels (and what 51_offline_file.sql reads)
-- writes: -
-- params: kinds (and those of 51_offline_file.sql, included)
-- notifications/<office>/offline.xlsx (pipelines/xlsx_list.py): the offline notices of the offices given
-- as their officer reads them (rules.md §5): the rows of 51_offline_file.sql (included: the same rows),
-- the kind, the channel and why the notice goes offline as their Chinese labels (_code_labels:
-- pipelines.labels.label_rows, registered by the writer; offline_reason's codes are the English reasons
-- of the notify_offline_reason macro), every ID number and credit code as text, in the CSV's order.
WITH f AS (
    {% include "notify/51_offline_file.sql" %}
)
SELECT f._office,
       -- the CSV's order: channel, kind (in the order of the kinds), ID number, month, notice id
       f.channel || lpad(CAST(list_position([{{ kinds | sql_list }}], f.notice_kind) AS VARCHAR), 3, '0') AS _s,
       f.id_no || '|' || coalesce(f.reference_month, '') || '|' || f.notice_id AS _e,
       f.channel AS _channel,
       f.notice_id AS c0, coalesce(kl.label_zh, f.notice_kind) AS c1, f.id_no AS c2, f.name AS c3,
       coalesce(cl.label_zh, f.channel) AS c4, f.employer_name AS c5, f.employer_uscc AS c6,
       f.township_hint AS c7, coalesce(rl.label_zh, f.offline_reason) AS c8, f.text AS c9,
       f.reference_month AS c10
FROM f
LEFT JOIN _code_labels kl ON kl.kind = 'notice_kind' AND kl.code = f.notice_kind
LEFT JOIN _code_labels cl ON cl.kind = 'channel' AND cl.code = f.channel
LEFT JOIN _code_labels rl ON rl.kind = 'offline_reason' AND rl.code = f.offline_reason
