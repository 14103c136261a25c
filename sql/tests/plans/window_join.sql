-- Two windowed tables joined on their windows: one window_join.
SET 'execution.runtime-mode' = 'streaming';
CREATE TABLE person (id BIGINT, name STRING, date_time TIMESTAMP(3),
  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
WITH ('connector' = 'nexmark');
CREATE TABLE auction (seller BIGINT, date_time TIMESTAMP(3),
  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
WITH ('connector' = 'nexmark');
EXPLAIN SELECT P.window_start, P.id, P.name, A.seller
FROM (SELECT * FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR(date_time), INTERVAL '10' SECOND))) P
FULL JOIN (SELECT * FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(date_time), INTERVAL '10' SECOND))) A
ON P.id = A.seller AND P.window_start = A.window_start AND P.window_end = A.window_end;
