-- Cumulating windows growing by 5 s up to 20 s, with named arguments.
CREATE TABLE events (k BIGINT, v BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'generate', 'rows' = '60', 'fields.k.expr' = 'i % 2', 'fields.v.expr' = 'i',
      'fields.ts.expr' = 'CAST(i * 500 + (i / 20) * 10000 AS TIMESTAMP)');
SELECT window_start, window_end, COUNT(*) AS n
FROM TABLE(CUMULATE(DATA => TABLE events, TIMECOL => DESCRIPTOR(ts), STEP => INTERVAL '5' SECOND, SIZE => INTERVAL '20' SECOND))
GROUP BY window_start, window_end;
