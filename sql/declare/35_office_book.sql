-- reads: _code_labels (and what 30_office_file.sql reads)
-- writes: -
-- params: offices (and those of 30_office_file.sql, included)
-- The declarations list of the offices given as their workbook shows it
-- (declarations/<office>/declarations.xlsx, pipelines/xlsx_list.py): the rows of
-- 30_office_file.sql (included: the same rows), codes as their Chinese labels (_code_labels:
-- pipelines.labels.label_rows, registered by the writer) and the reason in Chinese, composed from
-- its parts (rules.md §6): the reason 11_decide.sql writes is
--   <why>; elected retirement month | statutory month
-- with <why> one of three forms, each read whole by its pattern below; a reason no pattern reads
-- whole is shown as written (English), never half translated (tests/declare/test_declare_xlsx.py
-- holds every variant to a Chinese text).
WITH f AS (
    {% include "declare/30_office_file.sql" %}
), r AS (
    SELECT f.*,
           regexp_extract(f.reason, '^(.*); (elected retirement month|statutory month)$', ['why', 'src']) AS rs
    FROM f
    WHERE f.office_code IN ({{ offices | sql_list }})
), p AS (
    SELECT r.*,
           regexp_extract(rs.why, '^elected month ([0-9]{4}-[0-9]{2}) outside the flexible window '
                          || '\((([0-9]{4}-[0-9]{2}) to ([0-9]{4}-[0-9]{2})|none)\) of the latest push data: '
                          || 'to be elected again$', ['elected', 'span', 'earliest', 'latest']) AS ew,
           regexp_extract(rs.why, '^pre-service not complete: stage ([A-Z_]+) since ([0-9]{4}-[0-9]{2}-[0-9]{2})'
                          || '(, objection open)?, no confirmed conclusion$', ['stage', 'since', 'objection']) AS nc,
           regexp_extract(rs.why, '^counted months ([0-9]+) (>=|<) minimum ([0-9]+) for ([0-9]{4}) '
                          || '\((confirmed conclusion v([0-9]+)|screening)\)$',
                          ['counted', 'cmp', 'minimum', 'year', 'source', 'version']) AS cm
    FROM r
), zh AS (
    SELECT p.*,
           CASE WHEN p.rs.src = '' THEN NULL
                WHEN p.ew.elected <> '' THEN
                    '选定的退休年月' || p.ew.elected || CASE WHEN p.ew.span = 'none'
                        THEN '不在弹性退休区间内（最新推送数据无弹性退休区间）'
                        ELSE '不在最新推送数据的弹性退休区间（' || p.ew.earliest || '至' || p.ew.latest || '）内' END
                    || '，需重新选定退休年月'
                WHEN p.nc.stage <> '' THEN
                    '预服务未完成：自' || p.nc.since || '起处于“' || coalesce(st.label_zh, p.nc.stage) || '”环节'
                    || CASE WHEN p.nc.objection <> '' THEN '，有未办结的异议' ELSE '' END
                    || '，尚无已确认的综合结论'
                WHEN p.cm.counted <> '' THEN
                    '已计缴费' || p.cm.counted || '个月，' || CASE p.cm.cmp WHEN '>=' THEN '达到' ELSE '不足' END
                    || p.cm.year || '年最低缴费月数' || p.cm.minimum || '个月（'
                    || CASE WHEN p.cm.version <> '' THEN '依据已确认的综合结论第' || p.cm.version || '版'
                            ELSE '依据筛查数据' END || '）'
           END AS why_zh
    FROM p
    LEFT JOIN _code_labels st ON st.kind = 'stage' AND st.code = p.nc.stage
)
SELECT zh.office_code AS _office,
       -- the CSV's order: DECLARATION, CONSULTATION, FOLLOW_UP, then the retirement month, the ID number
       CASE zh.decision WHEN 'DECLARATION' THEN '1' WHEN 'CONSULTATION' THEN '2' ELSE '3' END
       || zh.retirement_month AS _s,
       zh.id_no AS _e, zh.decision AS _decision,
       zh.id_no AS c0, zh.name AS c1, zh.office_code AS c2, zh.retirement_month AS c3,
       coalesce(dl.label_zh, zh.decision) AS c4,
       CASE WHEN zh.why_zh IS NULL THEN zh.reason
            ELSE zh.why_zh || '；按' || CASE zh.rs.src WHEN 'elected retirement month' THEN '本人选定的退休年月'
                                                       ELSE '法定退休年龄到龄年月' END END AS c5,
       coalesce(sl.label_zh, zh.retirement_source) AS c6,
       zh.statutory_age_month AS c7, zh.counted_contribution_months AS c8, zh.min_contribution_months AS c9,
       coalesce(gl.label_zh, zh.stage) AS c10, zh.responsible_officer AS c11, zh.notice_id AS c12,
       coalesce(cl.label_zh, zh.channel) AS c13
FROM zh
LEFT JOIN _code_labels dl ON dl.kind = 'decision' AND dl.code = zh.decision
LEFT JOIN _code_labels sl ON sl.kind = 'retirement_source' AND sl.code = zh.retirement_source
LEFT JOIN _code_labels gl ON gl.kind = 'stage' AND gl.code = zh.stage
LEFT JOIN _code_labels cl ON cl.kind = 'channel' AND cl.code = zh.channel
