-- Q6, average selling price by seller: the average of each seller's last
-- ten winning bids (an OVER window over the changelog of the winners,
-- which Flink cannot run).
CREATE TABLE nexmark_q6 (seller BIGINT, avg_price DOUBLE) WITH ('connector' = 'blackhole');
INSERT INTO nexmark_q6
SELECT q.seller,
  AVG(q.price) OVER (PARTITION BY q.seller ORDER BY q.date_time
                     ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)
FROM (
  SELECT id, seller, price, date_time FROM (
    SELECT a.id, a.seller, b.price, b.date_time,
      ROW_NUMBER() OVER (PARTITION BY a.id, a.seller ORDER BY b.price DESC) AS rownum
    FROM auction AS a JOIN bid AS b ON a.id = b.auction
    WHERE b.date_time BETWEEN a.date_time AND a.expires)
  WHERE rownum <= 1
) AS q;
