-- COUNT(DISTINCT …), FILTER (WHERE …) and a computed group key.
CREATE TABLE nums (k BIGINT, v BIGINT)
WITH ('connector' = 'generate', 'rows' = '200', 'fields.k.expr' = 'i % 5', 'fields.v.expr' = 'i');
SELECT k % 2 AS parity, COUNT(DISTINCT v % 7) AS sevens,
       SUM(v) FILTER (WHERE v > 150) AS late_total, COUNT(*) FILTER (WHERE k = 1) AS ones
FROM nums
GROUP BY k % 2;
