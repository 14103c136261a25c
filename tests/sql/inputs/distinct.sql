-- SELECT DISTINCT.
CREATE TABLE nums (k BIGINT, v BIGINT)
WITH ('connector' = 'generate', 'rows' = '200', 'fields.k.expr' = 'i % 5', 'fields.v.expr' = 'i');
SELECT DISTINCT k, v % 3 AS m FROM nums WHERE v < 40;
