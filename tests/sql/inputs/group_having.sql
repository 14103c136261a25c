-- Grouping with every aggregate and HAVING on an aggregate not selected.
CREATE TABLE nums (k BIGINT, v BIGINT)
WITH ('connector' = 'generate', 'rows' = '200', 'fields.k.expr' = 'i % 5', 'fields.v.expr' = 'i');
SELECT k, COUNT(*) AS n, SUM(v) AS total, MIN(v) AS low, MAX(v) AS high, AVG(v) AS mean
FROM nums
GROUP BY k
HAVING MAX(v) > 196;
