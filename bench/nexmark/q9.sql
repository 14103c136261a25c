-- Q9, winning bids: each auction with its highest bid made while it was
-- open (the earliest such bid on a tie).
CREATE TABLE nexmark_q9 (id BIGINT, item_name STRING, description STRING, initial_bid BIGINT,
  reserve BIGINT, date_time TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT,
  extra STRING, auction BIGINT, bidder BIGINT, price BIGINT, bid_date_time TIMESTAMP(3),
  bid_extra STRING) WITH ('connector' = 'blackhole');
INSERT INTO nexmark_q9
SELECT id, item_name, description, initial_bid, reserve, date_time, expires, seller, category,
  extra, auction, bidder, price, bid_date_time, bid_extra
FROM (
  SELECT a.id, a.item_name, a.description, a.initial_bid, a.reserve, a.date_time, a.expires,
    a.seller, a.category, a.extra, b.auction, b.bidder, b.price,
    b.date_time AS bid_date_time, b.extra AS bid_extra,
    ROW_NUMBER() OVER (PARTITION BY a.id ORDER BY b.price DESC, b.date_time ASC) AS rownum
  FROM auction AS a JOIN bid AS b ON a.id = b.auction
  WHERE b.date_time BETWEEN a.date_time AND a.expires
)
WHERE rownum <= 1;
