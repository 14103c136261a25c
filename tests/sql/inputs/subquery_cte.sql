-- A WITH query and a subquery in FROM, grouped twice.
CREATE TABLE nums (k BIGINT, v BIGINT)
WITH ('connector' = 'generate', 'rows' = '200', 'fields.k.expr' = 'i % 5', 'fields.v.expr' = 'i');
WITH per_key AS (SELECT k, SUM(v) AS total FROM nums GROUP BY k)
SELECT big, COUNT(*) AS keys
FROM (SELECT k, total > 4000 AS big FROM per_key) AS flagged
GROUP BY big;
