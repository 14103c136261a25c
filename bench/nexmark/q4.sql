-- Q4, average price per category: the winning (highest) bid of each
-- auction made while it was open, averaged per category (a join, a
-- continuous MAX, and an AVG over its changelog).
CREATE TABLE nexmark_q4 (id BIGINT, final DOUBLE) WITH ('connector' = 'blackhole');
INSERT INTO nexmark_q4
SELECT q.category, AVG(q.final)
FROM (
  SELECT MAX(b.price) AS final, a.category
  FROM auction AS a JOIN bid AS b ON a.id = b.auction
  WHERE b.date_time BETWEEN a.date_time AND a.expires
  GROUP BY a.id, a.category
) AS q
GROUP BY q.category;
