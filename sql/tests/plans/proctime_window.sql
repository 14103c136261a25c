-- A processing-time window: PROCTIME() in a view makes a wall-clock
-- attribute, and a window over it fires by the wall clock (no watermark
-- needed, none declared).
SET 'execution.runtime-mode' = 'streaming';
CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3))
WITH ('connector' = 'nexmark');
CREATE VIEW b AS SELECT *, PROCTIME() AS p_time FROM bid;
EXPLAIN SELECT bidder, COUNT(*) AS bids, window_start, window_end
FROM TABLE(TUMBLE(TABLE b, DESCRIPTOR(p_time), INTERVAL '10' SECOND))
GROUP BY bidder, window_start, window_end;
