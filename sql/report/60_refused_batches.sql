-- reads: batch_refusals
-- writes: -
-- params: -
-- The month's report (outputs.md report): the batches refused in P's window (10_window.sql), each with
-- its 说明 in Chinese for the leaders, built from the refusal's record (batch_refusals: code, file, row)
-- and the numbers its reason carries (docs/reason-codes.md "Batch refusals"). A reason not recognised
-- here gives no 说明 (NULL: the report shows the code's label only); the English reason stays in the
-- log and the `batches` view. Nothing of the reason is copied but digits and the contract's file and
-- column names: never a folder's or a file's own name (they may hold an ID number, privacy probe).
-- The first bad row's code of a BATCH refused for its share of bad rows is returned apart, for its label.
-- Bound: lo, lo, hi, hi.
WITH r AS (
    SELECT refused_at, batch_id, seq, reason_code, row_no,
           -- the reason without its own code in front (CONFLICT: …, STALE: …, DEPARTURES: …)
           CASE WHEN starts_with(reason, reason_code || ': ') THEN substr(reason, length(reason_code) + 3)
                ELSE reason END AS why,
           CASE WHEN regexp_full_match(coalesce(file, ''), '(persons|segments)\.(csv|parquet)')
                THEN CASE WHEN starts_with(file, 'persons') THEN '人员信息文件 ' ELSE '缴费段文件 ' END || file
                WHEN file = 'manifest.json' THEN '批次清单 manifest.json'
                ELSE '数据文件' END AS f,
           coalesce('第' || row_no || '行', '') AS row_at
    FROM batch_refusals
    WHERE (CAST(? AS TIMESTAMPTZ) IS NULL OR refused_at > ?) AND (CAST(? AS TIMESTAMPTZ) IS NULL OR refused_at <= ?)
),
n AS (  -- the numbers a reason carries, in order
    SELECT *, regexp_extract_all(why, '[0-9]+(?:\.[0-9]+)?') AS num FROM r
)
SELECT batch_id, seq, reason_code,
       CASE
           -- MANIFEST (pipelines/ingest/manifest.py::read_manifest)
           WHEN why = 'no manifest.json in the batch folder' THEN '批次文件夹中没有批次清单 manifest.json'
           WHEN why LIKE 'manifest.json is a symbolic link%' THEN '批次清单 manifest.json 是符号链接，批次文件夹须存放文件本身'
           WHEN why LIKE 'manifest.json is not %' THEN '批次清单 manifest.json 格式错误，无法读取'
           WHEN why LIKE 'batch_id must match%' THEN '批次编号不符合约定的格式'
           WHEN why LIKE 'province must be%' THEN '省份代码不是宁夏（640000）'
           WHEN why LIKE 'schema_version must be%' THEN '接口版本不是约定的 1.0'
           WHEN why LIKE 'push_type must be%' THEN '推送类型不是全量或增量'
           WHEN why LIKE 'data_month must be%' THEN '数据年月不是1900—2099年间的年月'
           WHEN why LIKE 'seq must be%' THEN '批次序号不是正整数'
           WHEN why = 'a FULL batch has base_seq null' THEN '全量批次填写了基准序号（应为空）'
           WHEN why LIKE 'an INCR batch needs%' THEN '增量批次缺少小于本批序号的基准序号'
           WHEN why LIKE 'generated_at must be%' THEN '生成时间不是带时区的标准时间'
           WHEN why LIKE 'encoding must be%' THEN '文件编码不是 UTF-8 或 GB18030'
           WHEN why LIKE 'file name % is not one of%' THEN '批次清单列出了约定以外的文件'
           WHEN why = 'two persons files' THEN '批次清单列出了两个人员信息文件'
           WHEN why = 'two segments files' THEN '批次清单列出了两个缴费段文件'
           WHEN why = 'no persons file in files' THEN '批次清单缺少人员信息文件'
           WHEN why = 'no segments file in files' THEN '批次清单缺少缴费段文件'
           WHEN why = 'files must be an object' OR why LIKE 'files.% needs rows%'
               THEN '批次清单的文件列表（行数、校验值）不符合约定'
           WHEN why LIKE 'persons and segments files must have the same format%'
               THEN '人员信息文件与缴费段文件格式不同（须同为 CSV 或同为 Parquet）'
           WHEN why LIKE 'file named in the manifest is a symbolic link%' THEN f || ' 是符号链接，批次文件夹须存放文件本身'
           WHEN why = 'file named in the manifest is missing' THEN '批次清单列出的' || f || ' 不在批次文件夹中'
           WHEN why LIKE 'sha256 of the file''s bytes does not match%'
               THEN f || ' 的校验值（sha256）与批次清单不符：文件不完整或已被改动'
           -- CONFLICT, STALE (pipelines/ingest/__init__.py::_decide)
           WHEN why LIKE 'this batch_id was received before%' THEN '此前已收到同一批次编号、内容不同的批次'
           WHEN why LIKE 'seq % already belongs to another batch' THEN '序号 ' || num[1] || ' 已属于另一批次'
           WHEN why LIKE 'seq % is not above the last applied seq %'
               THEN '序号 ' || num[1] || ' 不大于已入库的最新序号 ' || num[2]
           WHEN why LIKE 'INCR on base_seq %, but seq % is applied since'
               THEN '增量批次的基准序号为 ' || num[1] || '，此后序号 ' || num[2] || ' 已入库'
           -- DEPARTURES (pipelines/ingest/apply.py::_check_departures)
           WHEN why LIKE 'this FULL would mark % of the % persons in the push (%'
               THEN '该全量批次将使推送中 ' || num[2] || ' 人中的 ' || num[1] || ' 人（' || num[3]
                    || '%）退出推送，超过允许比例；如推送无误，由信息科按批次编号确认接收'
           -- BATCH (pipelines/ingest/files.py, apply.py::_apply_staged)
           WHEN why LIKE 'file named in the manifest is missing (%' THEN f || ' 在入库过程中被移走，未入库任何数据'
           WHEN why LIKE 'file named in the manifest is not a regular file%' THEN f || ' 不是普通文件'
           WHEN why LIKE 'the file changed after its sha256 was verified%'
               THEN f || ' 在校验后被改动，未入库任何数据；待批次文件夹完整后重新入库'
           WHEN why LIKE 'unreadable Parquet data%' THEN f || ' 的数据页损坏，无法读取'
           WHEN why LIKE 'unreadable Parquet%' THEN f || ' 无法读取（不是 Parquet 文件或文件尾部损坏）'
           WHEN regexp_matches(why, '^column [a-z_]+ is a nested Parquet type')
               THEN f || ' 的列 ' || regexp_extract(why, '^column ([a-z_]+) ', 1) || ' 是嵌套类型，不是单一值'
           WHEN why LIKE 'header lacks columns%'
               THEN f || ' 的表头缺少列：' || array_to_string(regexp_extract_all(why, '''([a-z_]+)''', 1), '、')
           WHEN why LIKE 'header repeats columns%' THEN f || ' 的表头有重复的列'
           WHEN why LIKE 'header has columns not in the contract%' THEN f || ' 的表头有约定以外的列'
           WHEN why LIKE 'the file has % data rows, the manifest says %'
               THEN f || ' 有 ' || num[1] || ' 行数据，批次清单为 ' || num[2] || ' 行'
                    || CASE WHEN why LIKE '%quote%' THEN '（有未闭合的引号，其后内容被读作一个字段）' ELSE '' END
           WHEN why LIKE '% of % data rows break the contract (%'
               THEN '共 ' || num[2] || ' 行数据中 ' || num[1] || ' 行不符合约定（' || num[3] || '%，超过允许的 '
                    || num[4] || '%），整批拒收；第一处：' || f || ' ' || row_at
           WHEN why LIKE 'the CSV record cannot be parsed%' THEN f || ' ' || row_at || '无法按 CSV 解析，文件无法读取'
           WHEN why LIKE 'the file cannot be parsed as CSV: stray carriage return%'
               THEN f || ' 无法按 CSV 解析：第 ' || num[1] || ' 行（表头为第1行）有多余的回车符或换行方式不一致'
           WHEN why LIKE 'the file cannot be parsed as CSV%' THEN f || ' 无法按 CSV 解析'
           -- VALIDATION (pipelines/ingest/__init__.py::_process)
           WHEN why LIKE 'validation failed%' THEN '入库质量校验未通过，未入库任何数据'
       END AS note,
       CASE WHEN why LIKE '% of % data rows break the contract (%; first: %'
            THEN regexp_extract(why, 'first: ([A-Z_]+)$', 1) END AS first_row_reason
FROM n
ORDER BY refused_at, 1, 3
