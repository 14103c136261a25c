-- Q7, highest bid: the bids at the highest price of each 10-second
-- window.
CREATE TABLE nexmark_q7 (auction BIGINT, price BIGINT, bidder BIGINT,
  date_time TIMESTAMP(3), extra STRING) WITH ('connector' = 'blackhole');
INSERT INTO nexmark_q7
SELECT b.auction, b.price, b.bidder, b.date_time, b.extra
FROM bid AS b
JOIN (
  SELECT MAX(price) AS maxprice, window_end AS date_time
  FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
  GROUP BY window_start, window_end
) AS b1
ON b.price = b1.maxprice
WHERE b.date_time BETWEEN b1.date_time - INTERVAL '10' SECOND AND b1.date_time;
