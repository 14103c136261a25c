-- Nexmark bids per 2-second tumbling window and main channel.
CREATE TABLE bid (auction BIGINT, price BIGINT, channel STRING, date_time TIMESTAMP(3),
  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
WITH ('connector' = 'nexmark', 'events' = '20000', 'rate' = '2000');
SELECT window_start, window_end, channel, COUNT(*) AS bids, MAX(price) AS top
FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND))
WHERE channel NOT LIKE 'channel-%'
GROUP BY window_start, window_end, channel;
