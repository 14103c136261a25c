-- shuffle-agg as SQL: 20M generated rows over 1M keys, summed and counted
-- per key through the shuffle service, the five largest sums kept.
--   faro sql -f examples/sql/shuffle_agg.sql
-- It plans onto the same job as examples/shuffle_agg.json (`key` is
-- quoted: KEY is a keyword).
CREATE TABLE numbers (`key` BIGINT, val BIGINT) WITH (
  'connector' = 'generate',
  'rows' = '20000000',
  'fields.key.expr' = 'i % 1000000',
  'fields.val.expr' = 'i'
);

SELECT `key`, SUM(val) AS total, COUNT(*) AS n
FROM numbers
GROUP BY `key`
ORDER BY total DESC
LIMIT 5;
