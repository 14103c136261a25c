-- Projection, a filter pushed to the source, CASE, BETWEEN, IN.
CREATE TABLE nums (k BIGINT, v BIGINT)
WITH ('connector' = 'generate', 'rows' = '200', 'fields.k.expr' = 'i % 5', 'fields.v.expr' = 'i');
SELECT k, v * 2 AS doubled, CASE WHEN v % 2 = 0 THEN 'even' ELSE 'odd' END AS parity
FROM nums
WHERE v BETWEEN 10 AND 20 AND k IN (1, 2, 3);
