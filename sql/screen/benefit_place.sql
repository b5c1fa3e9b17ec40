-- Benefit-claiming place (待遇领取地) of every person at once: rules.md §2, the set-based twin
-- of pipelines.policy.benefit_province (国办发〔2009〕66号 第六条, 人社部规〔2016〕5号, 人社部发〔2010〕70号).
-- In:  bp_persons(id_no, hukou_region, benefit_region_ministry, insured_region,
--                 deemed_region, deemed_months, deemed_status)
--      bp_segments(id_no, region_code, start_mi, end_mi, relation_status)
-- Out: TEMP benefit_place(id_no, benefit_province, place_rule, hukou_province,
--                         current_province, acc_months)
--      place_rule: HUKOU_NO_BASIC_MONTHS | R1_HUKOU | R2_CURRENT_120 | R3_PREVIOUS_120 | R4_HUKOU;
--      acc_months: months per province as '620000:96;640000:36' (code order), '' when none.
-- Distinct months per province by interval union: with a province's segments ordered by
-- start, a segment adds the months after the furthest end of the segments before it.
-- 99 - the two-digit province number: a larger key for a lower code (ties by lower code).
-- ascii() instead of CAST: never fails (codes are checked at ingest, is_region_code).
CREATE OR REPLACE TEMP MACRO prov_rank_desc(prov) AS
    99 - ((ascii(substr(prov, 1, 1)) - 48) * 10 + (ascii(substr(prov, 2, 1)) - 48));

CREATE OR REPLACE TEMP TABLE benefit_place AS
WITH seg AS (   -- non-temporary segments (relation_status 1 or 2) with a province
    SELECT id_no, province_of(region_code) AS prov, start_mi, end_mi
    FROM bp_segments
    WHERE relation_status IN (1, 2) AND end_mi >= start_mi AND province_of(region_code) IS NOT NULL
),
seg_new AS (    -- months each segment adds to its province's union
    SELECT id_no, prov, end_mi,
           greatest(0, end_mi - greatest(start_mi,
               coalesce(max(end_mi) OVER (PARTITION BY id_no, prov ORDER BY start_mi, end_mi
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) + 1,
                        start_mi)) + 1) AS new_months
    FROM seg
),
acc_seg AS (
    SELECT id_no, prov, sum(new_months)::INTEGER AS months, max(end_mi) AS last_end
    FROM seg_new GROUP BY id_no, prov
),
acc_deemed AS ( -- confirmed deemed months count at the province of deemed_region
    SELECT id_no, province_of(deemed_region) AS prov, deemed_months::INTEGER AS months
    FROM bp_persons
    WHERE deemed_status = 1 AND deemed_months > 0 AND province_of(deemed_region) IS NOT NULL
),
acc AS (
    SELECT coalesce(s.id_no, d.id_no) AS id_no, coalesce(s.prov, d.prov) AS prov,
           coalesce(s.months, 0) + coalesce(d.months, 0) AS months,
           s.last_end                                            -- NULL: deemed months only
    FROM acc_seg s FULL OUTER JOIN acc_deemed d ON s.id_no = d.id_no AND s.prov = d.prov
),
person AS (
    SELECT id_no,
           coalesce(province_of(hukou_region), province_of(benefit_region_ministry), '640000') AS h,
           province_of(insured_region) AS ins
    FROM bp_persons
),
cur AS (        -- C: the latest-ending non-temporary segment's province; ties insured, then lower code
    SELECT a.id_no,
           arg_max(a.prov, a.last_end::BIGINT * 1000
                           + CASE WHEN a.prov = p.ins THEN 100 ELSE 0 END
                           + prov_rank_desc(a.prov)) AS c
    FROM acc a JOIN person p USING (id_no)
    WHERE a.last_end IS NOT NULL
    GROUP BY a.id_no
),
per AS (        -- per person: acc[C], the rule-3 candidate, the evidence
    SELECT a.id_no,
           max(a.months) FILTER (WHERE a.prov = c.c) AS acc_c,
           arg_max(a.prov, coalesce(a.last_end, -1)::BIGINT * 100
                           + prov_rank_desc(a.prov))
               FILTER (WHERE a.months >= 120 AND a.prov IS DISTINCT FROM c.c) AS r3,
           string_agg(a.prov || ':' || CAST(a.months AS VARCHAR), ';' ORDER BY a.prov) AS acc_months
    FROM acc a LEFT JOIN cur c USING (id_no)
    GROUP BY a.id_no
),
decided AS (
    SELECT p.id_no, p.h, c.c, per.acc_c, per.r3, per.acc_months,
           CASE WHEN per.id_no IS NULL          THEN 'HUKOU_NO_BASIC_MONTHS'
                WHEN c.c = p.h                  THEN 'R1_HUKOU'
                WHEN per.acc_c >= 120           THEN 'R2_CURRENT_120'
                WHEN per.r3 IS NOT NULL         THEN 'R3_PREVIOUS_120'
                ELSE                                 'R4_HUKOU' END AS place_rule
    FROM person p
    LEFT JOIN per USING (id_no)
    LEFT JOIN cur c USING (id_no)
)
SELECT id_no,
       CASE place_rule WHEN 'R1_HUKOU' THEN c WHEN 'R2_CURRENT_120' THEN c
                       WHEN 'R3_PREVIOUS_120' THEN r3 ELSE h END AS benefit_province,
       place_rule,
       h AS hukou_province,
       c AS current_province,
       coalesce(acc_months, '') AS acc_months
FROM decided;
