-- Streaming: every edge pipelined, the window fed by a hash edge,
-- checkpoints as SET asks.
SET 'execution.runtime-mode' = 'streaming';
SET 'execution.checkpointing.interval' = '10 s';
SET 'parallelism.default' = '4';
CREATE TABLE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
  WATERMARK FOR date_time AS date_time - INTERVAL '5' SECOND)
WITH ('connector' = 'nexmark');
EXPLAIN SELECT window_start, window_end, auction, MAX(price) AS top
FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
GROUP BY window_start, window_end, auction;
