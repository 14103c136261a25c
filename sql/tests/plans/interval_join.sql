-- Streaming: time bounds between the two sides make an interval join.
SET 'execution.runtime-mode' = 'streaming';
CREATE TABLE auction (id BIGINT, seller BIGINT, date_time TIMESTAMP(3),
  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
WITH ('connector' = 'nexmark');
CREATE TABLE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
WITH ('connector' = 'nexmark');
EXPLAIN SELECT a.seller, b.price FROM auction a JOIN bid b
  ON a.id = b.auction AND b.date_time >= a.date_time AND b.date_time < a.date_time + INTERVAL '1' MINUTE
  AND b.price > 100;
