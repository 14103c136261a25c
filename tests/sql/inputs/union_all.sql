-- UNION ALL of an integer and a double column, and UNION (distinct).
CREATE TABLE nums (k BIGINT, v BIGINT)
WITH ('connector' = 'generate', 'rows' = '200', 'fields.k.expr' = 'i % 5', 'fields.v.expr' = 'i');
SELECT k, v FROM nums WHERE v < 3
UNION ALL SELECT k, v / 2.0 FROM nums WHERE v >= 198
UNION SELECT k, v FROM nums WHERE v < 2;
