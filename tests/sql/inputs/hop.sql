-- Hopping windows of 10 s every 5 s.
CREATE TABLE events (k BIGINT, v BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'generate', 'rows' = '60', 'fields.k.expr' = 'i % 2', 'fields.v.expr' = 'i',
      'fields.ts.expr' = 'CAST(i * 500 + (i / 20) * 10000 AS TIMESTAMP)');
SELECT window_start, window_end, k, COUNT(*) AS n, SUM(v) AS total
FROM TABLE(HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))
GROUP BY window_start, window_end, k;
