-- modes: batch streaming
-- Deduplication, Flink's way: the first row of each key by event time
-- (rn = 1, the number not selected, ordered by a column not selected).
CREATE TABLE events (id BIGINT, device BIGINT, reading BIGINT, at TIMESTAMP)
WITH ('connector' = 'generate', 'rows' = '500',
      'fields.id.expr' = 'i',
      'fields.device.expr' = '(i * 7) % 23',
      'fields.reading.expr' = '(i * 7919) % 1000',
      'fields.at.expr' = 'CAST(1700000000000 + ((i * 3301) % 500) * 1000 AS TIMESTAMP)');
SELECT device, reading FROM (
  SELECT device, reading, ROW_NUMBER() OVER (PARTITION BY device ORDER BY at) AS rn FROM events)
WHERE rn = 1;
