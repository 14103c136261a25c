-- Nexmark's "hot items": the three auctions with most bids in each
-- 10-second window of event time, in streaming mode (rows print as each
-- window closes; Ctrl-C stops). Set the mode to 'batch' for the same
-- rows at once.
--   faro sql -f examples/sql/hottest_auctions.sql
SET 'execution.runtime-mode' = 'streaming';

CREATE TABLE bid (
  auction BIGINT,
  bidder BIGINT,
  price BIGINT,
  date_time TIMESTAMP(3),
  WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH ('connector' = 'nexmark', 'events' = '1000000', 'rate' = '10000');

CREATE VIEW bids_per_window AS
SELECT window_start, window_end, auction, COUNT(*) AS bids, MAX(price) AS top_price
FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, auction;

SELECT window_start, auction, bids, top_price, rank FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY bids DESC, auction) AS rank
  FROM bids_per_window)
WHERE rank <= 3;
