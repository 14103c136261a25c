-- Joins with qualified names: every bid of the first auctions with its
-- auction's seller and category (both tables have "id"-like columns and
-- a date_time; a.date_time and b.date_time stay apart).
--   faro sql -f examples/sql/joins.sql
CREATE TABLE auction (id BIGINT, seller BIGINT, category BIGINT, date_time TIMESTAMP(3))
WITH ('connector' = 'nexmark', 'events' = '100000');
CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3))
WITH ('connector' = 'nexmark', 'events' = '100000');

EXPLAIN
SELECT a.category, COUNT(*) AS bids, MAX(b.price) AS top, MIN(b.date_time) AS first_bid
FROM bid AS b JOIN auction AS a ON b.auction = a.id
WHERE a.date_time <= b.date_time
GROUP BY a.category;

SELECT a.category, COUNT(*) AS bids, MAX(b.price) AS top, MIN(b.date_time) AS first_bid
FROM bid AS b JOIN auction AS a ON b.auction = a.id
WHERE a.date_time <= b.date_time
GROUP BY a.category;
