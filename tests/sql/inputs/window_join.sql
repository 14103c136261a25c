-- A left window join: each auction with the big bids on it in the same
-- 2-second window (or none), counted per window and category.
CREATE TABLE auction (id BIGINT, category BIGINT, date_time TIMESTAMP(3),
  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
WITH ('connector' = 'nexmark', 'events' = '20000', 'rate' = '2000');
CREATE TABLE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
WITH ('connector' = 'nexmark', 'events' = '20000', 'rate' = '2000');
SELECT window_start, category, COUNT(*) AS pairs, COUNT(price) AS with_bid
FROM (SELECT * FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(date_time), INTERVAL '2' SECOND))) A
LEFT JOIN (SELECT * FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND)) WHERE price > 1000000) B
  ON A.id = B.auction AND A.window_start = B.window_start AND A.window_end = B.window_end
GROUP BY window_start, category;
