-- An interval join in streaming mode (a hash join and a filter in batch):
-- bids within two seconds of their auction's creation, per category.
CREATE TABLE auction (id BIGINT, category BIGINT, date_time TIMESTAMP(3),
  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
WITH ('connector' = 'nexmark', 'events' = '20000', 'rate' = '2000');
CREATE TABLE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
WITH ('connector' = 'nexmark', 'events' = '20000', 'rate' = '2000');
SELECT a.category, COUNT(*) AS early_bids, MAX(b.price) AS top
FROM auction AS a JOIN bid AS b
  ON a.id = b.auction
 AND b.date_time BETWEEN a.date_time AND a.date_time + INTERVAL '2' SECOND
GROUP BY a.category;
