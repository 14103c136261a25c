-- Date/time extraction, DATE_FORMAT, timestamp arithmetic, string functions.
CREATE TABLE events (id BIGINT, ts TIMESTAMP(3), name STRING)
WITH ('connector' = 'generate', 'rows' = '6',
      'fields.id.expr' = 'i',
      'fields.ts.expr' = 'CAST(1796029507042 + i * 40000000000 AS TIMESTAMP)',
      'fields.name.expr' = 'concat(''  item-'', i, ''-Of-Six '')');
SELECT id,
       EXTRACT(YEAR FROM ts) AS y, MONTH(ts) AS m, DAYOFWEEK(ts) AS dow, HOUR(ts) AS h,
       DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm') AS day_time,
       DATE_FORMAT(ts + INTERVAL '1' DAY, 'EEE dd') AS next_day,
       initcap(trim(name)) AS title, upper(split_index(trim(name), '-', 1)) AS part,
       lpad(CAST(id AS VARCHAR), 3, '0') AS padded, POSITION('Of' IN name) AS at,
       replace(rtrim(name), '-', '_') AS snake, reverse(left(trim(name), 4)) AS back
FROM events;
