-- ORDER BY … LIMIT: the best rows per subtask, then of those at one.
CREATE TABLE nums (k BIGINT, v BIGINT)
WITH ('connector' = 'generate', 'rows' = '1000000', 'fields.k.expr' = 'i % 1000', 'fields.v.expr' = 'i');
EXPLAIN SELECT k, SUM(v) AS total FROM nums GROUP BY k ORDER BY total DESC LIMIT 5;
