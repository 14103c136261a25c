-- Q1, currency conversion: each bid's price in euros.
CREATE TABLE nexmark_q1 (auction BIGINT, bidder BIGINT, price DOUBLE,
  date_time TIMESTAMP(3), extra STRING) WITH ('connector' = 'blackhole');
INSERT INTO nexmark_q1
SELECT auction, bidder, 0.908 * price AS price, date_time, extra FROM bid;
