-- Aggregates without GROUP BY: one row.
CREATE TABLE nums (k BIGINT, v BIGINT)
WITH ('connector' = 'generate', 'rows' = '200', 'fields.k.expr' = 'i % 5', 'fields.v.expr' = 'i');
SELECT COUNT(*) AS n, SUM(v) AS total, MAX(k) AS top FROM nums WHERE v >= 100;
