-- Q14, calculation: converted prices in a range, the time of day, and
-- how many times 'c' occurs in the extra field (the suite's count_char
-- UDF, written as an expression).
CREATE TABLE nexmark_q14 (auction BIGINT, bidder BIGINT, price DOUBLE, bid_time_type STRING,
  date_time TIMESTAMP(3), extra STRING, c_counts BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO nexmark_q14
SELECT auction, bidder, 0.908 * price AS price,
  CASE
    WHEN HOUR(date_time) >= 8 AND HOUR(date_time) <= 18 THEN 'dayTime'
    WHEN HOUR(date_time) <= 6 OR HOUR(date_time) >= 20 THEN 'nightTime'
    ELSE 'otherTime'
  END AS bid_time_type,
  date_time, extra,
  CHAR_LENGTH(extra) - CHAR_LENGTH(REPLACE(extra, 'c', '')) AS c_counts
FROM bid
WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;
