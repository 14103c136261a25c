-- modes: batch streaming
-- A top-N per key: each key's two largest values, numbered. Streaming,
-- a changelog (rows move down a rank as better ones come) whose final
-- rows equal the batch result.
CREATE TABLE nums (k BIGINT, v BIGINT)
WITH ('connector' = 'generate', 'rows' = '200', 'fields.k.expr' = 'i % 5', 'fields.v.expr' = '(i * 37) % 101');
SELECT k, v, rn FROM (
  SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM nums)
WHERE rn <= 2;
