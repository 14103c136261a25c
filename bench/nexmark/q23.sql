-- Q23, a multi-way join: each bid with its bidder (a person) and the
-- auctions that bidder sells.
CREATE TABLE nexmark_q23 (bidder BIGINT, price BIGINT, channel STRING, url STRING,
  bid_extra STRING, person_id BIGINT, name STRING, email_address STRING, credit_card STRING,
  city STRING, state STRING, person_extra STRING, item_name STRING, description STRING,
  initial_bid BIGINT, reserve BIGINT, auction_date_time TIMESTAMP(3), expires TIMESTAMP(3),
  seller BIGINT, category BIGINT, auction_extra STRING) WITH ('connector' = 'blackhole');
INSERT INTO nexmark_q23
SELECT b.bidder, b.price, b.channel, b.url, b.extra AS bid_extra,
  p.id AS person_id, p.name, p.email_address, p.credit_card, p.city, p.state,
  p.extra AS person_extra, a.item_name, a.description, a.initial_bid, a.reserve,
  a.date_time AS auction_date_time, a.expires, a.seller, a.category, a.extra AS auction_extra
FROM bid AS b
JOIN person AS p ON p.id = b.bidder
JOIN auction AS a ON a.seller = b.bidder;
