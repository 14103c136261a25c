-- Streaming deduplication (the first bid of each bidder): a top_n of one
-- row per partition, fed by a hash edge on the partition, without a rank
-- column (the query does not read it); checkpointable.
SET 'execution.runtime-mode' = 'streaming';
SET 'execution.checkpointing.interval' = '10 s';
SET 'parallelism.default' = '2';
CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3),
  WATERMARK FOR date_time AS date_time - INTERVAL '5' SECOND)
WITH ('connector' = 'nexmark');
EXPLAIN SELECT bidder, auction, price FROM (
  SELECT bidder, auction, price,
         ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY date_time) AS rn
  FROM bid)
WHERE rn = 1;
