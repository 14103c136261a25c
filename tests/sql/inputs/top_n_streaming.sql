-- ORDER BY … LIMIT in both modes: streaming keeps a continuous top-N
-- (its changelog applied gives the final five).
CREATE TABLE nums (k BIGINT, v BIGINT)
WITH ('connector' = 'generate', 'rows' = '300', 'fields.k.expr' = 'i % 50', 'fields.v.expr' = '(i * 7919) % 1000');
SELECT k, v FROM nums WHERE k < 40 ORDER BY v DESC, k LIMIT 5;
