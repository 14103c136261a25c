-- modes: batch streaming
-- Aggregates over a frame of rows: each row with the average, count and
-- largest of its value and the two before it in its key's order.
-- Streaming, a changelog whose final rows equal the batch result.
CREATE TABLE nums (k BIGINT, t BIGINT, v BIGINT)
WITH ('connector' = 'generate', 'rows' = '15', 'fields.k.expr' = 'i % 3',
      'fields.t.expr' = '(i * 7) % 15', 'fields.v.expr' = '(i * 37) % 101');
SELECT k, t, v,
  AVG(v) OVER (PARTITION BY k ORDER BY t ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS avg3,
  COUNT(*) OVER (PARTITION BY k ORDER BY t ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS n,
  MAX(v) OVER (PARTITION BY k ORDER BY t ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS top
FROM nums;
