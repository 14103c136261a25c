-- Q13, bounded side input join: each bid with the value a side table (a
-- CSV file of 10,000 keys, ${SIDE_INPUT}) holds for its auction.
CREATE TABLE side_input (`key` BIGINT, `value` STRING)
WITH ('connector' = 'files', 'path' = '${SIDE_INPUT}', 'format' = 'csv');
CREATE TABLE nexmark_q13 (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3),
  `value` STRING) WITH ('connector' = 'blackhole');
INSERT INTO nexmark_q13
SELECT b.auction, b.bidder, b.price, b.date_time, s.`value`
FROM bid AS b JOIN side_input AS s ON MOD(b.auction, 10000) = s.`key`;
