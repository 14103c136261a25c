-- modes: batch
-- ordered
-- ORDER BY … LIMIT: a top-N in two phases.
CREATE TABLE nums (k BIGINT, v BIGINT)
WITH ('connector' = 'generate', 'rows' = '200', 'fields.k.expr' = 'i % 5', 'fields.v.expr' = 'i');
SELECT v, k FROM nums WHERE k <> 0 ORDER BY k DESC, v ASC LIMIT 7;
