-- Batch: the filter runs in the source's task; the aggregate is split,
-- partial before the blocking shuffle.
CREATE TABLE bid (auction BIGINT, price BIGINT)
WITH ('connector' = 'nexmark', 'events' = '1000000');
EXPLAIN SELECT auction, COUNT(*) AS n FROM bid WHERE price > 1000 GROUP BY auction;
