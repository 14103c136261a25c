-- A view, planned where it is used.
CREATE TABLE nums (k BIGINT, v BIGINT)
WITH ('connector' = 'generate', 'rows' = '200', 'fields.k.expr' = 'i % 5', 'fields.v.expr' = 'i');
CREATE VIEW odd AS SELECT k, v FROM nums WHERE v % 2 = 1;
SELECT k, COUNT(*) AS n FROM odd GROUP BY k;
